"""Mandatory practice 3: ALL storage on longhorn-replicated or approved alternatives.

Checked where storage is asked for: PersistentVolumeClaims, StatefulSet volumeClaimTemplates, and the
storage class keys inside Flux HelmRelease values (any depth). A claim without a class is reported too:
it silently gets the cluster default, which on k3s is local-path (one node's disk, no replica).
"""

from __future__ import annotations

from collections.abc import Sequence

from . import Config, Finding, Severity, object_name
from .data_loss import Phase
from .walk import dig, helm_values, walk

RULE = "storage-class"
CLASS_KEYS = ("storageClassName", "storageClass")


def _pending_migration(obj: dict, config: Config) -> str | None:
    """The migration that will move this claim or release's storage but has not cut over yet."""
    meta = obj.get("metadata") or {}
    ref = f"{meta.get('namespace')}/{meta.get('name')}"
    for m in config.storage.migrations:
        for c in m.pvcs:
            if m.phase.at_least(Phase.CUTOVER):
                # A StatefulSet Helm renders itself keeps its immutable claim template for good; its claim
                # was recreated on the new class under the template's name (ADR 0006).
                kept = c.owner.kind == "StatefulSet" and c.owner.operator is None
                if kept and ref in (c.owner.release, f"{c.namespace}/{c.owner.name}"):
                    return f"{m.name}: template of StatefulSet {c.owner.name} kept, claim {c.name} moved"
                continue
            if ref in (c.key, c.owner.release, f"{c.namespace}/{c.owner.name}"):
                return f"{m.name} (phase {m.phase.value})"
    return None


def class_problem(value: object, approved: Sequence[str], claim: bool = False) -> str | None:
    """Why `value` is not an approved storage class (the first one is the standard), else None.

    The one wording of mandatory practice 3: the rule, the config model and the components use it.
    """
    if value in approved:
        return None
    use = f"use {approved[0]} or an approved alternative ({', '.join(approved[1:]) or 'none'})"
    if value is None or (value == "" and not claim):
        # In chart values an empty string means "no class", i.e. the cluster default.
        return f"names no storage class, so it gets the cluster default (local-path); {use}"
    if value == "":
        # On a claim it is the opposite: no class at all, only a pre-provisioned (static) volume binds.
        return f'has storageClassName "": a pre-provisioned volume without a class or replicas; {use}'
    return f"uses storage class '{value}'; {use}"


def _check(obj: dict, path: str, value: object, approved: list[str], what: str, pending: str | None):
    problem = class_problem(value, approved, claim=not path.startswith("spec.values"))
    if problem is None:
        return None
    reason = f"{what} {problem}"
    if pending:  # known and planned: visible, but it must not block the migration that fixes it
        return Finding(RULE, f"{object_name(obj)}: {reason}; migration {pending}", Severity.ADVISORY, path)
    return Finding(RULE, f"{object_name(obj)}: {reason}", path=path)


def storage_class_rule(obj: dict, config: Config) -> list[Finding]:
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
