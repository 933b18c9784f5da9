"""The GPU PrometheusRule: saturation, framebuffer, XID errors, exhausted quotas, pending pods."""

from __future__ import annotations

from components.config.gpu import GpuConfig
from components.gpu.meta import meta
from components.gpu.promql import pod_regex, quota_regex

XID_WINDOW = "15m"


def prometheus_rule(gpu: GpuConfig) -> dict:
    mon = gpu.monitoring
    quota = quota_regex(gpu)
    alerts = [
        {
            "alert": "GpuUtilizationSaturated",
            "expr": "avg by (Hostname, gpu) (avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m])) "
            f"> {mon.utilization_percent}",
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is saturated",
                "description": f"Utilisation above {mon.utilization_percent}% for 15m; time-sliced tenants "
                "slow each other down (DCGM cannot attribute usage per slice).",
            },
        },
        {
            "alert": "GpuFramebufferHigh",
            "expr": "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) "
            f"> {mon.framebuffer_percent}",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} framebuffer above "
                f"{mon.framebuffer_percent}%",
                "description": "Time slices share the framebuffer; the next allocation "
                "on this GPU may fail (OOM).",
            },
        },
        {
            "alert": "GpuXidError",
            # The gauge holds the last XID code for ever (dcgm-exporter default-counters.csv: "Value of the
            # last XID error encountered"): alert while it changed recently, with the code as the value.
            "expr": "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS) > 0 and "
            f"max by (Hostname, gpu) (changes(DCGM_FI_DEV_XID_ERRORS[{XID_WINDOW}])) > 0",
            "for": "0m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "XID error {{ $value }} on GPU {{ $labels.gpu }} ({{ $labels.Hostname }})",
                "description": f"The driver reported a new XID error in the last {XID_WINDOW}; check dmesg "
                "on the node. DCGM keeps only the last code, so the alert clears "
                f"{XID_WINDOW} after it changed.",
            },
        },
        {
            "alert": "GpuQuotaExhausted",
            "expr": f'kube_resourcequota{{type="used", resource=~{quota}}} / ignoring(type) '
            f'(kube_resourcequota{{type="hard", resource=~{quota}}} > 0) >= 1',
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.namespace }} uses all of its {{ $labels.resource }} quota",
                "description": "New GPU pods in this namespace are refused until one ends; "
                "raise the tenant's max in k3s-home:gpu.tenants (the capacity proof checks the pool).",
            },
        },
        {
            "alert": "GpuPodPending",
            "expr": 'max by (namespace, pod) (kube_pod_status_phase{phase="Pending"} == 1) '
            "* on (namespace, pod) group_left() "
            "max by (namespace, pod) "
            f"(kube_pod_container_resource_requests{{resource=~{pod_regex(gpu)}}} > 0)",
            "for": mon.pending_for,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.namespace }}/{{ $labels.pod }} waits for a GPU",
                "description": f"Pending for more than {mon.pending_for} while requesting a GPU resource.",
            },
        },
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": meta("gpu-alerts", mon.namespace, mon.prometheus_labels),
        "spec": {"groups": [{"name": "gpu", "rules": alerts}]},
    }
