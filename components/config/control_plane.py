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

from pydantic import Field, ValidationInfo, field_validator, model_validator

from . import k3s_config_file as k3s
from .base import KeyedValueError, Model

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

    @model_validator(mode="after")
    def _apart(self) -> ClusterFlags:
        pods, services = ipaddress.ip_network(self.cluster_cidr), ipaddress.ip_network(self.service_cidr)
        if pods.version == services.version and pods.overlaps(services):
            raise KeyedValueError(
                ("serviceCidr",),
                f"{self.service_cidr} overlaps clusterCidr {self.cluster_cidr}: a Service IP would also be "
                "a pod IP and traffic to one reaches the other; pick ranges that do not overlap",
            )
        return self

    def as_k3s(self) -> dict[str, object]:
        """The flags as config.yaml keys and values, in the order they are written."""
        return {
            "cluster-cidr": self.cluster_cidr,
            "service-cidr": self.service_cidr,
            "disable": list(self.disable),
            "flannel-backend": self.flannel_backend,
            "disable-network-policy": self.disable_network_policy,
            "secrets-encryption": self.secrets_encryption,
        }


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
    # The node's /etc/rancher/k3s/config.yaml as captured in plan step 1, secrets dropped
    # (`python -m components.control_plane.capture`). No config is rendered for a node without it.
    live_config: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None
        return value

    @field_validator("live_config")
    @classmethod
    def _live(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is None:
            return None
        name = info.data.get("name", "?")
        try:
            live = k3s.parse(text)
        except ValueError as err:
            raise ValueError(f"{name}'s config.yaml {err}") from None
        secrets = k3s.secret_keys(live)
        if secrets:
            raise ValueError(
                f"{name}'s config.yaml holds {', '.join(secrets)}: secrets never enter the stack config; "
                f"capture with `python -m components.control_plane.capture {name}`, which drops them"
            )
        for key, expected in (("node-name", name), ("node-ip", info.data.get("address"))):
            if key in live.values and str(live.values[key]) != expected:
                raise ValueError(
                    f"{name}'s config.yaml sets {key} {live.values[key]} but the model says {expected}; "
                    "fix the model (the node's identity never changes here)"
                )
        paths: NodePaths | None = info.data.get("paths")
        if paths is not None:
            checks = (
                ("dataDir", "data-dir", k3s.data_dir(live.values), paths.data_dir.current),
                (
                    "kubeletRootDir",
                    "kubelet root-dir",
                    k3s.kubelet_root_dir(live.values),
                    paths.kubelet_root_dir.current,
                ),
            )
            for key, flag, runs, pin in checks:
                if runs != pin:
                    raise ValueError(
                        f"{name}'s config.yaml gives {flag} {runs} but paths.{key}.current pins {pin}; pin "
                        "what the node really uses (confirm it on the node, plan step 1): writing a config "
                        "over a wrong pin repeats the June 2025 data loss"
                    )
        return text

    @property
    def live(self) -> k3s.ConfigFile | None:
        return None if self.live_config is None else k3s.parse(self.live_config)

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
    # Not set: each server's kube-vip binds to its own default-route interface (docs/upstream-facts.md).
    interface: None = None
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

    @field_validator("kube_vip", mode="before")
    @classmethod
    def _no_interface(cls, value: object) -> object:
        if isinstance(value, dict) and value.get("interface") is not None:
            raise KeyedValueError(
                ("interface",),
                "one interface name cannot fit every server (k3s1 and k3s2 carry their address on USB NICs); "
                "remove it: kube-vip binds to each server's default-route interface",
            )
        return value

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
        self._check_server_sizes()
        self._check_live_configs()
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

    def _index(self, name: str) -> int:
        return next(i for i, n in enumerate(self.nodes) if n.name == name)

    def _check_server_sizes(self) -> None:
        """A server must at least hold its control-plane and system reservations (before any workload)."""
        res = self.reservations
        for node in self.nodes:
            if node.role != "server" and node.name not in self.target.servers:
                continue
            for key, have, cp, system, unit in (
                ("memoryGiB", node.memory_gi_b, res.control_plane.memory_gi_b, res.system.memory_gi_b, "GiB"),
                ("cores", node.cores, res.control_plane.cores, res.system.cores, "cores"),
            ):
                if have < cp + system:
                    raise KeyedValueError(
                        ("nodes", self._index(node.name), key),
                        f"server {node.name} has {_show(have)} {unit}, less than the {_show(cp + system)} "
                        f"{unit} its control-plane ({_show(cp)}) and system ({_show(system)}) reservations "
                        "need before any workload; pick another server or give it more",
                    )

    def _check_addresses_outside_cidrs(self) -> None:
        flags = self.target.cluster_flags
        nets = {"clusterCidr": flags.cluster_cidr, "serviceCidr": flags.service_cidr}
        places = [(("vip",), "the VIP", self.target.vip)] + [
            (("nodes", i, "address"), n.name, n.address) for i, n in enumerate(self.nodes)
        ]
        for key, who, address in places:
            for net_key, net in nets.items():
                if ipaddress.ip_address(address) in ipaddress.ip_network(net):
                    prefix = () if key[0] == "nodes" else ("target",)
                    raise KeyedValueError(
                        prefix + key,
                        f"{address} ({who}) lies inside target.clusterFlags.{net_key} {net}; node addresses "
                        "must stay outside the pod and Service ranges",
                    )

    def _check_live_configs(self) -> None:
        """Captured configs agree with the model where it owns keys, and servers agree with each other."""
        self._check_addresses_outside_cidrs()
        owned_flags = self.target.cluster_flags.as_k3s()
        for node in self.nodes:
            live = node.live
            if live is None:
                continue
            key = ("nodes", self._index(node.name), "liveConfig")
            plus = [k for k in live.keys if k.endswith("+") and k[:-1] in owned_keys(node, self)]
            if plus:
                raise KeyedValueError(
                    key,
                    f"{node.name}'s config.yaml appends to {plus[0][:-1]} ({plus[0]}), which k3s-home owns "
                    "on this node; fold the values into the stack config and capture again",
                )
            if node.role == "server":
                # k3s always adds the node's own address and name; any other SAN clients may rely on.
                dropped = [
                    san
                    for san in k3s.as_list(live.values.get("tls-san"))
                    if san not in self.target.tls_san and san not in (node.address, node.name)
                ]
                if dropped:
                    raise KeyedValueError(
                        key,
                        f"{node.name} serves tls-san {dropped[0]} today, which target.tlsSan would drop; "
                        "clients using it would fail TLS: add it to target.tlsSan",
                    )
                for flag, want in owned_flags.items():
                    runs = _effective_flag(live.values, flag)
                    if runs != _comparable(flag, want):
                        raise KeyedValueError(
                            key,
                            f"{node.name} runs {flag} {_show(runs)} but target.clusterFlags sets "
                            f"{_show(want)}; a cluster-wide flag cannot change on a running cluster: make "
                            "the model match it",
                        )
        captured = [n for n in self.server_nodes() if n.live is not None]
        merged = {n.name: {**n.live.values, **owned_flags} for n in captured if n.live is not None}
        for flag in k3s.SHARED_SERVER_DEFAULTS:
            values = {name: k3s.effective(vals, flag) for name, vals in merged.items()}
            if len(set(map(repr, values.values()))) > 1:
                first = captured[0]
                odd = next(n for n in captured if repr(values[n.name]) != repr(values[first.name]))
                raise KeyedValueError(
                    ("nodes", self._index(odd.name), "liveConfig"),
                    f"{flag} differs across servers: {first.name} {_show(values[first.name])}, {odd.name} "
                    f"{_show(values[odd.name])} (k3s default {_show(k3s.SHARED_SERVER_DEFAULTS[flag])}); k3s "
                    "refuses a server whose shared flags differ: set the same value in both config.yaml "
                    "files and capture again",
                )

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def server_nodes(self) -> list[Node]:
        return [self.node(name) for name in self.target.servers]

    def first_server(self) -> Node:
        return self.node(self.target.servers[0])


def _show(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(str, value)) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _comparable(flag: str, value: object) -> object:
    """A cluster flag in the form `_effective_flag` returns."""
    if flag == "disable":
        return sorted(k3s.as_list(value))
    return k3s.normalized(flag, value)


def _effective_flag(values: dict, flag: str) -> object:
    if flag == "disable":
        return sorted(k3s.as_list(values.get("disable")))
    return k3s.effective(values, flag)


# Keys the stack owns in a node's config.yaml (ADR 0013); every other key is the node's and is kept.
AGENT_KEYS = ("server", "token", "token-file")
SERVER_KEYS = (
    "cluster-init",
    "server",
    "token",
    "token-file",
    "tls-san",
    "cluster-cidr",
    "service-cidr",
    "disable",
    "flannel-backend",
    "disable-network-policy",
    "secrets-encryption",
    "etcd-snapshot-schedule-cron",
    "etcd-snapshot-retention",
)


def owned_keys(node: Node, cfg: ControlPlaneConfig) -> tuple[str, ...]:
    return SERVER_KEYS if node.name in cfg.target.servers else AGENT_KEYS


__all__ = [
    "ClusterFlags",
    "ControlPlaneConfig",
    "Disk",
    "EtcdSnapshots",
    "Gpu",
    "KubeVip",
    "Node",
    "NodePaths",
    "PinnedPath",
    "Reservations",
    "Resources",
    "Target",
    "Workload",
    "owned_keys",
]
