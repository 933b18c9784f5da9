"""Each bad control-plane input fails `load()` with one line naming the key and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, load
from tests.conftest import TEST_TODAY
from tests.unit.components.control_plane.helpers import captured_config, live_text

KEY = "k3s-home:controlPlane"


def error(raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> str:
    raw = copy.deepcopy(raw)
    mutate(raw["controlPlane"])
    with pytest.raises(ConfigError) as caught:
        load(raw, today=TEST_TODAY)
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
        f"{KEY}.target.servers: "
        "4 servers (k3s1, k3s2, k3s3, k3s4) is even: quorum 3 tolerates no more failures "
        "than 3 servers do; use 3 or 5"
    )


@pytest.mark.parametrize("servers", [["k3s1"], ["k3s1", "k3s2"]])
def test_fewer_than_three_servers(real_raw, servers):
    def few(cp):
        cp["target"]["servers"] = servers

    assert error(real_raw, few) == (
        f"{KEY}.target.servers: {len(servers)} server(s) ({', '.join(servers)}) give no HA: "
        "etcd needs at least 3 to survive a failure"
    )


def test_duplicate_node_addresses(real_raw):
    def dup(cp):
        node(cp, "k3s2")["address"] = node(cp, "k3s1")["address"]

    assert (
        error(real_raw, dup)
        == f"{KEY}.nodes[1].address: duplicate address 192.168.10.21: used by k3s1 and k3s2"
    )


def test_vip_must_not_be_a_node_address(real_raw):
    def clash(cp):
        cp["target"]["vip"] = "192.168.10.32"
        cp["target"]["tlsSan"] = ["192.168.10.32", cp["target"]["dnsName"]]

    assert (
        error(real_raw, clash)
        == f"{KEY}.target.vip: duplicate address 192.168.10.32: used by k3s4 and the VIP"
    )


def test_duplicate_node_name(real_raw):
    def dup(cp):
        extra = copy.deepcopy(node(cp, "k3s4"))
        extra["address"] = "192.168.10.99"
        cp["nodes"].append(extra)

    assert error(real_raw, dup) == f"{KEY}.nodes[4].name: node k3s4 is listed more than once"


def test_vip_missing_from_tls_san(real_raw):
    def no_vip(cp):
        cp["target"]["tlsSan"] = [cp["target"]["dnsName"]]

    assert error(real_raw, no_vip) == (
        f"{KEY}.target.tlsSan: "
        "target.tlsSan lacks the VIP 192.168.10.20; servers joining through it would fail TLS"
    )


def test_dns_name_missing_from_tls_san(real_raw):
    def no_dns(cp):
        cp["target"]["tlsSan"] = [cp["target"]["vip"]]

    assert error(real_raw, no_dns) == (
        f"{KEY}.target.tlsSan: target.tlsSan lacks the API name k3s-api.fletcherlabs.net; "
        "kubeconfigs using it would fail TLS"
    )


def live(name: str) -> str:
    return live_text(name)


def with_live(**texts: str) -> Callable[[dict[str, Any]], None]:
    """Capture every node (fixture files), replacing the texts given."""

    def change(cp: dict[str, Any]) -> None:
        for n in cp["nodes"]:
            n["liveConfig"] = texts.get(n["name"], live(n["name"]))

    return change


def test_captured_fixture_configs_load(real_raw):
    cp = captured_config(real_raw)
    assert all(n.live_config is not None for n in cp.nodes)


@pytest.mark.parametrize(
    ("node_name", "index", "extra", "message"),
    [
        (
            "k3s2",
            1,
            "token: K10abc::server:secret\n",
            "k3s2's config.yaml holds token: secrets never enter the stack config; capture with "
            "`python -m components.control_plane.capture k3s2`, which drops them",
        ),
        (
            "k3s3",
            2,
            "kubelet-arg+: [root-dir=/var/lib/rancher/k3s/agent/kubelet]\n",
            "k3s3's config.yaml gives kubelet root-dir /var/lib/rancher/k3s/agent/kubelet but "
            "paths.kubeletRootDir.current pins /var/lib/kubelet; pin what the node really uses (confirm it "
            "on the node, plan step 1): writing a config over a wrong pin repeats the June 2025 data loss",
        ),
        (
            "k3s4",
            3,
            "data-dir: /srv/k3s\n",
            "k3s4's config.yaml gives data-dir /srv/k3s but paths.dataDir.current pins /var/lib/rancher/k3s; "
            "pin what the node really uses (confirm it on the node, plan step 1): writing a config over a "
            "wrong pin repeats the June 2025 data loss",
        ),
        (
            "k3s4",
            3,
            "node-ip: 192.168.10.99\n",
            "k3s4's config.yaml sets node-ip 192.168.10.99 but the model says 192.168.10.32; fix the model "
            "(the node's identity never changes here)",
        ),
        (
            "k3s4",
            3,
            "node-label: [a=b\n",
            "k3s4's config.yaml is not valid YAML (while parsing a flow sequence)",
        ),
    ],
)
def test_captured_config_contradicting_the_node_is_refused(real_raw, node_name, index, extra, message):
    text = live(node_name) + extra
    assert error(real_raw, with_live(**{node_name: text})) == f"{KEY}.nodes[{index}].liveConfig: {message}"


def test_the_current_server_cannot_change_a_cluster_flag(real_raw):
    text = live("k3s1").replace("cluster-cidr: 10.42.0.0/16", "cluster-cidr: 10.52.0.0/16")
    assert error(real_raw, with_live(k3s1=text)) == (
        f"{KEY}.nodes[0].liveConfig: k3s1 runs cluster-cidr 10.52.0.0/16 but target.clusterFlags sets "
        "10.42.0.0/16; a cluster-wide flag cannot change on a running cluster: make the model match it"
    )


def test_the_current_server_may_not_lose_a_tls_san(real_raw):
    text = live("k3s1").replace("  - 192.168.10.21\n", "  - 192.168.10.21\n  - k3s1.fletcherlabs.net\n")
    assert error(real_raw, with_live(k3s1=text)) == (
        f"{KEY}.nodes[0].liveConfig: k3s1 serves tls-san k3s1.fletcherlabs.net today, which target.tlsSan "
        "would drop; clients using it would fail TLS: add it to target.tlsSan"
    )


@pytest.mark.parametrize(
    ("text_change", "shown"),
    [
        (
            lambda t: t.replace("disable-kube-proxy: true\n", ""),
            "disable-kube-proxy differs across servers: k3s1 true, k3s2 false (k3s default false)",
        ),
        (
            lambda t: t + "cluster-domain: home.arpa\n",
            "cluster-domain differs across servers: k3s1 cluster.local, k3s2 home.arpa (k3s default "
            "cluster.local)",
        ),
        (
            lambda t: t + "egress-selector-mode: disabled\n",
            "egress-selector-mode differs across servers: k3s1 agent, k3s2 disabled (k3s default agent)",
        ),
    ],
)
def test_flags_k3s_requires_equal_differ_between_servers(real_raw, text_change, shown):
    assert error(real_raw, with_live(k3s2=text_change(live("k3s2")))) == (
        f"{KEY}.nodes[1].liveConfig: {shown}; k3s refuses a server whose shared flags differ: set the same "
        "value in both config.yaml files and capture again"
    )


def test_shared_flags_equal_by_default_are_equal(real_raw):
    # k3s1 writes cluster-domain: cluster.local, k3s2 leaves it to the default: the same value.
    assert "cluster-domain" in live("k3s1") and "cluster-domain" not in live("k3s2")
    assert captured_config(real_raw).node("k3s2").live_config == live("k3s2")


def test_an_agent_differing_in_server_flags_is_not_compared(real_raw):
    text = live("k3s4") + "cluster-domain: home.arpa\n"  # k3s4 stays an agent: it ignores the key
    assert captured_config(real_raw, k3s4=text).node("k3s4").live_config == text


def test_appending_to_an_owned_key_is_refused(real_raw):
    text = live("k3s2") + "tls-san+: [k3s2.fletcherlabs.net]\n"
    assert error(real_raw, with_live(k3s2=text)) == (
        f"{KEY}.nodes[1].liveConfig: k3s2's config.yaml appends to tls-san (tls-san+), which k3s-home owns "
        "on this node; fold the values into the stack config and capture again"
    )


def test_overlapping_cluster_and_service_cidrs(real_raw):
    def overlap(cp):
        cp["target"]["clusterFlags"]["serviceCidr"] = "10.42.128.0/17"

    assert error(real_raw, overlap) == (
        f"{KEY}.target.clusterFlags.serviceCidr: 10.42.128.0/17 overlaps clusterCidr 10.42.0.0/16: a Service "
        "IP would also be a pod IP and traffic to one reaches the other; pick ranges that do not overlap"
    )


def test_node_address_inside_the_pod_range(real_raw):
    def inside(cp):
        cp["target"]["clusterFlags"]["clusterCidr"] = "192.168.0.0/16"
        cp["target"]["clusterFlags"]["serviceCidr"] = "10.43.0.0/16"

    assert error(real_raw, inside) == (
        f"{KEY}.target.vip: 192.168.10.20 (the VIP) lies inside target.clusterFlags.clusterCidr "
        "192.168.0.0/16; node addresses must stay outside the pod and Service ranges"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "memoryGiB",
            2,
            "server k3s2 has 2 GiB, less than the 6 GiB its control-plane (4) and system (2) reservations "
            "need before any workload; pick another server or give it more",
        ),
        (
            "cores",
            2,
            "server k3s2 has 2 cores, less than the 3 cores its control-plane (2) and system (1) "
            "reservations need before any workload; pick another server or give it more",
        ),
    ],
)
def test_server_too_small_for_its_reservations(real_raw, key, value, message):
    def shrink(cp):
        node(cp, "k3s2")[key] = value

    assert error(real_raw, shrink) == f"{KEY}.nodes[1].{key}: {message}"


def test_an_agent_may_be_small(real_raw):
    raw = copy.deepcopy(real_raw)
    node(raw["controlPlane"], "k3s4")["memoryGiB"] = 2
    assert load(raw, today=TEST_TODAY).control_plane.node("k3s4").memory_gi_b == 2


def test_one_kube_vip_interface_for_every_server_is_refused(real_raw):
    def named(cp):
        cp["target"]["kubeVip"]["interface"] = "eth0"

    assert error(real_raw, named) == (
        f"{KEY}.target.kubeVip.interface: one interface name cannot fit every server (k3s1 and k3s2 carry "
        "their address on USB NICs); remove it: kube-vip binds to each server's default-route interface"
    )


@pytest.mark.parametrize(
    ("key", "flag", "old", "new"),
    [
        ("kubeletRootDir", "kubelet root-dir", "/var/lib/kubelet", "/var/lib/rancher/k3s/agent/kubelet"),
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
    assert (
        load(raw, today=TEST_TODAY).control_plane.node("k3s1").paths.kubelet_root_dir.desired
        == pin["current"]
    )


def test_unknown_server(real_raw):
    def unknown(cp):
        cp["target"]["servers"] = ["k3s1", "k3s2", "k3s9"]

    assert (
        error(real_raw, unknown)
        == f"{KEY}.target.servers[2]: target server k3s9 is not among the nodes (k3s1, k3s2, k3s3, k3s4)"
    )


def test_server_listed_twice(real_raw):
    def twice(cp):
        cp["target"]["servers"] = ["k3s1", "k3s2", "k3s2"]

    assert (
        error(real_raw, twice)
        == f"{KEY}.target.servers[2]: target servers list a node twice: k3s1, k3s2, k3s2"
    )


def test_first_server_must_hold_the_datastore(real_raw):
    def reorder(cp):
        cp["target"]["servers"] = ["k3s2", "k3s1", "k3s3"]

    assert error(real_raw, reorder) == (
        f"{KEY}.target.servers[0]: "
        "the first target server must be k3s1, today's server, which holds the datastore "
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
