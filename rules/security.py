"""Prohibited action 4: no privileged containers without CIO approval.

The host namespaces (hostNetwork, hostPID, hostIPC) and CAP_SYS_ADMIN give a container the same reach
as `privileged: true`, so the same mandatory approval gate covers them. The approval is an annotation
whose value names the approval (`CIO-2026-014 ...`); a bare "yes" or an empty value is not an approval
anyone could look up, so it does not count.

`allowPrivilegeEscalation: true` is a different setting (setuid binaries may gain privileges; the
container is not privileged), and the directive does not name it. The Pod Security Standards keep the
two apart as well: `privileged` breaks Baseline, `allowPrivilegeEscalation` is a Restricted-profile
control. So it is reported under its own advisory rule, `privilege-escalation` (ADR 0013).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from . import Config, Finding, Severity, object_name
from .walk import containers, dig, helm_values, pod_spec, walk

RULE = "privileged-container"
ESCALATION_RULE = "privilege-escalation"
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


# (rule id, dotted path, reason) of one problem.
Problem = tuple[str, str, str]


def _pod_spec_problems(base: str, spec: dict) -> Iterator[Problem]:
    for key in HOST_NAMESPACES:
        if _true(spec.get(key)):
            yield RULE, f"{base}.{key}", f"{key}: true shares the node's namespace"
    for path, container in containers(spec, base):
        name = container.get("name", path)
        sc = container.get("securityContext")
        if not isinstance(sc, dict):
            continue
        if _true(sc.get("privileged")):
            yield RULE, f"{path}.securityContext.privileged", f"container {name} is privileged"
        if _true(sc.get("allowPrivilegeEscalation")):
            yield (
                ESCALATION_RULE,
                f"{path}.securityContext.allowPrivilegeEscalation",
                f"container {name} allows privilege escalation",
            )
        added = dig(sc, "capabilities", "add")
        caps = {str(c).upper() for c in added} if isinstance(added, list) else set()
        if caps & ESCALATING_CAPS:
            yield (
                RULE,
                f"{path}.securityContext.capabilities.add",
                f"container {name} adds {', '.join(sorted(caps & ESCALATING_CAPS))} (privilege escalation)",
            )


_VALUES_KEYS = (
    (RULE, "privileged"),
    (ESCALATION_RULE, "allowPrivilegeEscalation"),
    *((RULE, key) for key in HOST_NAMESPACES),
)


def _helm_values_problems(values: dict) -> Iterator[Problem]:
    # Charts nest security contexts anywhere (controller.securityContext, agent.containerSecurityContext,
    # hostNetwork at the top level...), so any key with a privileging name counts, at any depth.
    for path, node in walk(values, "spec.values"):
        if not isinstance(node, dict):
            continue
        for rule, key in _VALUES_KEYS:
            if _true(node.get(key)):
                yield rule, f"{path}.{key}", f"Helm values set {key}: true"
        added = dig(node, "capabilities", "add")
        if isinstance(added, list) and {str(c).upper() for c in added} & ESCALATING_CAPS:
            yield RULE, f"{path}.capabilities.add", "Helm values add CAP_SYS_ADMIN (privilege escalation)"


def _problems(obj: dict) -> list[Problem]:
    problems: list[Problem] = []
    if found := pod_spec(obj):
        problems += _pod_spec_problems(*found)
    if (values := helm_values(obj)) is not None:
        problems += _helm_values_problems(values)
    return problems


def privileged_container(obj: dict, cfg: Config) -> list[Finding]:
    """Privileged containers, host namespaces and CAP_SYS_ADMIN without a named CIO approval (mandatory);
    `allowPrivilegeEscalation: true` without one (advisory, rule privilege-escalation)."""
    problems = _problems(obj)
    if not problems or approval(obj):
        return []
    return [
        Finding(
            rule,
            f"{object_name(obj)}: {reason} without a CIO approval "
            f"(annotate {APPROVAL_ANNOTATION} with the approval id, e.g. CIO-2026-014)",
            Severity.MANDATORY if rule == RULE else Severity.ADVISORY,
            path,
        )
        for rule, path, reason in problems
    ]
