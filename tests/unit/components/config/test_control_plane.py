"""Each bad control-plane input fails `load()` with one line naming the key and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, load

KEY = "k3s-home:controlPlane"


def error(raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> str:
    raw = copy.deepcopy(raw)
    mutate(raw["controlPlane"])
    with pytest.raises(ConfigError) as caught:
        load(raw)
    message = str(caught.value)
    assert "\n" not in message
    return message


def node(cp: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in cp["nodes"] if n["name"] == name)


def test_real_control_plane_loads(real_config):
    cp = real_config.control_plane
    assert cp.target.servers == ["k3s1", "k3s2", "k3s3"]
    assert cp.first_server().role == "server"
    assert {n.name: (n.cores, n.memory_gi_b) for n in cp.nodes} == {
        "k3s1": (8, 32),
        "k3s2": (8, 16),
        "k3s3": (8, 32),
        "k3s4": (4, 8),
    }
    assert cp.node("k3s3").gpus[0].count == 4
    assert cp.apply_over_ssh is False
    assert cp.target.vip in cp.target.tls_san


def test_even_number_of_servers(real_raw):
    def four(cp):
        cp["target"]["servers"] = ["k3s1", "k3s2", "k3s3", "k3s4"]

    assert error(real_raw, four) == (
        f"{KEY}: 4 servers (k3s1, k3s2, k3s3, k3s4) is even: quorum 3 tolerates no more failures "
        "than 3 servers do; use 3 or 5"
    )


@pytest.mark.parametrize("servers", [["k3s1"], ["k3s1", "k3s2"]])
def test_fewer_than_three_servers(real_raw, servers):
    def few(cp):
        cp["target"]["servers"] = servers

    assert error(real_raw, few) == (
        f"{KEY}: {len(servers)} server(s) ({', '.join(servers)}) give no HA: "
        "etcd needs at least 3 to survive a failure"
    )


def test_duplicate_node_addresses(real_raw):
    def dup(cp):
        node(cp, "k3s2")["address"] = node(cp, "k3s1")["address"]

    assert error(real_raw, dup) == f"{KEY}: duplicate address 192.168.10.21: used by k3s1 and k3s2"


def test_vip_must_not_be_a_node_address(real_raw):
    def clash(cp):
        cp["target"]["vip"] = "192.168.10.32"
        cp["target"]["tlsSan"] = ["192.168.10.32", cp["target"]["dnsName"]]

    assert error(real_raw, clash) == f"{KEY}: duplicate address 192.168.10.32: used by k3s4 and the VIP"


def test_duplicate_node_name(real_raw):
    def dup(cp):
        extra = copy.deepcopy(node(cp, "k3s4"))
        extra["address"] = "192.168.10.99"
        cp["nodes"].append(extra)

    assert error(real_raw, dup) == f"{KEY}: node k3s4 is listed more than once"


def test_vip_missing_from_tls_san(real_raw):
    def no_vip(cp):
        cp["target"]["tlsSan"] = [cp["target"]["dnsName"]]

    assert error(real_raw, no_vip) == (
        f"{KEY}: target.tlsSan lacks the VIP 192.168.10.20; servers joining through it would fail TLS"
    )


def test_dns_name_missing_from_tls_san(real_raw):
    def no_dns(cp):
        cp["target"]["tlsSan"] = [cp["target"]["vip"]]

    assert error(real_raw, no_dns) == (
        f"{KEY}: target.tlsSan lacks the API name k3s-api.fletcherlabs.net; "
        "kubeconfigs using it would fail TLS"
    )


@pytest.mark.parametrize(
    ("override", "shown"),
    [
        (
            {"clusterCidr": "10.52.0.0/16"},
            "clusterCidr differs: server k3s2 sets 10.52.0.0/16 but the cluster uses 10.42.0.0/16",
        ),
        (
            {"serviceCidr": "10.53.0.0/16"},
            "serviceCidr differs: server k3s2 sets 10.53.0.0/16 but the cluster uses 10.43.0.0/16",
        ),
        (
            {"disable": ["traefik"]},
            "disable differs: server k3s2 sets [traefik] but the cluster uses [traefik,servicelb]",
        ),
        (
            {"secretsEncryption": True},
            "secretsEncryption differs: server k3s2 sets true but the cluster uses false",
        ),
        (
            {"flannelBackend": "vxlan"},
            "flannelBackend differs: server k3s2 sets vxlan but the cluster uses none",
        ),
    ],
)
def test_cluster_flags_differing_between_servers(real_raw, override, shown):
    def differ(cp):
        node(cp, "k3s2")["flagOverrides"] = override

    assert error(real_raw, differ) == (
        f"{KEY}: cluster-wide flag {shown}; every server must run the same value"
    )


def test_identical_override_is_accepted(real_raw):
    raw = copy.deepcopy(real_raw)
    node(raw["controlPlane"], "k3s2")["flagOverrides"] = {
        "clusterCidr": "10.42.0.0/16",
        "disable": ["traefik", "servicelb"],
    }
    assert load(raw).control_plane.node("k3s2").flag_overrides.cluster_cidr == "10.42.0.0/16"


@pytest.mark.parametrize(
    ("key", "flag", "old", "new"),
    [
        ("kubeletRootDir", "kubelet root-dir", "/var/lib/rancher/k3s/agent/kubelet", "/var/lib/kubelet"),
        ("dataDir", "data-dir", "/var/lib/rancher/k3s", "/srv/k3s"),
    ],
)
def test_immutable_path_change_is_refused(real_raw, key, flag, old, new):
    def change(cp):
        node(cp, "k3s3")["paths"][key]["desired"] = new

    assert error(real_raw, change) == (
        f"{KEY}.nodes[2]: k3s3 paths.{key}: the {flag} would change from {old} to {new}; it is immutable "
        "(the June 2025 kubelet root-dir change destroyed every Longhorn volume). "
        "Drain the node, move its data off and reinstall it instead, or remove `desired`"
    )


def test_desired_path_equal_to_current_is_accepted(real_raw):
    raw = copy.deepcopy(real_raw)
    pin = node(raw["controlPlane"], "k3s1")["paths"]["kubeletRootDir"]
    pin["desired"] = pin["current"]
    assert load(raw).control_plane.node("k3s1").paths.kubelet_root_dir.desired == pin["current"]


def test_unknown_server(real_raw):
    def unknown(cp):
        cp["target"]["servers"] = ["k3s1", "k3s2", "k3s9"]

    assert (
        error(real_raw, unknown)
        == f"{KEY}: target server k3s9 is not among the nodes (k3s1, k3s2, k3s3, k3s4)"
    )


def test_server_listed_twice(real_raw):
    def twice(cp):
        cp["target"]["servers"] = ["k3s1", "k3s2", "k3s2"]

    assert error(real_raw, twice) == f"{KEY}: target servers list a node twice: k3s1, k3s2, k3s2"


def test_first_server_must_hold_the_datastore(real_raw):
    def reorder(cp):
        cp["target"]["servers"] = ["k3s2", "k3s1", "k3s3"]

    assert error(real_raw, reorder) == (
        f"{KEY}: the first target server must be k3s1, today's server, which holds the datastore "
        "to convert (got k3s2)"
    )


def test_k3s_too_old_for_conversion(real_raw):
    def old(cp):
        cp["k3sVersion"] = "v1.21.5+k3s2"

    assert error(real_raw, old) == (
        f"{KEY}.k3sVersion: v1.21.5+k3s2 cannot convert SQLite to embedded etcd; "
        "upgrade to v1.22.2+k3s1 or later first"
    )


def test_k3s_version_format(real_raw):
    def bad(cp):
        cp["k3sVersion"] = "1.32"

    assert error(real_raw, bad) == f"{KEY}.k3sVersion: '1.32' is not a k3s version such as v1.32.5+k3s1"


def test_apply_over_ssh_is_not_available(real_raw):
    def ssh(cp):
        cp["applyOverSsh"] = True

    assert error(real_raw, ssh).startswith(f"{KEY}.applyOverSsh: applying node configs over SSH is not built")


def test_bad_cron(real_raw):
    def cron(cp):
        cp["target"]["etcdSnapshots"]["scheduleCron"] = "every 6h"

    assert error(real_raw, cron) == (
        f"{KEY}.target.etcdSnapshots.scheduleCron: 'every 6h' is not a five-field cron expression "
        "such as '0 */6 * * *'"
    )


def test_bad_cidr(real_raw):
    def cidr(cp):
        cp["target"]["clusterFlags"]["clusterCidr"] = "10.42.0.0/33"

    assert error(real_raw, cidr) == (
        f"{KEY}.target.clusterFlags.clusterCidr: '10.42.0.0/33' is not a CIDR such as 10.42.0.0/16"
    )


def test_bad_address(real_raw):
    def addr(cp):
        node(cp, "k3s4")["address"] = "k3s4.lan"

    assert error(real_raw, addr) == f"{KEY}.nodes[3].address: 'k3s4.lan' is not an IP address"


def test_unknown_disk_class(real_raw):
    def disk(cp):
        node(cp, "k3s1")["disk"]["class"] = "floppy"

    assert error(real_raw, disk).startswith(
        f"{KEY}.nodes[0].disk.class: Input should be 'nvme', 'ssd', 'hdd' or 'emmc'"
    )


def test_unknown_key_is_refused(real_raw):
    def extra(cp):
        cp["target"]["vipMode"] = "bgp"

    assert error(real_raw, extra).startswith(f"{KEY}.target.vipMode: Extra inputs are not permitted")
