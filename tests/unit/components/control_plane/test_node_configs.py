"""Each node's rendered k3s config.yaml."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config.control_plane import ControlPlaneConfig
from components.control_plane.node_configs import render_node_config
from tests.unit.components.control_plane.helpers import node_raw, variant

CLUSTER_KEYS = (
    "cluster-cidr",
    "service-cidr",
    "disable",
    "flannel-backend",
    "disable-network-policy",
    "secrets-encryption",
)


def rendered(cp: ControlPlaneConfig, name: str) -> dict[str, Any]:
    return yaml.safe_load(render_node_config(cp.node(name), cp, "TOKEN"))


def test_first_server_inits_the_cluster(real_config):
    cp = real_config.control_plane
    conf = rendered(cp, "k3s1")
    assert conf["cluster-init"] is True
    assert "server" not in conf
    assert conf["token"] == "TOKEN"
    assert conf["tls-san"] == ["192.168.10.20", "k3s-api.fletcherlabs.net"]
    assert conf["etcd-snapshot-schedule-cron"] == "0 */6 * * *"
    assert conf["etcd-snapshot-retention"] == 28


@pytest.mark.parametrize("name", ["k3s2", "k3s3"])
def test_other_servers_join_through_the_vip(real_config, name):
    conf = rendered(real_config.control_plane, name)
    assert conf["server"] == "https://192.168.10.20:6443"
    assert "cluster-init" not in conf
    assert conf["token"] == "TOKEN"
    assert conf["tls-san"] == ["192.168.10.20", "k3s-api.fletcherlabs.net"]


def test_cluster_flags_identical_on_every_server(real_config):
    cp = real_config.control_plane
    values = {name: tuple(str(rendered(cp, name)[k]) for k in CLUSTER_KEYS) for name in cp.target.servers}
    assert len(set(values.values())) == 1, values


def test_overrides_are_never_rendered(real_raw):
    def same(cp):
        node_raw(cp, "k3s2")["flagOverrides"] = {"clusterCidr": "10.42.0.0/16"}

    cp = variant(real_raw, same)
    assert "flagOverrides" not in render_node_config(cp.node("k3s2"), cp, "T")


@pytest.mark.parametrize("name", ["k3s1", "k3s2", "k3s3", "k3s4"])
def test_paths_are_pinned_to_current(real_config, name):
    cp = real_config.control_plane
    conf = rendered(cp, name)
    node = cp.node(name)
    assert conf["data-dir"] == node.paths.data_dir.current
    assert conf["kubelet-arg"] == [f"root-dir={node.paths.kubelet_root_dir.current}"]


def test_agent_config_has_no_server_flags(real_config):
    conf = rendered(real_config.control_plane, "k3s4")
    assert conf["server"] == "https://192.168.10.20:6443"
    assert not set(conf) & {"cluster-init", "tls-san", "etcd-snapshot-schedule-cron", *CLUSTER_KEYS}


def test_config_follows_the_model(real_raw):
    def moved(cp):
        cp["target"]["vip"] = "192.168.10.19"
        cp["target"]["tlsSan"] = ["192.168.10.19", cp["target"]["dnsName"]]
        cp["target"]["etcdSnapshots"] = {"scheduleCron": "15 3 * * *", "retention": 7}

    cp = variant(real_raw, moved)
    conf = rendered(cp, "k3s3")
    assert conf["server"] == "https://192.168.10.19:6443"
    assert (conf["etcd-snapshot-schedule-cron"], conf["etcd-snapshot-retention"]) == ("15 3 * * *", 7)
