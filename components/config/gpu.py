"""The `gpu` section: GPU pools per extended resource, tenants and their priority classes.

Validation includes the capacity proof (rules.gpu_capacity), so an oversubscribed config fails
before any resource is registered.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from rules.gpu import DIRECTIVE_PRIORITY_CLASSES, resource_names
from rules.gpu_capacity import Claim, Verdict, prove

from .base import DNS_LABEL, KeyedValueError, Model, first_duplicate
from .cluster import ClusterConfig


class TimeSlicing(Model):
    """NVIDIA device plugin `sharing.timeSlicing` for this pool's resource (checked by GpuPool)."""

    replicas: int
    rename_by_default: bool = False
    fail_requests_greater_than_one: bool = True


class GpuPool(Model):
    resource: str  # the extended resource as the device plugin registers it
    vendor: Literal["nvidia", "intel"]
    nodes: list[str] = Field(min_length=1)
    devices_per_node: int
    model: str = ""
    time_slicing: TimeSlicing | None = None  # nvidia only
    shared_dev_num: int | None = None  # intel only

    @field_validator("devices_per_node", "shared_dev_num")
    @classmethod
    def _positive(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and v < 1:
            pool = info.data.get("resource", "?")
            key = to_camel(info.field_name or "")
            raise ValueError(f"pool {pool} has {key} {v}; capacity must be positive (at least 1)")
        return v

    @field_validator("time_slicing")
    @classmethod
    def _time_slicing(cls, ts: TimeSlicing | None, info: ValidationInfo) -> TimeSlicing | None:
        pool = info.data.get("resource", "?")
        if ts and ts.replicas < 1:
            raise ValueError(
                f"pool {pool} has time-slicing replicas {ts.replicas}; capacity must be positive (at least 1)"
            )
        # Without it a pod asking for N slices is charged N by quota yet may land on one shared GPU.
        if ts and not ts.fail_requests_greater_than_one:
            raise ValueError(
                f"pool {pool} must set failRequestsGreaterThanOne: true; quota counts one slice per request "
                "only when the device plugin refuses larger requests"
            )
        return ts

    @model_validator(mode="after")
    def _sharing_matches_vendor(self) -> GpuPool:
        if self.time_slicing and self.vendor != "nvidia":
            raise ValueError(f"pool {self.resource}: timeSlicing is an NVIDIA device plugin setting")
        if self.shared_dev_num is not None and self.vendor != "intel":
            raise ValueError(f"pool {self.resource}: sharedDevNum is an Intel GPU plugin setting")
        return self

    @property
    def slices_per_device(self) -> int:
        if self.time_slicing:
            return self.time_slicing.replicas
        return self.shared_dev_num or 1

    @property
    def capacity(self) -> int:
        return len(self.nodes) * self.devices_per_node * self.slices_per_device

    @property
    def advertised(self) -> str:
        """The name pods request: time-slicing with renameByDefault advertises `<name>.shared`."""
        ts = self.time_slicing
        return f"{self.resource}.shared" if ts and ts.rename_by_default else self.resource

    @property
    def max_per_container(self) -> int:
        """Most slices one container may request: shared devices hand out one slice per request."""
        if self.slices_per_device > 1:
            return 1
        return self.devices_per_node

    def capacity_detail(self) -> str:
        share = "replicas" if self.time_slicing else "shares"
        devices = f"{self.devices_per_node} device{'s' if self.devices_per_node != 1 else ''}"
        where = f"on each of {', '.join(self.nodes)}" if len(self.nodes) > 1 else f"on {self.nodes[0]}"
        return f"{devices} x {self.slices_per_device} {share} {where}"


class PoolShare(Model):
    max: int | None = None
    reserved: int = 0

    @field_validator("max", "reserved")
    @classmethod
    def _non_negative(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and v < 0:
            raise ValueError(f"{info.field_name} is {v}; a number of slices cannot be negative")
        return v

    @model_validator(mode="after")
    def _bounded(self) -> PoolShare:
        if self.max is None and not self.reserved:
            raise ValueError("give max and/or reserved slices, or drop the pool from this tenant")
        if self.max is not None and self.max < self.reserved:
            raise ValueError(
                f"max {self.max} is below reserved {self.reserved}; the reservation could never be used"
            )
        return self

    @property
    def cap(self) -> int:
        """The quota ceiling: max, else the reservation (a reservation alone is also the ceiling)."""
        return max(self.max or 0, self.reserved)


class GpuTenant(Model):
    namespace: str = Field(default="", validate_default=True)
    priority_class_name: str
    # Pools this tenant may use; every other pool gets a quota of 0 in its namespace.
    pools: dict[str, PoolShare] = Field(default_factory=dict)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not v:
            raise ValueError(
                "every GPU tenant needs a namespace: its quota and admission binding are per namespace"
            )
        if not DNS_LABEL.match(v):
            raise ValueError(f"'{v}' is not a valid namespace name (DNS-1123 label)")
        return v


# Kubernetes keeps values above one billion for its system classes (system-cluster-critical is two
# billion); the API server refuses a user-defined class above it (HighestUserDefinablePriority).
HIGHEST_USER_PRIORITY = 1_000_000_000


class GpuPriorityClass(Model):
    name: str
    value: int
    description: str

    @field_validator("value")
    @classmethod
    def _user_range(cls, value: int, info: ValidationInfo) -> int:
        if value > HIGHEST_USER_PRIORITY:
            raise ValueError(
                f"{info.data.get('name', '?')} has value {value}, above {HIGHEST_USER_PRIORITY:,}: "
                "Kubernetes reserves higher values for its system classes and refuses the object; pick a "
                "value at or below one billion"
            )
        return value


class HelmSource(Model):
    kind: Literal["HelmRepository", "OCIRepository"] = "HelmRepository"
    name: str
    namespace: str = "flux-system"


class DcgmExporter(Model):
    chart: str = "dcgm-exporter"
    version: str
    source: HelmSource
    release_name: str = "dcgm-exporter"
    interval: str = "30m"
    port: int = 9400
    # The RuntimeClass of the NVIDIA container runtime: k3s registers `nvidia` (and ships the RuntimeClass)
    # but keeps runc as the default runtime, under which the exporter sees no GPU.
    runtime_class_name: str = "nvidia"
    values: dict[str, Any] = Field(default_factory=dict)  # merged over the component's values


class GpuMonitoring(Model):
    namespace: str = "monitoring"
    dcgm_exporter: DcgmExporter
    # Labels kube-prometheus-stack selects ServiceMonitors and PrometheusRules by.
    prometheus_labels: dict[str, str] = Field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    utilization_percent: int = Field(default=95, ge=1, le=100)
    framebuffer_percent: int = Field(default=90, ge=1, le=100)
    pending_for: str = "10m"


class DevicePlugin(Model):
    namespace: str = "kube-system"
    config_map: str = "nvidia-device-plugin-config"
    config_key: str = "default"  # the device plugin's `config.default`


class GpuConfig(Model):
    pools: list[GpuPool] = Field(min_length=1)
    priority_classes: list[GpuPriorityClass] = Field(
        default_factory=lambda: [
            GpuPriorityClass(name=n, value=v, description=d)
            for n, (v, d) in DIRECTIVE_PRIORITY_CLASSES.items()
        ]
    )
    tenants: list[GpuTenant] = Field(min_length=1)
    device_plugin: DevicePlugin = DevicePlugin()
    monitoring: GpuMonitoring

    @field_validator("pools")
    @classmethod
    def _unique_pools(cls, pools: list[GpuPool]) -> list[GpuPool]:
        seen: set[str] = set()
        for i, pool in enumerate(pools):
            if pool.advertised in seen:
                raise KeyedValueError((i,), f"pool {pool.advertised} is defined twice; merge the two entries")
            seen.add(pool.advertised)
        return pools

    @field_validator("priority_classes")
    @classmethod
    def _unique_classes(cls, classes: list[GpuPriorityClass]) -> list[GpuPriorityClass]:
        names = [pc.name for pc in classes]
        dup = first_duplicate(names)
        if dup:
            where = len(names) - 1 - names[::-1].index(dup)
            raise KeyedValueError((where, "name"), f"priority class {dup} is defined twice")
        return classes

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, tenants: list[GpuTenant], info: ValidationInfo) -> list[GpuTenant]:
        pools: list[GpuPool] = info.data.get("pools") or []
        classes = [pc.name for pc in info.data.get("priority_classes") or []]
        by_name = {p.advertised: p for p in pools}
        seen: dict[str, int] = {}
        for i, t in enumerate(tenants):
            if t.namespace in seen:
                raise KeyedValueError(
                    (i, "namespace"),
                    f"tenant {t.namespace} is listed twice "
                    f"(tenants[{seen[t.namespace]}] and tenants[{i}]); merge them",
                )
            seen[t.namespace] = i
            if classes and t.priority_class_name not in classes:
                raise KeyedValueError(
                    (i, "priorityClassName"),
                    f"tenant {t.namespace} uses priorityClassName {t.priority_class_name}, "
                    f"which is not one of the GPU priority classes ({', '.join(classes)})",
                )
            for name, share in t.pools.items():
                pool = by_name.get(name)
                if pools and pool is None:
                    raise KeyedValueError(
                        (i, "pools", name),
                        f"tenant {t.namespace} asks for unknown pool {name}; pools are {', '.join(by_name)}",
                    )
                if pool and share.reserved > pool.capacity:
                    raise KeyedValueError(
                        (i, "pools", name, "reserved"),
                        f"tenant {t.namespace} reserves {share.reserved} slices of {name}, "
                        f"but the pool has only {pool.capacity} ({pool.capacity_detail()})",
                    )
        for pool in pools:
            verdict = _verdict(pool, tenants)
            if not verdict.ok:
                raise ValueError(f"oversubscribed: {verdict.explain()}")
        return tenants

    @property
    def resources(self) -> list[str]:
        """Every GPU resource name the rules and the admission objects watch: the pools', then the known."""
        return resource_names([p.advertised for p in self.pools])

    def tenant(self, namespace: str) -> GpuTenant | None:
        return next((t for t in self.tenants if t.namespace == namespace), None)

    def pool(self, name: str) -> GpuPool:
        return next(p for p in self.pools if p.advertised == name)

    def verdicts(self) -> list[Verdict]:
        return [_verdict(p, self.tenants) for p in self.pools]

    def priority_class(self, name: str) -> GpuPriorityClass:
        return next(pc for pc in self.priority_classes if pc.name == name)

    def quota_hard(self, tenant: GpuTenant) -> dict[str, str]:
        """`requests.<resource>` per pool (0 where the tenant has no share): the only keys quota tracks."""
        return {
            f"requests.{p.advertised}": str(
                tenant.pools[p.advertised].cap if p.advertised in tenant.pools else 0
            )
            for p in self.pools
        }


def _verdict(pool: GpuPool, tenants: list[GpuTenant]) -> Verdict:
    claims = [
        Claim(t.namespace, t.pools[pool.advertised].cap, t.pools[pool.advertised].reserved)
        for t in tenants
        if pool.advertised in t.pools
    ]
    return prove(pool.advertised, pool.capacity, claims, pool.capacity_detail())


def advisories(gpu: GpuConfig, cluster: ClusterConfig) -> list[str]:
    """Interactions the directive did not foresee (design §7): reported, never silently changed."""
    notes: list[str] = []
    default = cluster.global_default()
    live = {pc.name: pc for pc in cluster.priority_classes}
    for pc in gpu.priority_classes:
        tenants = [t.namespace for t in gpu.tenants if t.priority_class_name == pc.name]
        nodes = sorted(
            {
                n
                for t in gpu.tenants
                if t.namespace in tenants
                for p in gpu.pools
                if p.advertised in t.pools
                for n in p.nodes
            }
        )
        if default and pc.value < default.value and tenants:
            notes.append(
                f"priority class {pc.name} ({pc.value}) is below the cluster globalDefault {default.name} "
                f"({default.value}): every pod without a class outranks the GPU pods of "
                f"{', '.join(tenants)}, which are preempted first on {', '.join(nodes) or 'their nodes'}"
            )
        old = live.get(pc.name)
        if old and old.value != pc.value:
            notes.append(
                f"priority class {pc.name} is {old.value} live and {pc.value} here: value is immutable, "
                f"so it is replaced; pods naming it are refused while it is missing"
            )
    return notes
