"""Each node's /etc/rancher/k3s/config.yaml, from the model."""

from __future__ import annotations

from typing import Any

import yaml

from components.config.control_plane import ControlPlaneConfig, Node

API_PORT = 6443
CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
# Stands in for the secret in goldens and previews; the real configs are the secret nodeConfigs outputs.
TOKEN_PLACEHOLDER = "REPLACE_WITH_K3S_TOKEN"


def api_url(cfg: ControlPlaneConfig) -> str:
    # Join through the VIP, not the DNS name: bootstrapping then depends on ARP only, not on DNS.
    return f"https://{cfg.target.vip}:{API_PORT}"


def node_config(node: Node, cfg: ControlPlaneConfig, token: str) -> dict[str, Any]:
    """The keys of the node's config.yaml, in the order they are written."""
    t = cfg.target
    out: dict[str, Any] = {}
    server = node.name in t.servers
    if node.name == t.servers[0]:
        out["cluster-init"] = True
    else:
        out["server"] = api_url(cfg)
    out["token"] = token
    out["node-name"] = node.name
    out["node-ip"] = node.address
    if server:
        flags_ = t.cluster_flags
        out["tls-san"] = list(t.tls_san)
        out["cluster-cidr"] = flags_.cluster_cidr
        out["service-cidr"] = flags_.service_cidr
        out["disable"] = list(flags_.disable)
        out["flannel-backend"] = flags_.flannel_backend
        out["disable-network-policy"] = flags_.disable_network_policy
        out["secrets-encryption"] = flags_.secrets_encryption
        out["etcd-snapshot-schedule-cron"] = t.etcd_snapshots.schedule_cron
        out["etcd-snapshot-retention"] = t.etcd_snapshots.retention
    # Written out although they are the k3s defaults: the pin makes any change a visible diff.
    out["data-dir"] = node.paths.data_dir.current
    out["kubelet-arg"] = [f"root-dir={node.paths.kubelet_root_dir.current}"]
    return out


def render_node_config(node: Node, cfg: ControlPlaneConfig, token_placeholder: str) -> str:
    role = "server" if node.name in cfg.target.servers else "agent"
    head = (
        f"# {CONFIG_PATH} on {node.name} ({role}), rendered by k3s-home "
        "components/control_plane/node_configs.py.\n"
        "# data-dir and kubelet root-dir are pinned: never edit them (June 2025 data loss).\n"
    )
    return head + yaml.safe_dump(node_config(node, cfg, token_placeholder), sort_keys=False, width=200)
