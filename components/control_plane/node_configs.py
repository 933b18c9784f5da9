"""Each node's /etc/rancher/k3s/config.yaml: the node's captured file with the keys the stack owns merged in.

The stack owns a declared set of keys per role (`owned_keys`, ADR 0014); every other key of the captured
file is kept byte for byte (node labels, kubelet and API server args, `disable-kube-proxy` under Cilium,
`default-runtime`, ...). The data-dir and the kubelet root-dir are never written: the model checks its
pins against the captured file and the plan has the operator confirm them on the node.
"""

from __future__ import annotations

import textwrap
from typing import Any

from components.config import k3s_config_file as k3s
from components.config.control_plane import ControlPlaneConfig, owned_keys
from components.config.node import Node

API_PORT = 6443
CONFIG_PATH = k3s.CONFIG_PATH
# Stands in for the secret in goldens and previews; the real configs are the secret nodeConfigs outputs.
TOKEN_PLACEHOLDER = "REPLACE_WITH_K3S_TOKEN"


def api_url(cfg: ControlPlaneConfig) -> str:
    # Join through the VIP, not the DNS name: bootstrapping then depends on ARP only, not on DNS.
    return f"https://{cfg.target.vip}:{API_PORT}"


def owned_values(node: Node, cfg: ControlPlaneConfig, token: str) -> dict[str, Any]:
    """The values of the node's owned keys, in the order new keys are appended. An owned key missing
    here is removed from the node's file (e.g. `server` on the first server, `cluster-init` elsewhere)."""
    t = cfg.target
    out: dict[str, Any] = {}
    if node.name == t.servers[0]:
        out["cluster-init"] = True
    else:
        out["server"] = api_url(cfg)
    out["token"] = token
    if node.name in t.servers:
        out["tls-san"] = list(t.tls_san)
        out.update(t.cluster_flags.as_k3s())
        out["etcd-snapshot-schedule-cron"] = t.etcd_snapshots.schedule_cron
        out["etcd-snapshot-retention"] = t.etcd_snapshots.retention
    return out


def header(node: Node, cfg: ControlPlaneConfig) -> list[str]:
    role = "server" if node.name in cfg.target.servers else "agent"
    lines = [
        f"{CONFIG_PATH} on {node.name} ({role}), merged by components/control_plane/node_configs.py.",
        "",
        "Keys owned by k3s-home (set from the stack config, absent ones removed):",
    ]
    lines += textwrap.wrap(
        ", ".join(owned_keys(node, cfg)),
        width=88,
        initial_indent="  ",
        subsequent_indent="  ",
        break_on_hyphens=False,
    )
    lines += [
        "Every other line is this node's own, kept as captured in plan step 1.",
        "Never add data-dir or a kubelet root-dir here: both are pinned (June 2025 data loss).",
    ]
    return lines


def render_node_config(node: Node, cfg: ControlPlaneConfig, token: str) -> str | None:
    """The merged file, or None while the node's live config is not captured (nothing to merge into)."""
    live = node.live
    if live is None:
        return None
    return k3s.merge(live, owned_keys(node, cfg), owned_values(node, cfg, token), header(node, cfg))


def config_changes(node: Node, cfg: ControlPlaneConfig) -> list[tuple[str, str, str]]:
    """(key, value today, value written) for every owned key the merge changes; the token shows as set."""
    live = node.live
    if live is None:
        return []
    values = owned_values(node, cfg, TOKEN_PLACEHOLDER)
    changes = []
    for key in owned_keys(node, cfg):
        before = live.values.get(key, live.values.get(f"{key}+"))
        after = values.get(key)
        if before == after or (key == "token" and after is not None):
            continue
        changes.append((key, _show(before), _show(after)))
    return changes


def _show(value: Any) -> str:
    if value is None:
        return "(absent)"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
