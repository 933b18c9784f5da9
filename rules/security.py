"""Prohibited action 4: no privileged containers without CIO approval.

Privilege escalation and the host namespaces (hostNetwork, hostPID, hostIPC) give a container the
same reach as `privileged: true`, so the same approval gate covers them. The approval is an
annotation whose value names the approval (`CIO-2026-014 ...`); a bare "yes" or an empty value is
not an approval anyone could look up, so it does not count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from components.config import StackConfig

from . import Finding, object_name
from .walk import containers, dig, helm_values, pod_spec, walk

RULE = "privileged-container"
APPROVAL_ANNOTATION = "k3s-home.fletcherlabs.net/cio-approval"
# An approval id such as CIO-2026-014; placeholders like CIO-XXXX-XXX do not match.
APPROVAL_ID = re.compile(r"\bCIO-\d{4}-\d{3,}\b")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
# Kubernetes treats CAP_SYS_ADMIN as privilege escalation (allowPrivilegeEscalation is forced true).
ESCALATING_CAPS = {"SYS_ADMIN", "CAP_SYS_ADMIN", "ALL"}


def approval(obj: dict) -> str | None:
    """The named approval on the object or its pod template, else None."""
    for meta in (obj.get("metadata"), dig(obj, "spec", "template", "metadata")):
        value = dig(meta, "annotations", APPROVAL_ANNOTATION) if isinstance(meta, dict) else None
        if isinstance(value, str) and (match := APPROVAL_ID.search(value)):
            return match.group(0)
    return None


def _true(value: Any) -> bool:
    # Helm values sometimes carry booleans as strings; "true" is as privileged as true.
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _pod_spec_problems(base: str, spec: dict) -> Iterator[tuple[str, str]]:
    for key in HOST_NAMESPACES:
        if _true(spec.get(key)):
            yield f"{base}.{key}", f"{key}: true shares the node's namespace"
    for path, container in containers(spec, base):
        name = container.get("name", path)
        sc = container.get("securityContext")
        if not isinstance(sc, dict):
            continue
        if _true(sc.get("privileged")):
            yield f"{path}.securityContext.privileged", f"container {name} is privileged"
        if _true(sc.get("allowPrivilegeEscalation")):
            yield (
                f"{path}.securityContext.allowPrivilegeEscalation",
                f"container {name} allows privilege escalation",
            )
        added = dig(sc, "capabilities", "add")
        caps = {str(c).upper() for c in added} if isinstance(added, list) else set()
        if caps & ESCALATING_CAPS:
            yield (
                f"{path}.securityContext.capabilities.add",
                f"container {name} adds {', '.join(sorted(caps & ESCALATING_CAPS))} (privilege escalation)",
            )


def _helm_values_problems(values: dict) -> Iterator[tuple[str, str]]:
    # Charts nest security contexts anywhere (controller.securityContext, agent.containerSecurityContext,
    # hostNetwork at the top level...), so any key with a privileging name counts, at any depth.
    for path, node in walk(values, "spec.values"):
        if not isinstance(node, dict):
            continue
        for key in ("privileged", "allowPrivilegeEscalation", *HOST_NAMESPACES):
            if _true(node.get(key)):
                yield f"{path}.{key}", f"Helm values set {key}: true"
        added = dig(node, "capabilities", "add")
        if isinstance(added, list) and {str(c).upper() for c in added} & ESCALATING_CAPS:
            yield f"{path}.capabilities.add", "Helm values add CAP_SYS_ADMIN (privilege escalation)"


def privileged_container(obj: dict, cfg: StackConfig) -> list[Finding]:
    problems: list[tuple[str, str]] = []
    if found := pod_spec(obj):
        problems += _pod_spec_problems(*found)
    if (values := helm_values(obj)) is not None:
        problems += _helm_values_problems(values)
    if not problems or approval(obj):
        return []
    return [
        Finding(
            RULE,
            f"{object_name(obj)}: {reason} without a CIO approval "
            f"(annotate {APPROVAL_ANNOTATION} with the approval id, e.g. CIO-2026-014)",
            path=path,
        )
        for path, reason in problems
    ]


OBJECT_RULES: list[Callable[[dict, StackConfig], list[Finding]]] = [privileged_container]
