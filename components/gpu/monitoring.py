"""DCGM exporter: its Flux HelmRelease and the ServiceMonitor kube-prometheus-stack selects."""

from __future__ import annotations

import yaml

from components.config.gpu import GpuConfig
from components.deep_merge import deep_merge
from components.flux import chart_source
from components.gpu.meta import meta


def runtime_class_patch(runtime_class: str) -> dict:
    """A Flux post-renderer that runs the exporter's DaemonSet under the NVIDIA runtime.

    k3s registers an `nvidia` runtime (and RuntimeClass) but keeps runc as the default, under which the
    exporter sees no GPU. Chart 3.1.5, the pinned one, has no `runtimeClassName` value (it came in 3.2.0),
    so the rendered DaemonSet is patched instead; that works at every chart version.
    """
    patch = [{"op": "add", "path": "/spec/template/spec/runtimeClassName", "value": runtime_class}]
    return {"kustomize": {"patches": [{"target": {"kind": "DaemonSet"}, "patch": yaml.safe_dump(patch)}]}}


def dcgm_helm_release(gpu: GpuConfig) -> dict:
    mon, dcgm = gpu.monitoring, gpu.monitoring.dcgm_exporter
    nodes = sorted({n for p in gpu.pools if p.vendor == "nvidia" for n in p.nodes})
    values = {
        # Ours below carries the labels kube-prometheus-stack selects on.
        "serviceMonitor": {"enabled": False},
        "service": {"port": dcgm.port},
        # No GPU request: the exporter reads every device on the node and must not eat a tenant's slice.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}
                            ]
                        }
                    ]
                }
            }
        },
    }
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": meta(dcgm.release_name, mon.namespace),
        "spec": {
            "interval": dcgm.interval,
            **chart_source(
                dcgm.chart, dcgm.version, dcgm.source.kind, dcgm.source.name, dcgm.source.namespace
            ),
            "install": {"remediation": {"retries": 3}},
            "upgrade": {"remediation": {"retries": 3}},
            "values": deep_merge(values, dcgm.values),
            "postRenderers": [runtime_class_patch(dcgm.runtime_class_name)],
        },
    }


def service_monitor(gpu: GpuConfig) -> dict:
    mon, dcgm = gpu.monitoring, gpu.monitoring.dcgm_exporter
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": meta(dcgm.release_name, mon.namespace, mon.prometheus_labels),
        "spec": {
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "dcgm-exporter",
                    "app.kubernetes.io/instance": dcgm.release_name,
                }
            },
            "namespaceSelector": {"matchNames": [mon.namespace]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": "15s",
                    "relabelings": [
                        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                    ],
                }
            ],
        },
    }
