"""Each node's config.yaml: the captured file with the owned keys merged in, every other key kept."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.config import k3s_config_file as k3s
from components.config.control_plane import ControlPlaneConfig
from components.config.live_configs import AGENT_KEYS, CLUSTER_FLAG_KEYS, SERVER_KEYS
from components.control_plane.node_configs import config_changes, render_node_config
from tests.unit.components.control_plane.helpers import NODES, captured_config, live_text, node_raw, variant


@pytest.fixture
def cp(real_raw) -> ControlPlaneConfig:
    return captured_config(real_raw)


def rendered(cp: ControlPlaneConfig, name: str) -> dict[str, Any]:
    text = render_node_config(cp.node(name), cp, "TOKEN")
    assert text is not None
    return yaml.safe_load(text)


def test_no_config_without_a_captured_file(real_config):
    # The real stack has captured nothing yet: rendering would replace each node's own keys.
    cp = real_config.control_plane
    assert [render_node_config(n, cp, "T") for n in cp.nodes] == [None] * len(cp.nodes)
    assert [config_changes(n, cp) for n in cp.nodes] == [[]] * len(cp.nodes)


def test_first_server_keeps_its_etcd(cp):
    # k3s-master1 runs embedded etcd today (facts); cluster-init stays as its captured file has it.
    conf = rendered(cp, "k3s-master1")
    assert conf["cluster-init"] is True
    assert "server" not in conf
    assert conf["token"] == "TOKEN"
    assert conf["tls-san"] == ["192.168.10.20", "k3s-api.fletcherlabs.net"]
    assert conf["etcd-snapshot-schedule-cron"] == "0 */6 * * *"
    assert conf["etcd-snapshot-retention"] == 28


@pytest.mark.parametrize("name", ["k3s3", "k3s2"])
def test_other_servers_join_through_the_vip(cp, name):
    conf = rendered(cp, name)
    assert conf["server"] == "https://192.168.10.20:6443"  # replaced in place: was k3s-master1's address
    assert "cluster-init" not in conf
    assert conf["token"] == "TOKEN"
    assert conf["tls-san"] == ["192.168.10.20", "k3s-api.fletcherlabs.net"]


def test_cluster_flags_identical_on_every_server(cp):
    values = {n: tuple(str(rendered(cp, n)[k]) for k in CLUSTER_FLAG_KEYS) for n in cp.target.servers}
    assert len(set(values.values())) == 1, values


@pytest.mark.parametrize("name", NODES)
def test_every_foreign_key_is_kept_byte_for_byte(cp, name):
    live = k3s.parse(live_text(name))
    text = render_node_config(cp.node(name), cp, "TOKEN")
    owned = SERVER_KEYS if name in cp.target.servers else AGENT_KEYS
    foreign = [b for b in live.parts if isinstance(b, k3s.Block) and b.key not in owned]
    assert foreign, "the fixture must carry keys the stack does not own"
    for block in foreign:
        assert block.text in text, block.key
    # Values too, as k3s reads them.
    conf = yaml.safe_load(text)
    assert {b.key: conf[b.key] for b in foreign} == {b.key: live.values[b.key] for b in foreign}


@pytest.mark.parametrize("name", NODES)
def test_paths_are_never_written(cp, name):
    conf = rendered(cp, name)
    assert "data-dir" not in conf
    assert not [a for a in k3s.kubelet_args(conf) if "root-dir" in a]
    assert k3s.kubelet_root_dir(conf) == cp.node(name).paths.kubelet_root_dir.current


def test_agent_config_has_no_server_flags(cp):
    conf = rendered(cp, "k3s1")
    assert conf["server"] == "https://192.168.10.20:6443"
    assert not set(conf) & {"cluster-init", "tls-san", "etcd-snapshot-schedule-cron", *CLUSTER_FLAG_KEYS}


def test_an_agent_keeps_server_keys_it_does_not_own(real_raw):
    staged = live_text("k3s1") + "cluster-domain: cluster.local\n"
    conf = rendered(captured_config(real_raw, k3s1=staged), "k3s1")
    assert conf["cluster-domain"] == "cluster.local"


def test_owned_keys_the_node_should_not_have_are_removed(real_raw):
    # A joiner must not keep cluster-init or a token file; k3s-master1 must not keep a server URL.
    cp = captured_config(
        real_raw,
        **{"k3s-master1": live_text("k3s-master1") + "server: https://192.168.10.99:6443\n"},
        k3s2=live_text("k3s2") + "cluster-init: true\ntoken-file: /etc/k3s-token\n",
    )
    assert "server" not in rendered(cp, "k3s-master1")
    assert not {"cluster-init", "token-file"} & set(rendered(cp, "k3s2"))


def test_merging_twice_changes_nothing(cp):
    for node in cp.nodes:
        once = render_node_config(node, cp, "TOKEN")
        assert once is not None
        again = k3s.merge(
            k3s.parse(once),
            SERVER_KEYS if node.name in cp.target.servers else AGENT_KEYS,
            yaml.safe_load(once),
            [],
        )
        assert yaml.safe_load(again) == yaml.safe_load(once)


def test_config_changes_list_what_the_merge_changes(cp):
    assert config_changes(cp.node("k3s1"), cp) == [
        ("server", "https://192.168.10.30:6443", "https://192.168.10.20:6443")
    ]
    master = dict((k, (a, b)) for k, a, b in config_changes(cp.node("k3s-master1"), cp))
    assert "cluster-init" not in master  # already set: the cluster has run embedded etcd since the rebuild
    assert master["tls-san"] == ("[192.168.10.30]", "[192.168.10.20, k3s-api.fletcherlabs.net]")
    assert "cluster-cidr" not in master and "token" not in master


def test_config_follows_the_model(real_raw):
    def moved(cp):
        cp["target"]["vip"] = "192.168.10.19"
        cp["target"]["tlsSan"] = ["192.168.10.19", cp["target"]["dnsName"]]
        cp["target"]["etcdSnapshots"] = {"scheduleCron": "15 3 * * *", "retention": 7}
        node_raw(cp, "k3s3")["liveConfig"] = live_text("k3s3")

    cp = variant(real_raw, moved)
    conf = rendered(cp, "k3s3")
    assert conf["server"] == "https://192.168.10.19:6443"
    assert (conf["etcd-snapshot-schedule-cron"], conf["etcd-snapshot-retention"]) == ("15 3 * * *", 7)
