"""kube-vip: the manifests that hold the API VIP on the control-plane nodes (ARP mode)."""

from __future__ import annotations

from typing import Any

import yaml

from components.config.control_plane import ControlPlaneConfig
from components.control_plane.node_configs import API_PORT

KUBE_VIP_NAME = "kube-vip"
KUBE_VIP_NAMESPACE = "kube-system"


def kube_vip_manifests(cfg: ControlPlaneConfig) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole, ClusterRoleBinding and the ARP-mode DaemonSet holding the API VIP
    on the control-plane nodes (layout of kube-vip's own `manifest daemonset --controlplane --arp`)."""
    kv = cfg.target.kube_vip
    labels = {"app.kubernetes.io/name": KUBE_VIP_NAME, "app.kubernetes.io/managed-by": "pulumi"}
    meta = {"name": KUBE_VIP_NAME, "namespace": KUBE_VIP_NAMESPACE, "labels": labels}
    env = {
        "vip_arp": "true",
        "port": str(API_PORT),
        # No vip_interface: kube-vip then binds to each server's default-route interface, which differs
        # between servers (k3s1 and k3s2 carry their address on USB NICs; docs/upstream-facts.md).
        "vip_cidr": "32",
        "cp_enable": "true",
        "cp_namespace": KUBE_VIP_NAMESPACE,
        "svc_enable": "false",  # Cilium owns LoadBalancer services (BGP); kube-vip only holds the API VIP
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "5",
        "vip_renewdeadline": "3",
        "vip_retryperiod": "1",
        "address": cfg.target.vip,
        "prometheus_server": ":2112",
        # The local API server, not the `kubernetes` Service: Cilium (kube-proxy replacement) serves that
        # Service and itself reaches the API through this VIP, so on a cold start each would wait for the
        # other. Every control-plane node runs an API server, and k3s puts 127.0.0.1 in its certificate.
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(API_PORT),
    }
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:kube-vip-role", "labels": labels},
        "rules": [
            {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
            {
                "apiGroups": [""],
                "resources": ["services", "endpoints"],
                "verbs": ["list", "get", "watch", "update"],
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get", "watch", "update", "patch"]},
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["list", "get", "watch", "update", "create"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "get", "watch", "update"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:kube-vip-binding", "labels": labels},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "system:kube-vip-role",
        },
        "subjects": [{"kind": "ServiceAccount", "name": KUBE_VIP_NAME, "namespace": KUBE_VIP_NAMESPACE}],
    }
    selector = {"app.kubernetes.io/name": KUBE_VIP_NAME}
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "node-role.kubernetes.io/control-plane",
                                                "operator": "Exists",
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "containers": [
                        {
                            "name": KUBE_VIP_NAME,
                            "image": f"{kv.image}:{kv.version}",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["manager"],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            # ARP and address changes need NET_ADMIN/NET_RAW, not a privileged container
                            # (directive: no privileged containers without CIO approval).
                            "securityContext": {
                                "privileged": False,
                                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            },
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                        }
                    ],
                    "hostNetwork": True,
                    "serviceAccountName": KUBE_VIP_NAME,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [
                        {"effect": "NoSchedule", "operator": "Exists"},
                        {"effect": "NoExecute", "operator": "Exists"},
                    ],
                },
            },
        },
    }
    return [service_account, role, binding, daemonset]


def render_kube_vip_yaml(cfg: ControlPlaneConfig) -> str:
    return yaml.safe_dump_all(kube_vip_manifests(cfg), sort_keys=False, width=200)
