"""The `storage` section: the standard Longhorn class, monitoring storage, and phase-gated migrations.

The cross-checks live here: approved classes (rules.storage.class_problem), one migration per claim and
per release, monitoring targets that agree with their migration, volumes that only grow.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from rules.data_loss import values_hold_data
from rules.storage import class_problem

from .base import KeyedValueError, Model, pinned_image, release_ref
from .migration import MigratedClaim, Migration
from .quantity import parse_quantity, quantity

MONITORING_TARGETS = ("prometheus", "alertmanager", "grafana", "loki")


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
        return release_ref(v)

    @field_validator("size")
    @classmethod
    def _size(cls, v: str) -> str:
        return quantity(v)


class MonitoringStorageTargets(Model):
    prometheus: MonitoringTarget
    alertmanager: MonitoringTarget
    grafana: MonitoringTarget
    loki: MonitoringTarget

    def items(self) -> list[tuple[str, MonitoringTarget]]:
        return [(k, getattr(self, k)) for k in MONITORING_TARGETS]


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
        return pinned_image(v)

    @field_validator("releases")
    @classmethod
    def _unique_releases(cls, v: list[HelmReleaseSpec]) -> list[HelmReleaseSpec]:
        refs = [r.ref for r in v]
        for i, ref in enumerate(refs):
            if ref in refs[:i]:
                raise KeyedValueError(
                    (i,),
                    f"HelmRelease {ref} is listed twice (releases[{refs.index(ref)}] and [{i}]); merge them",
                )
        return v

    @field_validator("monitoring")
    @classmethod
    def _monitoring(cls, v: MonitoringStorageTargets | None, info: ValidationInfo):
        if v is None:
            return v
        approved = _approved(info)
        known = {r.ref for r in info.data.get("releases") or []}
        for key, target in v.items():
            if problem := class_problem(target.storage_class, approved):
                raise KeyedValueError((key, "storageClass"), f"{key} {problem}")
            if target.release not in known:
                raise KeyedValueError(
                    (key, "release"), f"{key}: release '{target.release}' is not declared under releases"
                )
        return v

    @field_validator("migrations")
    @classmethod
    def _migrations(cls, v: list[Migration], info: ValidationInfo) -> list[Migration]:
        approved = _approved(info)
        known = {r.ref for r in info.data.get("releases") or []}
        targets = info.data.get("monitoring")
        seen_claims: dict[str, str] = {}
        release_of: dict[str, str] = {}
        for i, m in enumerate(v):
            if problem := class_problem(m.target_class, approved):
                raise KeyedValueError((i, "targetClass"), f"migration '{m.name}': the target class {problem}")
            for j, c in enumerate(m.pvcs):
                where = f"migration '{m.name}' PVC {c.key}"
                if c.key in seen_claims:
                    raise KeyedValueError(
                        (i, "pvcs", j, "name"), f"{where} is also moved by migration '{seen_claims[c.key]}'"
                    )
                seen_claims[c.key] = m.name
                if c.current_class == m.target_class:
                    raise KeyedValueError(
                        (i, "pvcs", j, "currentClass"),
                        f"{where} is already on {m.target_class}; drop it from the migration",
                    )
                if c.owner.release not in known:
                    raise KeyedValueError(
                        (i, "pvcs", j, "owner", "release"),
                        f"{where}: owner release '{c.owner.release}' is not declared under releases",
                    )
                # One migration per release: the release's suspend/replicas follow exactly one phase.
                if release_of.setdefault(c.owner.release, m.name) != m.name:
                    raise KeyedValueError(
                        (i, "pvcs", j, "owner", "release"),
                        f"{where}: release {c.owner.release} also owns PVCs of migration "
                        f"'{release_of[c.owner.release]}'; move them in one migration",
                    )
                target = getattr(targets, c.monitoring_target) if targets and c.monitoring_target else None
                if c.monitoring_target and target is None and "monitoring" in info.data:  # else it failed
                    raise KeyedValueError(
                        (i, "pvcs", j, "monitoringTarget"),
                        f"{where}: monitoringTarget {c.monitoring_target} needs storage.monitoring",
                    )
                if target and target.storage_class != m.target_class:
                    raise KeyedValueError(
                        (i, "pvcs", j, "monitoringTarget"),
                        f"{where}: monitoring.{c.monitoring_target}.storageClass is {target.storage_class}, "
                        f"the migration moves it to {m.target_class}; make them agree",
                    )
                size = target_size(c, targets)
                if parse_quantity(size) < parse_quantity(c.size):
                    raise KeyedValueError(
                        (i, "pvcs", j, "targetSize"),
                        f"{where}: target size {size} is smaller than the source {c.size}; "
                        "a copy could not fit (volumes only grow)",
                    )
        return v

    @property
    def data_releases(self) -> list[str]:
        """HelmReleases (namespace/name) that own data: their values ask for claims, a monitoring target
        keeps its storage in them, or they own a migrated claim. Deleting one takes the claims along."""
        refs = {r.ref for r in self.releases if values_hold_data(r.values)}
        refs |= {t.release for _, t in (self.monitoring.items() if self.monitoring else [])}
        refs |= {c.owner.release for m in self.migrations for c in m.pvcs}
        return sorted(refs)

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


def _approved(info: ValidationInfo) -> list[str]:
    sc = info.data.get("storage_class") or LonghornClass()
    return [sc.name, *(info.data.get("approved_classes") or [])]
