"""Mandatory practice 3: ALL storage on longhorn-replicated or approved alternatives.

Checked where storage is asked for: PersistentVolumeClaims, StatefulSet volumeClaimTemplates, and the
storage class keys inside Flux HelmRelease values (any depth). A claim without a class is reported too:
it silently gets the cluster default, which on k3s is local-path (one node's disk, no replica).
"""

from __future__ import annotations

from collections.abc import Callable

from components.config import StackConfig

from . import Finding, Severity, object_name
from .walk import dig, helm_values, walk

RULE = "storage-class"
CLASS_KEYS = ("storageClassName", "storageClass")
DATA_BEARING_KINDS = frozenset({"PersistentVolumeClaim", "PersistentVolume", "StatefulSet"})


def is_data_bearing(type_or_kind: str) -> bool:
    """True for objects whose deletion or replacement can destroy data: PVC, PV, StatefulSet.

    Accepts a Kubernetes kind (`PersistentVolumeClaim`) or a Pulumi type token
    (`kubernetes:core/v1:PersistentVolumeClaim`).
    """
    return type_or_kind.rsplit(":", 1)[-1] in DATA_BEARING_KINDS


def _pending_migration(obj: dict, config: StackConfig) -> str | None:
    """The migration that will move this claim or release's storage but has not cut over yet."""
    from components.config.storage import Phase

    meta = obj.get("metadata") or {}
    ref = f"{meta.get('namespace')}/{meta.get('name')}"
    for m in config.storage.migrations:
        if m.phase.at_least(Phase.CUTOVER):
            continue
        for c in m.pvcs:
            if ref in (c.key, c.owner.release, f"{c.namespace}/{c.owner.name}"):
                return f"{m.name} (phase {m.phase.value})"
    return None


def _check(obj: dict, path: str, value: object, approved: list[str], what: str, pending: str | None):
    if value in approved:
        return None
    use = f"use {approved[0]} or an approved alternative ({', '.join(approved[1:])})"
    if value in (None, ""):
        reason = f"{what} names no storage class, so it gets the cluster default (local-path); {use}"
    else:
        reason = f"{what} uses storage class '{value}'; {use}"
    if pending:  # known and planned: visible, but it must not block the migration that fixes it
        return Finding(RULE, f"{object_name(obj)}: {reason}; migration {pending}", Severity.ADVISORY, path)
    return Finding(RULE, f"{object_name(obj)}: {reason}", path=path)


def storage_class_rule(obj: dict, config: StackConfig) -> list[Finding]:
    approved = config.storage.approved
    kind = obj.get("kind")
    pending = _pending_migration(obj, config)
    found: list[Finding | None] = []
    if kind == "PersistentVolumeClaim":
        found.append(
            _check(
                obj,
                "spec.storageClassName",
                dig(obj, "spec", "storageClassName"),
                approved,
                "the claim",
                pending,
            )
        )
    elif kind == "StatefulSet":
        for i, tpl in enumerate(dig(obj, "spec", "volumeClaimTemplates") or []):
            name = dig(tpl, "metadata", "name") or f"#{i}"
            path = f"spec.volumeClaimTemplates[{i}].spec.storageClassName"
            value = dig(tpl, "spec", "storageClassName")
            found.append(_check(obj, path, value, approved, f"volumeClaimTemplate {name}", pending))
    elif (values := helm_values(obj)) is not None:
        for path, node in walk(values, "spec.values"):
            if not isinstance(node, dict):
                continue
            for key in CLASS_KEYS:
                # An empty string means "no class" in most charts, i.e. the default class: report it.
                if key in node and isinstance(node[key], str | None):
                    what = f"values {path}.{key}"
                    found.append(_check(obj, f"{path}.{key}", node[key], approved, what, pending))
    return [f for f in found if f is not None]


OBJECT_RULES: list[Callable[[dict, StackConfig], list[Finding]]] = [storage_class_rule]
