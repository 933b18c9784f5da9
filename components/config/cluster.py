"""The `cluster` section: what every component and rule needs about the cluster, and the reviewed
exceptions to the facts and to the directive (`departures`, `waivers`; components/config/contradictions.py).

The live PriorityClasses are facts (facts/k3s-home.yaml): when the config lists none they are read from
the facts; a list that disagrees with the facts is an error."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .base import KeyedValueError, Model

DIRECTIVE_LINE = re.compile(r"^CIO-EXECUTIVE-DIRECTIVE-2025-06-14\.md:[1-9][0-9]*$")


class LivePriorityClass(Model):
    name: str
    value: int
    global_default: bool = False


class UsbNicMonitoring(Model):
    """Objects carrying these labels belong to the USB NIC monitoring; no rule may let us touch them."""

    namespace: str = "monitoring"
    match_labels: dict[str, str] = Field(min_length=1)


class SopsConfig(Model):
    namespace: str = "flux-system"
    age_secret: str = "sops-age"


class Departure(Model):
    """A config value that deliberately differs from a fact of the Flux repo (say, a planned upgrade)."""

    key: str  # as the error names it, without the `k3s-home:` prefix: gpu.pools[0].devicesPerNode
    reason: str = Field(min_length=1)


class Waiver(Model):
    """A config value that departs from the directive, with the directive line it departs from."""

    key: str
    directive: str  # CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:<line>
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)  # the directive requires CIO approval for exceptions

    @field_validator("directive")
    @classmethod
    def _line(cls, v: str) -> str:
        if not DIRECTIVE_LINE.match(v):
            raise ValueError(f"'{v}' must name a directive line: CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:<n>")
        return v


class ClusterConfig(Model):
    name: str = "k3s-home"
    domain: str
    # Every PriorityClass live in the cluster today (Flux-owned); the GPU model checks against them.
    # Read from the facts when not given (contradictions.py checks a given list against them).
    priority_classes: list[LivePriorityClass] = Field(default=None, validate_default=True)
    usb_nic_monitoring: UsbNicMonitoring
    sops: SopsConfig = SopsConfig()
    # Objects this stack takes over from Flux, as "Kind/name" or "Kind/namespace/name". Each is
    # adopted with the `import_` option and must leave the Flux repo in the same change (ADR 0003).
    adopt: list[str] = Field(default_factory=list)
    # Objects Flux keeps (ADR 0029): the stack never registers them, in either mode; the directive's
    # changes to them are edits of the Flux file that declares them (`make render FLUX_REPO=DIR`).
    flux_keeps: list[str] = Field(default_factory=list)
    departures: list[Departure] = Field(default_factory=list)
    waivers: list[Waiver] = Field(default_factory=list)

    @field_validator("priority_classes", mode="before")
    @classmethod
    def _live_classes(cls, v: list | None, info: ValidationInfo) -> list:
        if v is not None:
            return v
        facts = (info.context or {}).get("facts")
        if facts is None:
            return []
        return [
            {"name": pc.name, "value": pc.value, "globalDefault": pc.global_default}
            for pc in facts.priority_classes
            if pc.deployed
        ]

    @field_validator("adopt", "flux_keeps")
    @classmethod
    def _adopt_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not 2 <= len(ref.split("/")) <= 3 or "" in ref.split("/"):
                raise ValueError(f"'{ref}' must be Kind/name or Kind/namespace/name")
        return refs

    @model_validator(mode="after")
    def _one_owner(self) -> ClusterConfig:
        for i, ref in enumerate(self.flux_keeps):
            if ref in self.adopt:
                raise KeyedValueError(
                    ("fluxKeeps", i),
                    f"{ref} is also in cluster.adopt: an object has one owner (Flux keeps it, or the stack "
                    "adopts it; ADR 0029)",
                )
        return self

    def global_default(self) -> LivePriorityClass | None:
        return next((pc for pc in self.priority_classes if pc.global_default), None)

    def flux_keeps_ref(self, kind: str, name: str, namespace: str | None = None) -> bool:
        """True when Flux keeps this object: the stack does not register it (ADR 0029)."""
        return (f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}") in self.flux_keeps

    def adopt_id(self, kind: str, name: str, namespace: str | None = None) -> str | None:
        """The Pulumi import id when this object is taken over from Flux, else None."""
        ref = f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
        if ref not in self.adopt:
            return None
        return f"{namespace}/{name}" if namespace else name
