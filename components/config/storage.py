"""The `storage` section: the standard Longhorn class, monitoring storage, and phase-gated migrations.

Everything a migration may do is decided here, before any resource is registered: an unknown PVC, an
unapproved class, a shrinking volume, a cutover without a recorded verify or a cleanup before cutover
fail with one line and nothing is touched.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from rules.data_loss import Phase
from rules.storage import class_problem

from .base import DNS_LABEL, Model

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
UNITS = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}  # fmt: skip
MONITORING_TARGETS = ("prometheus", "alertmanager", "grafana", "loki")


def parse_quantity(text: str) -> int:
    """Bytes of a Kubernetes storage quantity such as `50Gi`; ValueError when it is not one."""
    m = QUANTITY.match(str(text))
    if not m:
        raise ValueError(f"'{text}' is not a storage quantity such as 10Gi or 500Mi")
    return int(m.group(1)) * UNITS[m.group(2)]


def _quantity(v: str) -> str:
    if parse_quantity(v) <= 0:
        raise ValueError(f"size {v} must be positive")
    return v


def _ref(v: str) -> str:
    parts = v.split("/")
    if len(parts) != 2 or not all(DNS_LABEL.match(p) for p in parts):
        raise ValueError(f"'{v}' must be namespace/name of a HelmRelease")
    return v


class LonghornClass(Model):
    """The directive's standard class. Parameters are immutable: a change replaces the StorageClass."""

    name: str = "longhorn-replicated"
    provisioner: Literal["driver.longhorn.io"] = "driver.longhorn.io"
    number_of_replicas: int = 3
    stale_replica_timeout: int = 30  # minutes before a failed replica is given up
    data_locality: Literal["disabled", "best-effort", "strict-local"] = "best-effort"
    fs_type: Literal["ext4", "xfs"] = "ext4"
    reclaim_policy: Literal["Retain", "Delete"] = "Retain"
    allow_volume_expansion: bool = True
    volume_binding_mode: Literal["Immediate", "WaitForFirstConsumer"] = "Immediate"

    @field_validator("number_of_replicas")
    @classmethod
    def _replicas(cls, v: int) -> int:
        if not 2 <= v <= 4:
            raise ValueError(f"{v} replicas: a replicated class needs 2..4 (the cluster has 4 nodes); use 3")
        return v

    @field_validator("stale_replica_timeout")
    @classmethod
    def _stale(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"staleReplicaTimeout {v}: give minutes, at least 1 (Longhorn default 30)")
        return v

    @field_validator("reclaim_policy")
    @classmethod
    def _retain(cls, v: str) -> str:
        # June 2025 lost every Longhorn volume once; a deleted claim must never take its data along.
        if v != "Retain":
            raise ValueError("must be Retain: with Delete, deleting a claim destroys its Longhorn volume")
        return v


class ChartSource(Model):
    kind: Literal["HelmRepository", "OCIRepository", "GitRepository"] = "HelmRepository"
    name: str
    namespace: str = "flux-system"


class HelmReleaseSpec(Model):
    """A Flux HelmRelease this stack manages. Adopted releases must match the live object verbatim
    (the import refuses any difference), so `values` is copied from the Flux repo in the adoption change."""

    name: str
    namespace: str
    chart: str
    version: str
    source: ChartSource
    interval: str = "30m"
    values: dict = Field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class MonitoringTarget(Model):
    release: str  # namespace/name of the HelmRelease whose values carry the storage
    storage_class: str = "longhorn-replicated"
    size: str
    # Pods of this target (regex on the pod name); the "without persistent storage" alert watches them.
    pods: str

    @field_validator("release")
    @classmethod
    def _release(cls, v: str) -> str:
        return _ref(v)

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return _quantity(v)


class MonitoringStorageTargets(Model):
    prometheus: MonitoringTarget
    alertmanager: MonitoringTarget
    grafana: MonitoringTarget
    loki: MonitoringTarget

    def items(self) -> list[tuple[str, MonitoringTarget]]:
        return [(k, getattr(self, k)) for k in MONITORING_TARGETS]


class Owner(Model):
    """The workload that mounts a PVC, scaled to 0 through its HelmRelease values while data moves."""

    kind: Literal["StatefulSet", "Deployment"]
    name: str
    release: str  # namespace/name of the owning HelmRelease
    replicas_path: str  # dotted path in the release values, e.g. prometheus.prometheusSpec.replicas
    replicas: int = 1  # restored at cutover
    # Labels of the owner's pods: copy/verify pods refuse to share a node with them (required anti-affinity
    # is symmetric, so an owner pod cannot start beside a running copy either).
    pod_labels: dict[str, str] = Field(min_length=1)

    @field_validator("release")
    @classmethod
    def _release(cls, v: str) -> str:
        return _ref(v)

    @field_validator("replicas_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", v):
            raise ValueError(f"'{v}' must be a dotted path into the release values")
        return v


