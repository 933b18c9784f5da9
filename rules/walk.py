"""Where rules look inside Kubernetes objects: pod specs of every workload kind, and HelmRelease values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None when any step is missing or not a mapping."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def pod_spec(obj: dict) -> tuple[str, dict] | None:
    """(dotted path, pod spec) of a workload object, or None for other kinds."""
    path = POD_SPEC_PATHS.get(obj.get("kind", ""))
    spec = dig(obj, *path) if path else None
    return (".".join(path), spec) if isinstance(spec, dict) else None


def containers(spec: dict, base: str = "") -> Iterator[tuple[str, dict]]:
    """(dotted path, container) for every container kind of a pod spec."""
    for key in CONTAINER_KEYS:
        for i, container in enumerate(spec.get(key) or []):
            if isinstance(container, dict):
                yield f"{base + '.' if base else ''}{key}[{i}]", container


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, node) below `value`, depth first, the root included."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, f"{path}[{i}]")


def helm_values(obj: dict) -> dict | None:
    """`spec.values` of a Flux HelmRelease, else None."""
    if obj.get("kind") != "HelmRelease" or not str(obj.get("apiVersion", "")).startswith(
        "helm.toolkit.fluxcd.io/"
    ):
        return None
    values = dig(obj, "spec", "values")
    return values if isinstance(values, dict) else None
