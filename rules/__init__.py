"""The directive's rules as pure functions over Kubernetes objects (plain dicts).

Every rule returns a list of `Finding`s. The CrossGuard pack (policy/), the repo audit
(`review.audit`) and the components' own validation all call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The validated stack config (components.config.StackConfig), passed in by the caller. Rules read the
# attributes they need and never import the model: the model imports the rules' pure helpers, so rules
# stay the lowest layer (tests/unit/test_layout.py).
Config = Any


class Severity(StrEnum):
    MANDATORY = "mandatory"
    ADVISORY = "advisory"


@dataclass(frozen=True)
class Finding:
    rule: str  # directive rule id, e.g. "no-privileged-without-approval"
    message: str  # one line, names the object and the reason
    severity: Severity = Severity.MANDATORY
    path: str = ""  # where inside the object, e.g. "spec.values.securityContext.privileged"


def object_name(obj: dict) -> str:
    """`kind namespace/name` for messages."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name}"