class SourceVolume(Model):
    """The live PV behind the PVC, as the provisioner made it; adopted (import) without change in plan."""

    volume: str  # PV name, e.g. pvc-<uid>
    reclaim_policy: Literal["Delete", "Retain"] = "Delete"
    host_path: str  # local-path provisioner directory on the node
    node: str
    claim_uid: str = ""  # the claimRef uid recorded at adoption; empty lets the import read it

    @field_validator("volume")
    @classmethod
    def _volume(cls, v: str) -> str:
        if not DNS_SUBDOMAIN.match(v):
            raise ValueError(f"'{v}' is not a PersistentVolume name")
        return v


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
        return None if v is None else _quantity(v)

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
        return None if v is None else _pinned(v)

    @field_validator("pvcs")
    @classmethod
    def _unique(cls, v: list[MigratedClaim]) -> list[MigratedClaim]:
        names = [c.name for c in v]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"PVC '{dup}' is listed twice; claims are named by name within a migration")
        for claim in v:
            if claim.current_class == "":
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
        if v.at_least(Phase.CUTOVER):
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

    def claim(self, name: str) -> MigratedClaim:
        return next(c for c in self.pvcs if c.name == name)

    def loses(self, claim: MigratedClaim) -> bool:
        return claim.name in self.accept_data_loss


class Alerts(Model):
    namespace: str = "monitoring"
    labels: dict[str, str] = Field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    flux_failing_for: str = "15m"  # the directive's escalation threshold


class StorageConfig(Model):
    # Field order matters: `migrations` is validated last and checks itself against the rest.
    storage_class: LonghornClass = LonghornClass()
    approved_classes: list[str] = Field(default_factory=lambda: ["longhorn-nvme", "longhorn-optane"])
    longhorn_namespace: str = "longhorn-system"
    copy_image: str = "docker.io/library/python:3.12-alpine"
    alerts: Alerts = Alerts()
    releases: list[HelmReleaseSpec] = Field(default_factory=list)
    monitoring: MonitoringStorageTargets | None = None
    migrations: list[Migration] = Field(default_factory=list)

    @field_validator("copy_image")
    @classmethod
    def _image(cls, v: str) -> str:
        return _pinned(v)

    @field_validator("monitoring")
    @classmethod
    def _monitoring(cls, v: MonitoringStorageTargets | None, info: ValidationInfo):
        if v is None:
            return v
        approved = _approved(info)
        known = {r.ref for r in info.data.get("releases") or []}
        for key, target in v.items():
            if problem := class_problem(target.storage_class, approved):
                raise ValueError(f"{key} {problem}")
            if target.release not in known:
                raise ValueError(f"{key}: release '{target.release}' is not declared under releases")
        return v

    @field_validator("migrations")
    @classmethod
    def _migrations(cls, v: list[Migration], info: ValidationInfo) -> list[Migration]:
        approved = _approved(info)
        known = {r.ref for r in info.data.get("releases") or []}
        targets = info.data.get("monitoring")
        seen_claims: dict[str, str] = {}
        release_of: dict[str, str] = {}
        for m in v:
            if problem := class_problem(m.target_class, approved):
                raise ValueError(f"migration '{m.name}': the target class {problem}")
            for c in m.pvcs:
                where = f"migration '{m.name}' PVC {c.key}"
                if c.key in seen_claims:
                    raise ValueError(f"{where} is also moved by migration '{seen_claims[c.key]}'")
                seen_claims[c.key] = m.name
                if c.current_class == m.target_class:
                    raise ValueError(f"{where} is already on {m.target_class}; drop it from the migration")
                if c.owner.release not in known:
                    raise ValueError(
                        f"{where}: owner release '{c.owner.release}' is not declared under releases"
                    )
                # One migration per release: the release's suspend/replicas follow exactly one phase.
                if release_of.setdefault(c.owner.release, m.name) != m.name:
                    raise ValueError(
                        f"{where}: release {c.owner.release} also owns PVCs of migration "
                        f"'{release_of[c.owner.release]}'; move them in one migration"
                    )
                target = getattr(targets, c.monitoring_target) if targets and c.monitoring_target else None
                if c.monitoring_target and target is None and "monitoring" in info.data:  # else it failed
                    raise ValueError(
                        f"{where}: monitoringTarget {c.monitoring_target} needs storage.monitoring"
                    )
                if target and target.storage_class != m.target_class:
                    raise ValueError(
                        f"{where}: monitoring.{c.monitoring_target}.storageClass is {target.storage_class}, "
                        f"the migration moves it to {m.target_class}; make them agree"
                    )
                size = target_size(c, targets)
                if parse_quantity(size) < parse_quantity(c.size):
                    raise ValueError(
                        f"{where}: target size {size} is smaller than the source {c.size}; "
                        "a copy could not fit (volumes only grow)"
                    )
        return v

    @property
    def approved(self) -> list[str]:
        return [self.storage_class.name, *self.approved_classes]

    def release(self, ref: str) -> HelmReleaseSpec:
        return next(r for r in self.releases if r.ref == ref)

    def migration_of_release(self, ref: str) -> Migration | None:
        return next((m for m in self.migrations for c in m.pvcs if c.owner.release == ref), None)

    def image(self, m: Migration) -> str:
        return m.copy_image or self.copy_image


def target_size(claim: MigratedClaim, targets: MonitoringStorageTargets | None) -> str:
    if claim.target_size:
        return claim.target_size
    if targets and claim.monitoring_target:
        return getattr(targets, claim.monitoring_target).size
    return claim.size


def _pinned(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@sha256:" not in image and (":" not in tail or tail.endswith(":latest")):
        raise ValueError(f"'{image}' must be pinned (a tag other than latest, or a digest)")
    return image


def _approved(info: ValidationInfo) -> list[str]:
    sc = info.data.get("storage_class") or LonghornClass()
    return [sc.name, *(info.data.get("approved_classes") or [])]
