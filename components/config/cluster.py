"""Facts about the live cluster that every component and rule needs: what already exists there."""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Model


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


class ClusterConfig(Model):
    name: str = "k3s-home"
    domain: str
    # Every PriorityClass live in the cluster today (Flux-owned); the GPU model checks against them.
    priority_classes: list[LivePriorityClass] = Field(default_factory=list)
    usb_nic_monitoring: UsbNicMonitoring
    sops: SopsConfig = SopsConfig()
    # Objects this stack takes over from Flux, as "Kind/name" or "Kind/namespace/name". Each is
    # adopted with the `import_` option and must leave the Flux repo in the same change (ADR 0003).
    adopt: list[str] = Field(default_factory=list)

    @field_validator("adopt")
    @classmethod
    def _adopt_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            if not 2 <= len(ref.split("/")) <= 3 or "" in ref.split("/"):
                raise ValueError(f"'{ref}' must be Kind/name or Kind/namespace/name")
        return refs

    def global_default(self) -> LivePriorityClass | None:
        return next((pc for pc in self.priority_classes if pc.global_default), None)

    def adopt_id(self, kind: str, name: str, namespace: str | None = None) -> str | None:
        """The Pulumi import id when this object is taken over from Flux, else None."""
        ref = f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
        if ref not in self.adopt:
            return None
        return f"{namespace}/{name}" if namespace else name
