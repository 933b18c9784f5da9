"""Flux's reconcile state as metrics: kube-state-metrics custom resource state, in the kube-prometheus-stack
values (Flux >= 2.1 no longer exports gotk_reconcile_condition; fluxcd/flux2-monitoring-example,
monitoring/controllers/kube-prometheus-stack/kube-state-metrics-config.yaml).

The default collectors stay on: the example turns them off only because it runs a Flux-only Prometheus,
and the GPU and storage alerts read kube_resourcequota, kube_pod_* and kube_persistentvolumeclaim_*.
"""

from __future__ import annotations

PREFIX, NAME = "gotk", "resource_info"
METRIC = f"{PREFIX}_{NAME}"
# Labels the alert reads; kube-state-metrics adds customresource_{group,version,kind} itself.
KIND_LABEL = "customresource_kind"

# (group, version, kind, plural) of every Flux object whose Ready condition says it reconciled.
KINDS = [
    ("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", "kustomizations"),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
    ("source.toolkit.fluxcd.io", "v1", "GitRepository", "gitrepositories"),
    ("source.toolkit.fluxcd.io", "v1", "HelmRepository", "helmrepositories"),
    ("source.toolkit.fluxcd.io", "v1", "HelmChart", "helmcharts"),
    ("source.toolkit.fluxcd.io", "v1", "OCIRepository", "ocirepositories"),
    ("source.toolkit.fluxcd.io", "v1", "Bucket", "buckets"),
]


def _resource(group: str, version: str, kind: str) -> dict:
    return {
        "groupVersionKind": {"group": group, "version": version, "kind": kind},
        "metricNamePrefix": PREFIX,
        "metrics": [
            {
                "name": NAME,
                "help": f"The current state of a Flux {kind} resource.",
                "each": {"type": "Info", "info": {"labelsFromPath": {"name": ["metadata", "name"]}}},
                "labelsFromPath": {
                    "exported_namespace": ["metadata", "namespace"],
                    "ready": ["status", "conditions", "[type=Ready]", "status"],
                    "suspended": ["spec", "suspend"],
                },
            }
        ],
    }


def kube_state_metrics_values() -> dict:
    """The `kube-state-metrics` values of kube-prometheus-stack that publish gotk_resource_info."""
    groups = sorted({g for g, _, _, _ in KINDS})
    return {
        "rbac": {
            "extraRules": [
                {"apiGroups": groups, "resources": [p for _, _, _, p in KINDS], "verbs": ["list", "watch"]}
            ]
        },
        "customResourceState": {
            "enabled": True,
            "config": {"spec": {"resources": [_resource(g, v, k) for g, v, k, _ in KINDS]}},
        },
    }
