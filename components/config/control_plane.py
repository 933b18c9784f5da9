"""The control-plane section: the nodes as they are, and the three-server embedded-etcd target.

Everything the HA plan computes or renders (components/control_plane/) reads this model and trusts it;
every rule that must hold before a node config is written is checked here, so a bad plan fails at
`load()` with one line naming the key and the reason.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Model

# SQLite -> embedded etcd conversion by adding `cluster-init` exists from this release on (k3s docs).
MIN_K3S_FOR_CONVERSION = (1, 22, 2)
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s\d+$")


class Resources(Model):
    cores: float = Field(ge=0)
    memory_gi_b: float = Field(ge=0, alias="memoryGiB")


class Workload(Resources):
    """Work that stays on a node after the change (requests we plan for, not limits)."""

    name: str


class Gpu(Model):
    model: str
    count: int = Field(default=1, ge=1)


class Disk(Model):
    # The disk that holds the k3s data-dir (and so the etcd WAL).
    class_: Literal["nvme", "ssd", "hdd", "emmc"] = Field(alias="class")
    # Measured with fio (fdatasync, 2300-byte writes, the etcd guide's recipe); None = not measured yet.
    wal_fsync_p99_ms: float | None = Field(default=None, gt=0)


class PinnedPath(Model):
    """A node path that must never change: `current` is what the node runs with today.

    `desired` exists only so that an attempted change is visible in config and refused: the June 2025
    kubelet root-dir change is what destroyed every Longhorn volume.
    """

    current: str = Field(pattern=r"^/")
    desired: str | None = None


class NodePaths(Model):
    data_dir: PinnedPath
    kubelet_root_dir: PinnedPath


class ClusterFlags(Model):
    """Flags k3s requires to be identical on every server."""

    cluster_cidr: str
    service_cidr: str
    disable: list[str] = Field(default_factory=list)
    flannel_backend: str = "vxlan"
    disable_network_policy: bool = False
    secrets_encryption: bool = False

    @field_validator("cluster_cidr", "service_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a CIDR such as 10.42.0.0/16") from None
        return value


class FlagOverrides(Model):
    """Per-server values of the cluster-wide flags. Only there so a difference is caught, never rendered."""

    cluster_cidr: str | None = None
    service_cidr: str | None = None
    disable: list[str] | None = None
    flannel_backend: str | None = None
    disable_network_policy: bool | None = None
    secrets_encryption: bool | None = None


class Node(Model):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    address: str
    cores: int = Field(gt=0)
    memory_gi_b: float = Field(gt=0, alias="memoryGiB")
    disk: Disk
    # The NIC that carries the node address, and so etcd peer traffic if the node becomes a server.
    nic: Literal["onboard", "usb"]
    gpus: list[Gpu] = Field(default_factory=list)
    role: Literal["server", "agent"]
    workloads: list[Workload] = Field(default_factory=list)
    paths: NodePaths
    flag_overrides: FlagOverrides | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None
        return value

    @model_validator(mode="after")
    def _paths_pinned(self) -> Node:
        for key, flag in (("dataDir", "data-dir"), ("kubeletRootDir", "kubelet root-dir")):
            pin: PinnedPath = self.paths.data_dir if key == "dataDir" else self.paths.kubelet_root_dir
            if pin.desired is not None and pin.desired != pin.current:
                raise ValueError(
                    f"{self.name} paths.{key}: the {flag} would change from {pin.current} to {pin.desired}; "
                    "it is immutable (the June 2025 kubelet root-dir change destroyed every Longhorn "
                    "volume). "
                    "Drain the node, move its data off and reinstall it instead, or remove `desired`"
                )
        return self


class EtcdSnapshots(Model):
    schedule_cron: str
    retention: int = Field(ge=1)

    @field_validator("schedule_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"'{value}' is not a five-field cron expression such as '0 */6 * * *'")
        return value


class KubeVip(Model):
    version: str = Field(pattern=r"^v\d+\.\d+\.\d+$")
    image: str = "ghcr.io/kube-vip/kube-vip"
    # One name for every server: the DaemonSet carries a single value.
    interface: str
    # Registered in the cluster only from plan step "Hold the API VIP" on; until then output only.
    deploy: bool = False


class Reservations(Model):
    """Planning numbers (sources in docs/high-availability-plan.md)."""

    control_plane: Resources  # k3s server + embedded etcd, per server
    system: Resources  # OS, kubelet/containerd, Cilium and Longhorn agents, per node
    min_headroom: Resources  # what a server must keep free after everything else


class Target(Model):
    servers: list[str]
    vip: str
    dns_name: str
    tls_san: list[str]
    cluster_flags: ClusterFlags
    etcd_snapshots: EtcdSnapshots
    kube_vip: KubeVip

    @field_validator("vip")
    @classmethod
    def _vip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None
        return value


class ControlPlaneConfig(Model):
    k3s_version: str = Field(alias="k3sVersion")
    current_datastore: Literal["sqlite", "etcd"]
    nodes: list[Node] = Field(min_length=1)
    target: Target
    reservations: Reservations
    token_length: int = Field(default=64, ge=32)
    # Writing /etc/rancher/k3s/config.yaml over SSH needs pulumi_command, which this toolchain lacks.
    apply_over_ssh: Literal[False] = False

    @field_validator("k3s_version")
    @classmethod
    def _version(cls, value: str) -> str:
        match = _VERSION.match(value)
        if not match:
            raise ValueError(f"'{value}' is not a k3s version such as v1.32.5+k3s1")
        if tuple(int(g) for g in match.groups()) < MIN_K3S_FOR_CONVERSION:
            raise ValueError(
                f"{value} cannot convert SQLite to embedded etcd; upgrade to v1.22.2+k3s1 or later first"
            )
        return value

    @field_validator("apply_over_ssh", mode="before")
    @classmethod
    def _no_ssh(cls, value: object) -> object:
        if value is True:
            raise ValueError(
                "applying node configs over SSH is not built (no pulumi_command here); keep it false and "
                "copy the rendered configs as the plan's timeline says"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ControlPlaneConfig:
        self._check_addresses()
        self._check_servers()
        self._check_tls_san()
        self._check_flags()
        return self

    def _check_addresses(self) -> None:
        names = Counter(n.name for n in self.nodes)
        dup_names = sorted(k for k, v in names.items() if v > 1)
        if dup_names:
            raise ValueError(f"node {dup_names[0]} is listed more than once")
        owners: dict[str, list[str]] = {}
        for node in self.nodes:
            owners.setdefault(node.address, []).append(node.name)
        owners.setdefault(self.target.vip, []).append("the VIP")
        for address, who in owners.items():
            if len(who) > 1:
                raise ValueError(f"duplicate address {address}: used by {' and '.join(who)}")

    def _check_servers(self) -> None:
        known = {n.name for n in self.nodes}
        servers = self.target.servers
        for name in servers:
            if name not in known:
                raise ValueError(f"target server {name} is not among the nodes ({', '.join(sorted(known))})")
        if len(set(servers)) != len(servers):
            raise ValueError(f"target servers list a node twice: {', '.join(servers)}")
        n = len(servers)
        if n < 3:
            raise ValueError(
                f"{n} server(s) ({', '.join(servers)}) give no HA: etcd needs at least 3 to survive a failure"
            )
        if n % 2 == 0:
            raise ValueError(
                f"{n} servers ({', '.join(servers)}) is even: quorum {n // 2 + 1} tolerates no more failures "
                f"than {n - 1} servers do; use {n - 1} or {n + 1}"
            )
        current = [n.name for n in self.nodes if n.role == "server"]
        if len(current) == 1 and current[0] != servers[0]:
            # cluster-init converts the existing datastore; only the server that holds it can do that.
            raise ValueError(
                f"the first target server must be {current[0]}, today's server, which holds the datastore "
                f"to convert (got {servers[0]})"
            )

    def _check_tls_san(self) -> None:
        sans = set(self.target.tls_san)
        if self.target.vip not in sans:
            raise ValueError(
                f"target.tlsSan lacks the VIP {self.target.vip}; servers joining through it would fail TLS"
            )
        if self.target.dns_name not in sans:
            raise ValueError(
                f"target.tlsSan lacks the API name {self.target.dns_name}; "
                "kubeconfigs using it would fail TLS"
            )

    def _check_flags(self) -> None:
        cluster = self.target.cluster_flags
        for node in self.server_nodes():
            if node.flag_overrides is None:
                continue
            for field, value in node.flag_overrides:
                if value is None:
                    continue
                want = getattr(cluster, field)
                if value != want:
                    key = ClusterFlags.model_fields[field].alias or field
                    raise ValueError(
                        f"cluster-wide flag {key} differs: server {node.name} sets {_show(value)} but the "
                        f"cluster uses {_show(want)}; every server must run the same value"
                    )

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def server_nodes(self) -> list[Node]:
        return [self.node(name) for name in self.target.servers]

    def first_server(self) -> Node:
        return self.node(self.target.servers[0])


def _show(value: object) -> str:
    if isinstance(value, list):
        return "[" + ",".join(value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


__all__ = [
    "ClusterFlags",
    "ControlPlaneConfig",
    "Disk",
    "EtcdSnapshots",
    "FlagOverrides",
    "Gpu",
    "KubeVip",
    "Node",
    "NodePaths",
    "PinnedPath",
    "Reservations",
    "Resources",
    "Target",
    "Workload",
]
