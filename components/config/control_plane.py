"""The control-plane section: the intent for the HA control plane, joined with the cluster's facts.

The stack config states intent only (the target servers, the VIP, reservations, and per node what the facts
lack: disk, NIC, pinned paths, sizes the repo does not give). Today's servers, datastore and k3s version and
each node's address, role, hardware and GPUs come from the facts the config is judged against
(`judging_facts`); a config key that restates or contradicts one is refused with the fact's `file:line`
(control_plane_facts.py).

Everything the HA plan computes or renders (components/control_plane/) reads this model and trusts it;
every rule that must hold before a node config is written is checked here, so a bad plan fails at
`load()` with one line naming the key and the reason.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

import facts
from facts.model import ControlPlane as ControlPlaneFact

from . import control_plane_facts as cpf
from .base import KeyedValueError, Model, judging_facts
from .live_configs import check_captured, keys_owned, show
from .node import Node, NodeIntent, Resources

# SQLite -> embedded etcd conversion by adding `cluster-init` exists from this release on (k3s docs); only
# checked when the facts say the cluster runs on SQLite.
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
    # Per node, what the facts lack (`NodeIntent`); `nodes` gives the nodes joined with their facts.
    node_intents: list[NodeIntent] = Field(alias="nodes", min_length=1)
    target: Target
    reservations: Reservations
    token_length: int = Field(default=64, ge=32)
    # Writing /etc/rancher/k3s/config.yaml over SSH needs pulumi_command, which this toolchain lacks.
    apply_over_ssh: Literal[False] = False
    _nodes: list[Node] = PrivateAttr()
    _today: ControlPlaneFact = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _no_facts_retyped(cls, raw: Any, info: ValidationInfo) -> Any:
        if isinstance(raw, dict):
            cpf.check_section(raw, judging_facts(info))
        return raw

    @field_validator("node_intents", mode="before")
    @classmethod
    def _known_nodes(cls, raw: Any, info: ValidationInfo) -> Any:
        if isinstance(raw, list):
            f = judging_facts(info)
            for i, item in enumerate(raw):
                if isinstance(item, dict):
                    try:
                        cpf.check_node(item, f)
                    except KeyedValueError as err:
                        raise KeyedValueError((i, *err.key), str(err)) from None
        return raw

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
    def _consistent(self, info: ValidationInfo) -> ControlPlaneConfig:
        f = judging_facts(info)
        self._today = f.control_plane
        self._check_names()
        cpf.check_coverage([n.name for n in self.node_intents], f)
        self._nodes = [self._resolve(i, intent, f) for i, intent in enumerate(self.node_intents)]
        self._check_version()
        self._check_vip()
        self._check_servers()
        self._check_tls_san()
        self._check_server_sizes()
        self._check_addresses_outside_cidrs()
        check_captured(
            self.nodes, self.target.servers, self.target.cluster_flags.as_k3s(), self.target.tls_san
        )
        return self

    # --- what the facts say, joined with the intent ---------------------------------------------------

    # Computed fields: part of the section's dump, so what is drawn from it (docs/pictures.inputs digests
    # the dump) changes when the facts do; not part of the schema (validation mode), so never typed.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def nodes(self) -> list[Node]:
        """Every node of the cluster (facts) with its intent, in the section's order."""
        return self._nodes

    @computed_field  # type: ignore[prop-decorator]
    @property
    def today(self) -> ControlPlaneFact:
        """The control plane as the facts say it is today (servers, datastore, version, API endpoint)."""
        return self._today

    @property
    def k3s_version(self) -> str:
        return self._today.k3s_version

    @property
    def current_datastore(self) -> str:
        return self._today.datastore

    @property
    def current_servers(self) -> list[str]:
        return list(self._today.servers)

    @staticmethod
    def _resolve(index: int, intent: NodeIntent, f: facts.model.Facts) -> Node:
        try:
            return Node.model_validate(cpf.resolved_node(intent.model_dump(by_alias=True), f))
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            cause = (first.get("ctx") or {}).get("error")
            sub = cause.key if isinstance(cause, KeyedValueError) else ()
            loc = tuple(x for x in first["loc"] if x not in ("function-after", "function-before"))
            raise KeyedValueError(
                ("nodes", index, *loc, *sub), str(first["msg"]).removeprefix("Value error, ")
            ) from None

    # --- checks ---------------------------------------------------------------------------------------

    def _check_names(self) -> None:
        names = [n.name for n in self.node_intents]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise KeyedValueError(("nodes", i, "name"), f"node {name} is listed more than once")

    def _check_version(self) -> None:
        if self.current_datastore != "sqlite":
            return
        match = _VERSION.match(self.k3s_version)
        if match and tuple(int(g) for g in match.groups()) < MIN_K3S_FOR_CONVERSION:
            raise KeyedValueError(
                ("target", "servers"),
                f"the cluster runs k3s {self.k3s_version} on SQLite ({self._today.k3s_version_source}), "
                "which cannot convert to embedded etcd; upgrade to v1.22.2+k3s1 or later first",
            )

    def _check_vip(self) -> None:
        owners = [n for n in self.nodes if n.address == self.target.vip]
        if owners:
            raise KeyedValueError(
                ("target", "vip"),
                f"duplicate address {self.target.vip}: used by {owners[0].name} ({owners[0].source}) "
                "and the VIP",
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
        current = self.current_servers
        if current[0] != servers[0]:
            # The others join the datastore today's server holds; only it can start the target.
            held = (
                "the etcd datastore the others join"
                if self.current_datastore == "etcd"
                else ("the SQLite datastore to convert with cluster-init")
            )
            raise KeyedValueError(
                ("target", "servers", 0),
                f"the first target server must be {current[0]}, the cluster's server today "
                f"({self._today.servers_source}), which holds {held} (got {servers[0]})",
            )
        dropped = [name for name in current if name not in servers]
        if dropped:
            raise KeyedValueError(
                ("target", "servers"),
                f"{dropped[0]} is a server today ({self._today.servers_source}) but not a target server; "
                "removing an etcd member is not part of this plan",
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
            cores, memory = node.target_size
            for key, have, cp, system, unit in (
                ("memoryGiB", memory, res.control_plane.memory_gi_b, res.system.memory_gi_b, "GiB"),
                ("cores", cores, res.control_plane.cores, res.system.cores, "cores"),
            ):
                if have < cp + system:
                    where = (
                        ("nodes", self._index(node.name), "growTo" if node.grow_to else key)
                        if node.grow_to or node.resources_source is None
                        else ("target", "servers", self.target.servers.index(node.name))
                    )
                    fact = f" ({node.resources_source})" if node.resources_source and not node.grow_to else ""
                    raise KeyedValueError(
                        where,
                        f"server {node.name} has {show(have)} {unit}{fact}, less than the "
                        f"{show(cp + system)} "
                        f"{unit} its control-plane ({show(cp)}) and system ({show(system)}) reservations "
                        "need before any workload; pick another server or give it more",
                    )

    def _check_addresses_outside_cidrs(self) -> None:
        flags = self.target.cluster_flags
        nets = {"clusterCidr": flags.cluster_cidr, "serviceCidr": flags.service_cidr}
        places = [(("vip",), "the VIP", self.target.vip)] + [
            (("clusterFlags",), f"{n.name}, {n.source}", n.address) for n in self.nodes
        ]
        for key, who, address in places:
            for net_key, net in nets.items():
                if ipaddress.ip_address(address) in ipaddress.ip_network(net):
                    where = ("target", *key, net_key) if key[0] == "clusterFlags" else ("target", *key)
                    raise KeyedValueError(
                        where,
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
