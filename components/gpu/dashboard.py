"""The Grafana "GPU allocation" dashboard and the ConfigMap the Grafana sidecar picks up."""

from __future__ import annotations

import json

from components.config.gpu import GpuConfig
from components.gpu.meta import DASHBOARD_LABEL, meta
from components.gpu.promql import pod_regex, quota_regex


def _panel(pid: int, title: str, kind: str, exprs: list[tuple[str, str]], x: int, y: int) -> dict:
    return {
        "id": pid,
        "title": title,
        "type": kind,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard(gpu: GpuConfig) -> dict:
    quota = quota_regex(gpu)
    pods = pod_regex(gpu)
    panels = [
        _panel(
            1,
            "GPU slices allocated per namespace",
            "timeseries",
            [
                (
                    f'sum by (namespace, resource) (kube_resourcequota{{type="used", resource=~{quota}}})',
                    "{{namespace}} {{resource}}",
                )
            ],
            0,
            0,
        ),
        _panel(
            2,
            "GPU quota used per namespace",
            "bargauge",
            [
                (
                    f'kube_resourcequota{{type="used", resource=~{quota}}} / ignoring(type) '
                    f'(kube_resourcequota{{type="hard", resource=~{quota}}} > 0)',
                    "{{namespace}} {{resource}}",
                )
            ],
            12,
            0,
        ),
        _panel(
            3,
            "GPU requests by running or pending pods per namespace",
            "timeseries",
            [
                (
                    "sum by (namespace, resource) "
                    f"(kube_pod_container_resource_requests{{resource=~{pods}}} "
                    "* on (namespace, pod) group_left() "
                    'max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1))',
                    "{{namespace}} {{resource}}",
                )
            ],
            0,
            8,
        ),
        _panel(
            4,
            "GPU utilisation and framebuffer",
            "timeseries",
            [
                ("DCGM_FI_DEV_GPU_UTIL", "util {{Hostname}} gpu{{gpu}}"),
                (
                    "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
                    "fb% {{Hostname}} gpu{{gpu}}",
                ),
            ],
            12,
            8,
        ),
    ]
    return {
        "uid": "k3s-home-gpu-allocation",
        "title": "GPU allocation",
        "tags": ["gpu", "k3s-home"],
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
            ]
        },
        "panels": panels,
    }


def dashboard_config_map(gpu: GpuConfig) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta("gpu-allocation-dashboard", gpu.monitoring.namespace, DASHBOARD_LABEL),
        "data": {"gpu-allocation.json": json.dumps(dashboard(gpu), indent=2, sort_keys=True)},
    }
