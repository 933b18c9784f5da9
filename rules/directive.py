"""The CIO directive's own values, each with the line of the directive that sets it.

The repo keeps the directive as `CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md` (the same text as the user's
seed 000). A stack config value that differs from one of these is a departure from the directive: it
needs a waiver that names the line (`k3s-home:cluster.waivers`), or it is a config error. The rules judge
live objects against these values, never against the config that may have departed from them.
"""

from __future__ import annotations

from dataclasses import dataclass

DOCUMENT = "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md"


@dataclass(frozen=True)
class DirectiveValue:
    what: str  # what the directive fixes, in words
    value: object
    line: int

    @property
    def source(self) -> str:
        return f"{DOCUMENT}:{self.line}"


# Phase 2: the GPU priority classes (value, description), the tenants' slices; standards: the class.
PRIORITY_CLASS_VALUES = {
    "critical-gpu": DirectiveValue("PriorityClass critical-gpu value", 1000, 46),
    "normal-gpu": DirectiveValue("PriorityClass normal-gpu value", 100, 54),
}
PRIORITY_CLASS_DESCRIPTIONS = {
    "critical-gpu": DirectiveValue(
        "PriorityClass critical-gpu description", "Critical GPU workloads (Plex, Jellyfin)", 48
    ),
    "normal-gpu": DirectiveValue("PriorityClass normal-gpu description", "Normal GPU workloads (AI)", 56),
}
# "AI namespace: Maximum 2 GPU time-slices" / "Media namespace: Reserved 2 GPU time-slices" (of the T4).
TENANT_SLICES = {
    ("ai", "max"): DirectiveValue("the ai namespace's maximum of GPU time-slices", 2, 60),
    ("media", "reserved"): DirectiveValue("the media namespace's reserved GPU time-slices", 2, 61),
}
TIME_SLICED_RESOURCE = "nvidia.com/gpu"
STORAGE_CLASS = DirectiveValue("the storage class all storage is on", "longhorn-replicated", 123)


def departure(expected: DirectiveValue, actual: object) -> str | None:
    """Why `actual` departs from the directive's value, or None when it keeps it."""
    if actual == expected.value:
        return None
    return f"{actual!r} departs from the directive's {expected.value!r} ({expected.what}, {expected.source})"
