"""The PrometheusRule for the directive's storage failure conditions."""

from __future__ import annotations

from components import promql
from components.config.storage import StorageConfig
from components.storage import flux_metrics

RULE_NAME = "k3s-home-storage-failure-conditions"


def _robustness(old_value: int, state: str) -> str:
    """Longhorn < 1.11 publishes one series per volume valued 0 unknown, 1 healthy, 2 degraded, 3 faulted;
    1.11+ one series per state with a `state` label, valued 1 for the current one (longhorn-manager
    metrics_collector/volume_collector.go). Match both, per volume."""
    return (
        "max by (volume, pvc, pvc_namespace) ("
        f'longhorn_volume_robustness{{state=""}} == {old_value} or '
        f"longhorn_volume_robustness{{state={promql.string(state)}}} == 1)"
    )


def prometheus_rule(storage: StorageConfig) -> dict:
    """The directive's failure conditions that storage can cause or hide, as alerts."""
    a = storage.alerts
    rules: list[dict] = [
        {
            "alert": "LonghornVolumeDegraded",
            "expr": _robustness(2, "degraded"),
            "for": "10m",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Longhorn volume {{ $labels.volume }} is degraded (missing replicas)"},
        },
        {
            "alert": "LonghornVolumeFaulted",
            "expr": _robustness(3, "faulted"),
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
        # Only with a kube-prometheus-stack release of ours: its values publish gotk_resource_info.
        kind = flux_metrics.KIND_LABEL
        pods = promql.string("|".join(f"(?:{t.pods})" for _, t in storage.monitoring.items()))
        ns = promql.string(a.namespace)
        rules = [
            {
                "alert": "FluxReconciliationFailing",
                "expr": f"max by ({kind}, exported_namespace, name) "
                f'({flux_metrics.METRIC}{{ready="False"}}) == 1',
                "for": a.flux_failing_for,
                "labels": {"severity": "critical", "directive": "failure-condition"},
                "annotations": {
                    "summary": f"Flux {{{{ $labels.{kind} }}}} "
                    "{{ $labels.exported_namespace }}/{{ $labels.name }} has failed to reconcile for more "
                    f"than {a.flux_failing_for}",
                    "runbook": "docs/runbooks/monitoring-storage-migration.md",
                },
            },
            *rules,
            {
                "alert": "MonitoringWithoutPersistentStorage",
                "expr": f"count by (namespace, pod) (kube_pod_info{{namespace={ns}, pod=~{pods}}}) "
                "unless on (namespace, pod) "
                f"kube_pod_spec_volumes_persistentvolumeclaims_info{{namespace={ns}}}",
                "for": "15m",
                "labels": {"severity": "critical", "directive": "failure-condition"},
                "annotations": {
                    "summary": "{{ $labels.pod }} runs without a PersistentVolumeClaim: "
                    "its data dies with the pod"
                },
            },
            {
                "alert": "MonitoringStorageNotApproved",
                "expr": f"kube_persistentvolumeclaim_info{{namespace={ns}, "
                f"storageclass!~{promql.string(promql.any_of(storage.approved))}}}",
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
