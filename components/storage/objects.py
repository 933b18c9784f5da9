"""The StorageClass and the storage values of the monitoring HelmReleases (kube-prometheus-stack, loki)."""

from __future__ import annotations

from typing import Any

from components.config.storage import HelmReleaseSpec, StorageConfig
from components.deep_merge import deep_merge
from components.flux import chart_source
from components.storage import flux_metrics
from components.storage.phases import effective_class


def storage_class(storage: StorageConfig) -> dict:
    sc = storage.storage_class
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": sc.name, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
        "provisioner": sc.provisioner,
        "parameters": {
            "numberOfReplicas": str(sc.number_of_replicas),
            "staleReplicaTimeout": str(sc.stale_replica_timeout),
            "dataLocality": sc.data_locality,
            "fsType": sc.fs_type,
        },
        "reclaimPolicy": sc.reclaim_policy,
        "allowVolumeExpansion": sc.allow_volume_expansion,
        "volumeBindingMode": sc.volume_binding_mode,
    }


def _vct(cls: str, size: str) -> dict:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": cls,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}},
            }
        }
    }


def storage_values(storage: StorageConfig) -> dict[str, dict]:
    """Our values per HelmRelease ref (namespace/name): the monitoring targets' storage, and on the
    kube-prometheus-stack release (the prometheus target's) the Flux state metrics the alerts read."""
    out: dict[str, dict] = {}
    if storage.monitoring is None:
        return out
    out[storage.monitoring.prometheus.release] = {
        "kube-state-metrics": flux_metrics.kube_state_metrics_values()
    }
    for key, target in storage.monitoring.items():
        cls, size = effective_class(storage, key)
        if key == "prometheus":
            values = {"prometheus": {"prometheusSpec": {"storageSpec": _vct(cls, size)}}}
        elif key == "alertmanager":
            values = {"alertmanager": {"alertmanagerSpec": {"storage": _vct(cls, size)}}}
        elif key == "grafana":
            values = {
                "grafana": {
                    "persistence": {
                        "enabled": True,
                        "type": "pvc",
                        "storageClassName": cls,
                        "size": size,
                        "accessModes": ["ReadWriteOnce"],
                    }
                }
            }
        else:  # loki, single-binary mode
            values = {"singleBinary": {"persistence": {"enabled": True, "storageClass": cls, "size": size}}}
        out[target.release] = deep_merge(out.get(target.release, {}), values)
    return out


def helm_release(storage: StorageConfig, release: HelmReleaseSpec) -> dict:
    """The full HelmRelease: the Flux repo's values under our storage values. No `spec.suspend` and no
    replicas: a migration suspends the release and scales its owners with patches of its own
    (components/storage/patches.py), which this object must not contend with."""
    values = deep_merge(release.values, storage_values(storage).get(release.ref, {}))
    meta: dict[str, Any] = {"name": release.name, "namespace": release.namespace}
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": meta,
        "spec": {
            "interval": release.interval,
            **chart_source(
                release.chart,
                release.version,
                release.source.kind,
                release.source.name,
                release.source.namespace,
            ),
            "values": values,
        },
    }
