"""The control-plane section: the nodes as they are, and the three-server embedded-etcd target.

Everything the HA plan computes or renders (components/control_plane/) reads this model and trusts it;
every rule that must hold before a node config is written is checked here, so a bad plan fails at
`load()` with one line naming the key and the reason.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import KeyedValueError, Model
from .live_configs import check_captured, keys_owned, show
from .node import Node, Resources

# SQLite -> embedded etcd conversion by adding `cluster-init` exists from this release on (k3s docs).
MIN_K3S_FOR_CONVERSION = (1, 22, 2)
_VERSION = re.compile(r"^v(\d+)\.(\d+)\.(\d+)\+k3s\d+$")


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
        self._check_addresses_outside_cidrs()
        check_captured(
            self.nodes, self.target.servers, self.target.cluster_flags.as_k3s(), self.target.tls_san
        )
        return self

    def _check_addresses(self) -> None:
        names = [n.name for n in self.nodes]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise KeyedValueError(("nodes", i, "name"), f"node {name} is listed more than once")
        owners: dict[str, list[str]] = {}
        for i, node in enumerate(self.nodes):
            owners.setdefault(node.address, []).append(node.name)
            if len(owners[node.address]) > 1:
                who = " and ".join(owners[node.address])
                raise KeyedValueError(
                    ("nodes", i, "address"), f"duplicate address {node.address}: used by {who}"
                )
        if self.target.vip in owners:
            raise KeyedValueError(
                ("target", "vip"),
                f"duplicate address {self.target.vip}: used by "
                f"{' and '.join(owners[self.target.vip])} and the VIP",
            )

    def _check_servers(self) -> None:
        known = {n.name for n in self.nodes}
        servers = self.target.servers
        for i, name in enumerate(servers):
            if name not in known:
                raise KeyedValueError(
                    ("target", "servers", i),
                    f"target server {name} is not among the nodes ({', '.join(sorted(known))})",
                )
            if name in servers[:i]:
                raise KeyedValueError(
                    ("target", "servers", i), f"target servers list a node twice: {', '.join(servers)}"
                )
        n = len(servers)
        if n < 3:
            raise KeyedValueError(
                ("target", "servers"),
                f"{n} server(s) ({', '.join(servers)}) give no HA: "
                "etcd needs at least 3 to survive a failure",
            )
        if n % 2 == 0:
            raise KeyedValueError(
                ("target", "servers"),
                f"{n} servers ({', '.join(servers)}) is even: quorum {n // 2 + 1} tolerates no more failures "
                f"than {n - 1} servers do; use {n - 1} or {n + 1}",
            )
        current = [n.name for n in self.nodes if n.role == "server"]
        if len(current) == 1 and current[0] != servers[0]:
            # cluster-init converts the existing datastore; only the server that holds it can do that.
            raise KeyedValueError(
                ("target", "servers", 0),
                f"the first target server must be {current[0]}, today's server, which holds the datastore "
                f"to convert (got {servers[0]})",
            )

    def _check_tls_san(self) -> None:
        sans = set(self.target.tls_san)
        if self.target.vip not in sans:
            raise KeyedValueError(
                ("target", "tlsSan"),
                f"target.tlsSan lacks the VIP {self.target.vip}; servers joining through it would fail TLS",
            )
        if self.target.dns_name not in sans:
            raise KeyedValueError(
                ("target", "tlsSan"),
                f"target.tlsSan lacks the API name {self.target.dns_name}; "
                "kubeconfigs using it would fail TLS",
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
                        f"server {node.name} has {show(have)} {unit}, less than the {show(cp + system)} "
                        f"{unit} its control-plane ({show(cp)}) and system ({show(system)}) reservations "
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

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def server_nodes(self) -> list[Node]:
        return [self.node(name) for name in self.target.servers]

    def first_server(self) -> Node:
        return self.node(self.target.servers[0])


def owned_keys(node: Node, cfg: ControlPlaneConfig) -> tuple[str, ...]:
    """The keys the stack owns in `node`'s config.yaml, by its target role (ADR 0014)."""
    return keys_owned(node.name in cfg.target.servers)
