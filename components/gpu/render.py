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


def object_ref(obj: dict) -> str:
    meta = obj["metadata"]
    return "/".join(x for x in (obj["kind"], meta.get("namespace"), meta["name"]) if x)


def flux_kept(config: StackConfig) -> list[str]:
    """The GPU objects the stack does not register (ADR 0029): those Flux keeps, and the ServiceMonitor
    `monitoring/dcgm-exporter` while Flux keeps the exporter's HelmRelease, whose chart then ships it
    (one owner: two objects of one name would fight)."""
    gpu = config.gpu
    kept = [r for r in (object_ref(o) for o in render(gpu)) if r in config.cluster.flux_keeps]
    mon, dcgm = gpu.monitoring, gpu.monitoring.dcgm_exporter
    if config.cluster.flux_keeps_ref("HelmRelease", dcgm.release_name, mon.namespace):
        kept.append(f"ServiceMonitor/{mon.namespace}/{dcgm.release_name}")
    return kept


def flux_kept_objects(config: StackConfig) -> list[dict]:
    """The objects Flux keeps as the stack asks Flux's file for them (the edit of flux/edits.py writes
    these values): the pack's stack rules judge them with the registered objects, so a pool's bound
    counts the slice quotas Flux applies (ADR 0029)."""
    kept = set(flux_kept(config))
    return [o for o in render(config.gpu) if object_ref(o) in kept]


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
