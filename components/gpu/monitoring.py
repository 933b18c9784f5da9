"""DCGM exporter: its Flux HelmRelease and the ServiceMonitor kube-prometheus-stack selects."""

from __future__ import annotations

from components.config.gpu import GpuConfig
from components.deep_merge import deep_merge
from components.gpu.meta import meta


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
            "chart": {
                "spec": {
                    "chart": dcgm.chart,
                    "version": dcgm.version,
                    "sourceRef": {
                        "kind": dcgm.source.kind,
                        "name": dcgm.source.name,
                        "namespace": dcgm.source.namespace,
                    },
                }
            },
            "install": {"remediation": {"retries": 3}},
            "upgrade": {"remediation": {"retries": 3}},
            "values": deep_merge(values, dcgm.values),
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
