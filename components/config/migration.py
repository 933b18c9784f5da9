"""A phase-gated migration of PVCs to another storage class (`storage.migrations[]`).

Everything a migration may do is decided here, before any resource is registered: an unknown PVC, a
cutover without a recorded verify or a cleanup before cutover fail with one line and nothing is touched.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from rules.data_loss import Phase

from .base import DNS_LABEL, DNS_SUBDOMAIN, Model, first_duplicate, pinned_image, release_ref
from .quantity import quantity

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class OperatorResource(Model):
    """The custom resource an operator renders the owner from (prometheus-operator's Prometheus or
    Alertmanager): its `spec.replicas` is patched with the StatefulSet's, or the operator scales it back."""

    api_version: str = "monitoring.coreos.com/v1"
    kind: Literal["Prometheus", "Alertmanager"]
    name: str


class Owner(Model):
    """The workload that mounts a PVC. While data moves its HelmRelease is suspended and its replicas are
    held by a server-side-apply patch under the stack's own field manager (components/storage/patches.py)."""

    kind: Literal["StatefulSet", "Deployment"]
    name: str
    release: str  # namespace/name of the owning HelmRelease
    replicas: int = Field(default=1, ge=1)  # restored at cutover
    operator: OperatorResource | None = None
    # Labels of the owner's pods: copy/verify pods refuse to share a node with them (required anti-affinity
    # is symmetric, so an owner pod cannot start beside a running copy either).
    pod_labels: dict[str, str] = Field(min_length=1)

    @field_validator("release")
    @classmethod
    def _release(cls, v: str) -> str:
        return release_ref(v)


class NfsExport(Model):
    server: str
    path: str = Field(pattern=r"^/")


class SourceVolume(Model):
    """The live PV behind the PVC, as its provisioner (local-path) or the Flux repo (a static NFS volume)
    made it; adopted (import) without change in plan. Recorded by `make record-migration-sources`."""

    volume: str  # PV name, e.g. pvc-<uid>
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"
    host_path: str | None = None  # local-path provisioner directory on the node
    # How the PV names that directory. k3s's local-path class says `defaultVolumeType: local`
    # (k3s-io/k3s manifests/local-storage.yaml); the upstream provisioner's default is hostPath.
    volume_type: Literal["local", "hostPath"] = "local"
    node: str | None = None
    nfs: NfsExport | None = None  # a static NFS volume, as the repo's media claims are
    claim_uid: str = ""  # the claimRef uid recorded at adoption; empty lets the import read it

    @field_validator("volume")
    @classmethod
    def _volume(cls, v: str) -> str:
        if not DNS_SUBDOMAIN.match(v):
            raise ValueError(f"'{v}' is not a PersistentVolume name")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> SourceVolume:
        local = self.host_path is not None or self.node is not None
        if self.nfs is not None and local:
            raise ValueError("nfs names a static NFS volume; it excludes hostPath and node")
        if self.nfs is None and not (self.host_path and self.node):
            raise ValueError(
                "a local-path volume needs hostPath and node (or set nfs for a static NFS volume)"
            )
        return self

    @property
    def location(self) -> str:
        """Where the files live, for the summary: `node:path` or `nfs server:path`."""
        if self.nfs is not None:
            return f"nfs {self.nfs.server}:{self.nfs.path}"
        return f"{self.node}:{self.host_path}"


class MigratedClaim(Model):
    namespace: str
    name: str
    current_class: str
    size: str  # the source PVC's capacity
    target_size: str | None = None  # defaults to the monitoring target's size, else `size`
    monitoring_target: Literal["prometheus", "alertmanager", "grafana", "loki"] | None = None
    access_modes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"]] = ["ReadWriteOnce"]
    # Chart-templated claims (grafana) carry Helm's ownership metadata, so the recreated claim keeps it.
    helm_managed: bool = False
    owner: Owner
    source: SourceVolume

    @field_validator("namespace")
    @classmethod
    def _ns(cls, v: str) -> str:
        if not DNS_LABEL.match(v):
            raise ValueError(f"'{v}' is not a valid namespace name (DNS-1123 label)")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not DNS_SUBDOMAIN.match(v) or len(v) > 244:  # room for the "-migrated" staging claim
            raise ValueError(f"'{v}' is not a valid PVC name (DNS-1123 subdomain, at most 244 characters)")
        return v

    @field_validator("size", "target_size")
    @classmethod
    def _sizes(cls, v: str | None) -> str | None:
        return None if v is None else quantity(v)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class CopyResult(Model):
    """What the copy Job printed (`COPIED bytes=... files=... seconds=...`), recorded in config."""

    bytes: int = Field(ge=0)
    seconds: float = Field(ge=0)
    files: int = Field(default=0, ge=0)


