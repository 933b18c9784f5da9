"""Labels and metadata every GPU object carries."""

from __future__ import annotations

from typing import Any

DASHBOARD_LABEL = {"grafana_dashboard": "1"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-home-gpu"}


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}
    if namespace:
        out["namespace"] = namespace
    return out
