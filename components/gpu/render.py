"""Every GPU object in dependency order, and the summary the stack exports."""

from __future__ import annotations

from typing import Any

from components.config import StackConfig
from components.config.gpu import GpuConfig, advisories
from components.gpu.admission import admission_policy
from components.gpu.alerts import prometheus_rule
from components.gpu.dashboard import dashboard_config_map
from components.gpu.enforcement import Enforcement
from components.gpu.monitoring import dcgm_helm_release, service_monitor
from components.gpu.priority import priority_classes
from components.gpu.quotas import resource_quotas
from components.gpu.timeslicing import time_slicing_config_map


def render(gpu: GpuConfig, actions: tuple[str, ...] = ("Deny",)) -> list[dict]:
    """Every object the component manages, in dependency order; `actions`: the admission binding's
    validationActions (components.gpu.enforcement.decide)."""
    cm = time_slicing_config_map(gpu)
    return [
        *priority_classes(gpu),
        *resource_quotas(gpu),
        *admission_policy(gpu, actions),
        *([cm] if cm else []),
        dcgm_helm_release(gpu),
        service_monitor(gpu),
        prometheus_rule(gpu),
        dashboard_config_map(gpu),
    ]


def admission_in_force(objects: list[dict], enforcement: Enforcement) -> dict[str, Any]:
    """What the rendered binding enforces (read from the object itself, not from the wish) and why."""
    binding = next(o for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding")
    return {
        "policy": binding["spec"]["policyName"],
        "validationActions": list(binding["spec"]["validationActions"]),
        "why": enforcement.why,
        "wouldRefuse": [f"{r.workload} ({r.where}): {r.reason}" for r in enforcement.refused],
        "targetRead": enforcement.unreadable is None,
    }


def summary(config: StackConfig, admission: dict[str, Any] | None = None) -> dict[str, Any]:
    gpu = config.gpu
    return {
        "pools": [
            {
                "resource": v.pool,
                "capacity": v.capacity,
                "committed": v.committed,
                "free": v.free,
                "detail": v.detail,
                "maxPerContainer": gpu.pool(v.pool).max_per_container,
                "proof": v.explain(),
            }
            for v in gpu.verdicts()
        ],
        "tenants": [
            {"namespace": t.namespace, "priorityClassName": t.priority_class_name, "quota": gpu.quota_hard(t)}
            for t in gpu.tenants
        ],
        "priorityClasses": {pc.name: pc.value for pc in gpu.priority_classes},
        "advisories": advisories(gpu, config.cluster),
        **({"admission": admission} if admission is not None else {}),
    }
