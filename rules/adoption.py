"""Objects adopted from Flux as they are live (ADR 0003, step 1 of the handover).

Adoption imports the live object and changes nothing in the cluster, so a violation that object already
has is not introduced by the update: it is shown as advisory, naming the step that fixes it. The
stack's own values, and the mandatory verdict on them, apply once the `cluster.adopt` entry is removed.
"""

from __future__ import annotations

from dataclasses import replace

from rules import Finding, Severity, object_name

NOTE = (
    "adopted from Flux as live: unchanged by this update; "
    "the stack's values apply once its cluster.adopt entry goes"
)


def _about(finding: Finding, obj: dict) -> bool:
    name = object_name(obj)
    kind, _, where = name.partition(" ")
    namespace = where.split("/", 1)[0] if "/" in where else ""
    # per object: "ResourceQuota ai/gpu-quota: ..."; per namespace: path "ResourceQuota media.spec.hard..."
    return finding.message.startswith(f"{name}:") or bool(
        namespace and finding.path.startswith(f"{kind} {namespace}.")
    )


def as_live(findings: list[Finding], adopted: list[dict]) -> list[Finding]:
    """`findings` with those about an adopted object made advisory, with the reason."""
    out = []
    for f in findings:
        if f.severity is Severity.MANDATORY and any(_about(f, obj) for obj in adopted):
            f = replace(f, severity=Severity.ADVISORY, message=f"{f.message} ({NOTE})")
        out.append(f)
    return out
