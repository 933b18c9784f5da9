"""The PrometheusRule for the directive's storage failure conditions."""

from __future__ import annotations

from components.config.storage import StorageConfig

RULE_NAME = "k3s-home-storage-failure-conditions"


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
