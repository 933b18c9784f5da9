"""The captured config.yaml files checked together: the keys the stack owns per role (ADR 0014), the
running server's flags against the model, and the flags k3s requires to be equal on every server.

Plain functions over nodes and values, so the model (control_plane.py) calls them without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import k3s_config_file as k3s
from .base import KeyedValueError
from .node import Node

# Keys the stack owns in a node's config.yaml; every other key is the node's and is kept.
AGENT_KEYS = ("server", "token", "token-file")
# The flags every server must agree on (k3s refuses to join a server whose flags differ).
CLUSTER_FLAG_KEYS = (
    "cluster-cidr",
    "service-cidr",
    "disable",
    "flannel-backend",
    "disable-network-policy",
    "secrets-encryption",
)
SERVER_KEYS = (
    "cluster-init",
    "server",
    "token",
    "token-file",
    "tls-san",
    *CLUSTER_FLAG_KEYS,
    "etcd-snapshot-schedule-cron",
    "etcd-snapshot-retention",
)


def keys_owned(server: bool) -> tuple[str, ...]:
    return SERVER_KEYS if server else AGENT_KEYS


def check_captured(
    nodes: Sequence[Node], servers: Sequence[str], cluster_flags: dict[str, object], tls_san: Sequence[str]
) -> None:
    """Raise a KeyedValueError naming `nodes[i].liveConfig` for the first captured file that appends to
    an owned key, would change a running server's cluster flag or drop its SAN, or differs from another
    target server in a flag k3s requires to be equal."""
    index = {n.name: i for i, n in enumerate(nodes)}
    for node in nodes:
        live = node.live
        if live is None:
            continue
        key = ("nodes", index[node.name], "liveConfig")
        owned = keys_owned(node.name in servers)
        plus = [k for k in live.keys if k.endswith("+") and k[:-1] in owned]
        if plus:
            raise KeyedValueError(
                key,
                f"{node.name}'s config.yaml appends to {plus[0][:-1]} ({plus[0]}), which k3s-home owns "
                "on this node; fold the values into the stack config and capture again",
            )
        if node.role == "server":
            _check_running_server(node, key, cluster_flags, tls_san)
    captured = [n for name in servers for n in nodes if n.name == name and n.live is not None]
    merged = {n.name: {**n.live.values, **cluster_flags} for n in captured if n.live is not None}
    for flag, default in k3s.SHARED_SERVER_DEFAULTS.items():
        values = {name: k3s.effective(vals, flag) for name, vals in merged.items()}
        if len(set(map(repr, values.values()))) > 1:
            first = captured[0]
            odd = next(n for n in captured if repr(values[n.name]) != repr(values[first.name]))
            raise KeyedValueError(
                ("nodes", index[odd.name], "liveConfig"),
                f"{flag} differs across servers: {first.name} {show(values[first.name])}, {odd.name} "
                f"{show(values[odd.name])} (k3s default {show(default)}); k3s refuses a server whose "
                "shared flags differ: set the same value in both config.yaml files and capture again",
            )


def _check_running_server(
    node: Node, key: tuple, cluster_flags: dict[str, object], tls_san: Sequence[str]
) -> None:
    live = node.live
    assert live is not None
    # k3s always adds the node's own address and name; any other SAN is one clients may rely on.
    dropped = [
        san
        for san in k3s.as_list(live.values.get("tls-san"))
        if san not in tls_san and san not in (node.address, node.name)
    ]
    if dropped:
        raise KeyedValueError(
            key,
            f"{node.name} serves tls-san {dropped[0]} today, which target.tlsSan would drop; "
            "clients using it would fail TLS: add it to target.tlsSan",
        )
    for flag, want in cluster_flags.items():
        runs = _effective_flag(live.values, flag)
        if runs != _comparable(flag, want):
            raise KeyedValueError(
                key,
                f"{node.name} runs {flag} {show(runs)} but target.clusterFlags sets {show(want)}; a "
                "cluster-wide flag cannot change on a running cluster: make the model match it",
            )


def show(value: object) -> str:
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
