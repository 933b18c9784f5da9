"""Monitoring storage on longhorn-replicated (directive Phase 1), moved without losing data.

The StorageClass, the storage values of the kube-prometheus-stack and loki HelmReleases, the alerts for
the directive's failure conditions, and one `VolumeMigration` per configured migration (Phase 5 pilot too).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.config.storage import HelmReleaseSpec, StorageConfig
from components.deep_merge import deep_merge
from components.migration import VolumeMigration, effective_class, release_patch

RULE_NAME = "k3s-home-storage-failure-conditions"


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
    """Storage values per HelmRelease ref (namespace/name), from the monitoring targets."""
    out: dict[str, dict] = {}
    if storage.monitoring is None:
        return out
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
    """The full HelmRelease: the Flux repo's values, our storage values, then the migration's phase patch."""
    patch, suspend = release_patch(storage, release.ref)
    values = deep_merge(deep_merge(release.values, storage_values(storage).get(release.ref, {})), patch)
    meta: dict[str, Any] = {"name": release.name, "namespace": release.namespace}
    m = storage.migration_of_release(release.ref)
    if m is not None and patch:
        # Ask Flux to reconcile now rather than at the next interval (value changes with each phase).
        meta["annotations"] = {"reconcile.fluxcd.io/requestedAt": f"{m.name}-{m.phase.value}"}
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": meta,
        "spec": {
            "interval": release.interval,
            "suspend": suspend,
            "chart": {
                "spec": {
                    "chart": release.chart,
                    "version": release.version,
                    "sourceRef": release.source.model_dump(by_alias=True),
                }
            },
            "values": values,
        },
    }


def prometheus_rule(storage: StorageConfig) -> dict:
    """The directive's failure conditions that storage can cause or hide, as alerts."""
    a = storage.alerts
    approved = "|".join(storage.approved)
    rules: list[dict] = [
        {
            "alert": "FluxReconciliationFailing",
            # Flux < 2.1: gotk_reconcile_condition; later: gotk_resource_info from kube-state-metrics.
            "expr": "max by (kind, exported_namespace, name) "
            '(gotk_reconcile_condition{type="Ready", status="False"}) == 1'
            " or max by (customresource_kind, exported_namespace, name) "
            '(gotk_resource_info{ready="False"}) == 1',
            "for": a.flux_failing_for,
            "labels": {"severity": "critical", "directive": "failure-condition"},
            "annotations": {
                "summary": "Flux {{ $labels.kind }}{{ $labels.customresource_kind }} "
                "{{ $labels.exported_namespace }}/{{ $labels.name }} has failed to reconcile for more than "
                + a.flux_failing_for,
                "runbook": "docs/runbooks/monitoring-storage-migration.md",
            },
        },
        {
            "alert": "LonghornVolumeDegraded",
            "expr": "longhorn_volume_robustness == 2",  # 0 unknown, 1 healthy, 2 degraded, 3 faulted
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Longhorn volume {{ $labels.volume }} is degraded (missing replicas)"},
        },
        {
            "alert": "LonghornVolumeFaulted",
            "expr": "longhorn_volume_robustness == 3",
            "for": "1m",
            "labels": {"severity": "critical", "directive": "failure-condition"},
            "annotations": {"summary": "Longhorn volume {{ $labels.volume }} is faulted: data is at risk"},
        },
        {
            "alert": "PersistentVolumeClaimLost",
            "expr": 'kube_persistentvolumeclaim_status_phase{phase="Lost"} == 1',
            "for": "1m",
            "labels": {"severity": "critical", "directive": "failure-condition"},
            "annotations": {
                "summary": "PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is Lost "
                "(its PV is gone)"
            },
        },
    ]
    if storage.monitoring is not None:
        pods = "|".join(f"(?:{t.pods})" for _, t in storage.monitoring.items())
        ns = a.namespace
        rules += [
            {
                "alert": "MonitoringWithoutPersistentStorage",
                "expr": f'count by (namespace, pod) (kube_pod_info{{namespace="{ns}", pod=~"{pods}"}}) '
                "unless on (namespace, pod) "
                f'kube_pod_spec_volumes_persistentvolumeclaims_info{{namespace="{ns}"}}',
                "for": "15m",
                "labels": {"severity": "critical", "directive": "failure-condition"},
                "annotations": {
                    "summary": "{{ $labels.pod }} runs without a PersistentVolumeClaim: "
                    "its data dies with the pod"
                },
            },
            {
                "alert": "MonitoringStorageNotApproved",
                "expr": f'kube_persistentvolumeclaim_info{{namespace="{ns}", storageclass!~"{approved}"}}',
                "for": "1h",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "PVC {{ $labels.persistentvolumeclaim }} is on {{ $labels.storageclass }}, "
                    f"not on {storage.storage_class.name} or an approved alternative"
                },
            },
        ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": RULE_NAME, "namespace": a.namespace, "labels": dict(a.labels)},
        "spec": {"groups": [{"name": "k3s-home-storage", "rules": rules}]},
    }


def summary(storage: StorageConfig, migrations: dict[str, VolumeMigration]) -> dict[str, Any]:
    return {
        "storageClass": storage.storage_class.name,
        "approvedClasses": storage.approved,
        "targets": {
            key: dict(zip(("storageClass", "size"), effective_class(storage, key), strict=True))
            for key, _ in (storage.monitoring.items() if storage.monitoring else [])
        },
        "migrations": {name: mig.summary for name, mig in migrations.items()},
        "timings": {name: mig.summary["timings"] for name, mig in migrations.items()},
    }


class MonitoringStorage(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-home:storage:MonitoringStorage", name, None, opts)
        storage, cluster = config.storage, config.cluster
        sc = storage_class(storage)
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=sc["metadata"],
            provisioner=sc["provisioner"],
            parameters=sc["parameters"],
            reclaim_policy=sc["reclaimPolicy"],
            allow_volume_expansion=sc["allowVolumeExpansion"],
            volume_binding_mode=sc["volumeBindingMode"],
            # Parameters are immutable: a change replaces the class; claims and volumes keep their data.
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                import_=cluster.adopt_id("StorageClass", sc["metadata"]["name"]),
            ),
        )
        self.migrations: dict[str, VolumeMigration] = {
            m.name: VolumeMigration(
                f"{name}-{m.name}",
                config,
                m,
                storage_class=self.storage_class,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for m in storage.migrations
        }
        self.releases: dict[str, k8s.apiextensions.CustomResource] = {}
        for release in storage.releases:
            obj = helm_release(storage, release)
            m = storage.migration_of_release(release.ref)
            gate = self.migrations[m.name].release_gate if m else []
            self.releases[release.ref] = k8s.apiextensions.CustomResource(
                f"{name}-helmrelease-{release.namespace}-{release.name}",
                api_version=obj["apiVersion"],
                kind=obj["kind"],
                metadata=obj["metadata"],
                spec=obj["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.storage_class, *gate],
                    import_=cluster.adopt_id("HelmRelease", release.name, release.namespace),
                ),
            )
        rule = prometheus_rule(storage)
        self.rule = k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule",
            api_version=rule["apiVersion"],
            kind=rule["kind"],
            metadata=rule["metadata"],
            spec=rule["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.summary = summary(storage, self.migrations)
        self.register_outputs({"summary": self.summary})