class Migration(Model):
    """Moves a set of PVCs to `target_class`; each `pulumi up` applies exactly one phase.

    Field order matters: `phase` is validated last so it can see the recorded results.
    """

    name: str
    target_class: str
    copy_image: str | None = None  # defaults to storage.copyImage
    pvcs: list[MigratedClaim] = Field(min_length=1)
    # The directive's delete-and-accept-loss path, per claim, by name. Empty by default: nothing is lost.
    accept_data_loss: list[str] = Field(default_factory=list)
    copied: dict[str, CopyResult] = Field(default_factory=dict)
    verified: dict[str, str] = Field(default_factory=dict)  # claim -> manifest digest from the verify Job
    # When the copy `up` scaled the owners to 0 (T0), and when they were Ready again after cutover (T1):
    # the downtime window the pilot report measures.
    scaled_down_at: datetime | None = None
    lessons: list[str] = Field(default_factory=list)  # what the pilot taught, for its report
    cutover_at: datetime | None = None  # recorded once the cutover up succeeded and the owners are healthy
    phase: Phase = Phase.PLAN

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not DNS_LABEL.match(v) or len(v) > 30:
            raise ValueError(f"'{v}' must be a DNS label of at most 30 characters (it names Jobs and PVs)")
        return v

    @field_validator("copy_image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        return None if v is None else pinned_image(v)

    @field_validator("pvcs")
    @classmethod
    def _unique(cls, v: list[MigratedClaim]) -> list[MigratedClaim]:
        dup = first_duplicate([c.name for c in v])
        if dup:
            raise ValueError(f"PVC '{dup}' is listed twice; claims are named by name within a migration")
        for claim in v:
            # "" is a real class only for a static volume (no provisioner); elsewhere it means unrecorded.
            if claim.current_class == "" and claim.source.nfs is None:
                raise ValueError(f"PVC '{claim.name}': currentClass is empty; record the live class")
        return v

    @field_validator("accept_data_loss", "copied", "verified")
    @classmethod
    def _known(cls, v, info: ValidationInfo):
        declared = [c.name for c in info.data.get("pvcs") or []]
        for name in v:
            if name not in declared:
                raise ValueError(
                    f"unknown PVC '{name}': not declared in this migration's pvcs ({', '.join(declared)})"
                )
        return v

    @field_validator("verified")
    @classmethod
    def _digests(cls, v: dict[str, str]) -> dict[str, str]:
        for name, digest in v.items():
            if not DIGEST.match(digest):
                raise ValueError(
                    f"'{name}': '{digest}' is not a verify result; "
                    "paste the sha256:<64 hex> the verify Job printed"
                )
        return v

    @field_validator("phase")
    @classmethod
    def _gate(cls, v: Phase, info: ValidationInfo) -> Phase:
        pvcs = info.data.get("pvcs") or []
        loss = set(info.data.get("accept_data_loss") or [])
        moved = [c.name for c in pvcs if c.name not in loss]
        if v.at_least(Phase.VERIFY):
            missing = [n for n in moved if n not in (info.data.get("copied") or {})]
            if missing:
                raise ValueError(
                    f"{v} before a recorded copy of {', '.join(missing)}; "
                    "record the copy Job's result under copied first"
                )
        if v.at_least(Phase.DETACH):
            # detach deletes the Jobs, and their logs with them: the digest must be recorded first.
            missing = [n for n in moved if n not in (info.data.get("verified") or {})]
            if missing:
                raise ValueError(
                    f"{v} before a successful verify of {', '.join(missing)}; run phase verify "
                    "and record its digest under verified (the old volumes stay untouched)"
                )
        if v is Phase.CLEANUP and info.data.get("cutover_at") is None:
            raise ValueError(
                "cleanup before cutover: run phase cutover, check the owners, then record cutoverAt"
            )
        return v

    @property
    def owners(self) -> list[Owner]:
        """Each owner once, in claim order."""
        out: list[Owner] = []
        for c in self.pvcs:
            if all((o.kind, o.name) != (c.owner.kind, c.owner.name) for o in out):
                out.append(c.owner)
        return out

    def namespace_of(self, owner: Owner) -> str:
        return next(c.namespace for c in self.pvcs if c.owner == owner)

    # Names of the objects a claim's move creates; components/storage/names.py and the data-loss rule's
    # acknowledgements both read them here, so they cannot drift apart.
    def volume_name(self, claim: MigratedClaim) -> str:
        """The new PV's name, equal to its Longhorn volume's (Longhorn's static-provisioning convention)."""
        return f"{self.name}-{hashlib.sha1(claim.key.encode()).hexdigest()[:10]}"

    def staging_claim(self, claim: MigratedClaim) -> str:
        return f"{claim.name}-migrated"

    def staging_volume(self, claim: MigratedClaim) -> str:
        return f"{self.volume_name(claim)}-staging"

    def claim(self, name: str) -> MigratedClaim:
        return next(c for c in self.pvcs if c.name == name)

    def loses(self, claim: MigratedClaim) -> bool:
        return claim.name in self.accept_data_loss
