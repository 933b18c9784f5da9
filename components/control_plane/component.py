"""The HA control plane as a component: the cluster token, each node's k3s config and kube-vip.

The math and rendering live in the sibling modules (pure); this one only wires them to Pulumi.
Node configs carry the token, so they are secret outputs; `summary` never does.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.control_plane.budget import budgets
from components.control_plane.hardware import flags, usb_quorum_risk
from components.control_plane.kube_vip import kube_vip_manifests
from components.control_plane.node_configs import (
    TOKEN_PLACEHOLDER,
    api_url,
    config_changes,
    render_node_config,
)
from components.control_plane.options import compare, recommend
from components.control_plane.quorum import failure_tolerance, quorum
from components.generated_secret import generated_secret

# The DaemonSet would wait for ready pods; the test control plane has no nodes to run them on.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


class HaControlPlane(pulumi.ComponentResource):
    token: pulumi.Output[str]
    node_configs: dict[str, pulumi.Output[str]]
    config_previews: dict[str, str]
    kube_vip_manifests: list[dict[str, Any]]
    kube_vip_resources: list[pulumi.CustomResource]
    summary: dict[str, Any]

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k3s-home:index:HaControlPlane", name, None, opts)
        self._name = name
        cp = config.control_plane
        child = pulumi.ResourceOptions(parent=self)

        self.token = generated_secret(f"{name}-token", cp.token_length, config.secrets.generator, child)
        # Only nodes whose live config.yaml is captured get one: a config rendered without it would
        # replace the node's own keys (plan step 1 captures them).
        captured = [node for node in cp.nodes if node.live_config is not None]
        self.node_configs = {
            node.name: pulumi.Output.secret(
                self.token.apply(lambda token, node=node: render_node_config(node, cp, token))
            )
            for node in captured
        }
        # The same configs with a placeholder token: reviewable in preview.
        self.config_previews = {
            node.name: render_node_config(node, cp, TOKEN_PLACEHOLDER) for node in captured
        }
        self.kube_vip_manifests = kube_vip_manifests(cp)
        self.kube_vip_resources = self._register_kube_vip(child) if cp.target.kube_vip.deploy else []

        tolerance = failure_tolerance(len(cp.target.servers))
        best = recommend(compare(cp))
        self.summary = {
            "servers": list(cp.target.servers),
            "clusterInit": cp.target.servers[0],
            "apiUrl": api_url(cp),
            "vip": cp.target.vip,
            "dnsName": cp.target.dns_name,
            "quorum": quorum(len(cp.target.servers)),
            "failureTolerance": tolerance,
            "headroom": {
                b.node: {"cores": b.headroom[0], "memoryGiB": b.headroom[1], "server": b.server}
                for b in budgets(cp)
            },
            "flags": [{"node": f.node, "code": f.code, "severity": f.severity} for f in flags(cp)],
            "blockers": [f.message for f in flags(cp) if f.severity == "blocker"],
            "usbQuorumRisk": usb_quorum_risk(cp),
            "kubeVipDeployed": cp.target.kube_vip.deploy,
            "uncapturedNodes": [node.name for node in cp.nodes if node.live_config is None],
            "configChanges": {
                node.name: [{"key": k, "today": before, "written": after} for k, before, after in changes]
                for node in captured
                if (changes := config_changes(node, cp))
            },
            "applyOverSsh": cp.apply_over_ssh,
            "today": {
                "servers": cp.current_servers,
                "datastore": cp.current_datastore,
                "source": cp.today.servers_source,
            },
            # Cilium reaches the API at a fixed address; the plan moves it to the VIP (a Flux repo edit).
            "ciliumK8sServiceHost": {
                "today": cp.today.api_endpoint.rsplit(":", 1)[0],
                "target": cp.target.vip,
                "edit": cp.today.api_endpoint_source,
            },
            "options": [
                {"key": o.key, "servers": o.servers, "recommended": o.key == best.key} for o in compare(cp)
            ],
        }
        self.register_outputs(
            {
                "nodeConfigs": self.node_configs,
                "configPreviews": self.config_previews,
                "kubeVipManifests": self.kube_vip_manifests,
                "summary": self.summary,
            }
        )

    def _register_kube_vip(self, child: pulumi.ResourceOptions) -> list[pulumi.CustomResource]:
        by_kind = {m["kind"]: m for m in self.kube_vip_manifests}
        sa, role, binding, ds = (
            by_kind[k] for k in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet")
        )
        name = f"{self._name}-kube-vip"
        return [
            k8s.core.v1.ServiceAccount(name, metadata=sa["metadata"], opts=child),
            k8s.rbac.v1.ClusterRole(name, metadata=role["metadata"], rules=role["rules"], opts=child),
            k8s.rbac.v1.ClusterRoleBinding(
                name,
                metadata=binding["metadata"],
                role_ref=binding["roleRef"],
                subjects=binding["subjects"],
                opts=child,
            ),
            k8s.apps.v1.DaemonSet(
                name,
                metadata={**ds["metadata"], "annotations": SKIP_AWAIT},
                spec=ds["spec"],
                opts=child,
            ),
        ]
