"""Each bad control-plane input fails `load()` with one line naming the key and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.config import ConfigError, load
from tests.conftest import TEST_TODAY
from tests.unit.components.control_plane.helpers import captured_config, facts_variant, live_text

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
    # From the facts: today's server and datastore, every node's address, hardware and known size.
    assert cp.current_servers == ["k3s-master1"] and cp.current_datastore == "etcd"
    assert cp.k3s_version == "v1.32.5+k3s1"
    assert cp.target.servers == ["k3s-master1", "k3s3", "k3s2"]
    assert cp.first_server().role == "server"
    assert {n.name: (n.address, n.cores, n.memory_gi_b, n.resources_source) for n in cp.nodes} == {
        "k3s-master1": ("192.168.10.30", 4, 8, "CLUSTER-SETUP.md:75"),
        "k3s1": ("192.168.10.21", 8, 32, None),  # assumptions: the repo's older HA plan
        "k3s2": ("192.168.10.23", 8, 16, None),
        "k3s3": ("192.168.10.31", 32, 384, "CLUSTER-SETUP.md:57"),
    }
    assert [(g.model, g.count) for g in cp.node("k3s3").gpus] == [("nvidia.com/gpu", 1)]
    assert cp.node("k3s-master1").machine == "R730"
    assert cp.apply_over_ssh is False
    assert cp.target.vip in cp.target.tls_san


# --- a key that retypes a fact: one line with the key and the fact's file:line ------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda cp: cp.update(currentDatastore="sqlite"),
            "currentDatastore: sqlite contradicts the facts: the cluster runs embedded etcd "
            "(REBUILD-LOG-2025-06-16.md:57); remove the key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: cp.update(currentDatastore="etcd"),
            "currentDatastore: embedded etcd restates a fact (REBUILD-LOG-2025-06-16.md:57); remove the key: "
            "the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: cp.update(k3sVersion="v1.30.2+k3s1"),
            "k3sVersion: v1.30.2+k3s1 contradicts the facts: the cluster runs v1.32.5+k3s1 "
            "(REBUILD-LOG-2025-06-16.md:56); remove the key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: cp.update(currentServers=["k3s1"]),
            "currentServers: k3s1 contradicts the facts: the cluster runs k3s-master1 (README.md:70); "
            "remove the key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: node(cp, "k3s1").update(role="server"),
            "nodes[1].role: server contradicts the facts: k3s1's fact is agent (README.md:71); remove the "
            "key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: node(cp, "k3s2").update(address="192.168.10.22"),
            "nodes[2].address: 192.168.10.22 contradicts the facts: k3s2's fact is 192.168.10.23 "
            "(README.md:72); remove the key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: node(cp, "k3s3").update(cores=8),
            "nodes[3].cores: 8 contradicts the facts: k3s3's fact is 32 (CLUSTER-SETUP.md:57); remove the "
            "key: the model reads it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: node(cp, "k3s-master1").update(memoryGiB=8),
            "nodes[0].memoryGiB: 8 restates a fact (CLUSTER-SETUP.md:75); remove the key: the model reads "
            "it from facts/k3s-home.yaml",
        ),
        (
            lambda cp: node(cp, "k3s3").update(gpus=[{"model": "nvidia.com/gpu", "count": 4}]),
            "nodes[3].gpus: 4x nvidia.com/gpu contradicts the facts: k3s3's fact is 1x nvidia.com/gpu "
            "(CLUSTER-SETUP.md:59); remove "
            "the key: the model reads it from facts/k3s-home.yaml",
        ),
    ],
)
def test_a_key_retyping_a_fact_is_refused(real_raw, mutate, message):
    assert error(real_raw, mutate) == f"{KEY}.{message}"


def test_a_node_the_facts_lack_is_refused(real_raw):
    def k3s4(cp):
        cp["nodes"].append({**copy.deepcopy(node(cp, "k3s2")), "name": "k3s4"})

    assert error(real_raw, k3s4) == (
        f"{KEY}.nodes[4].name: k3s4 is not a node of the cluster: the facts list k3s-master1 (README.md:70), "
        "k3s1 (README.md:71), k3s2 (README.md:72), k3s3 (README.md:73); remove the entry (a machine joins "
        "the plan once the Flux repo lists it and make facts records it)"
    )


def test_a_node_of_the_facts_needs_an_entry(real_raw):
    def drop(cp):
        cp["nodes"] = [n for n in cp["nodes"] if n["name"] != "k3s1"]

    assert error(real_raw, drop) == (
        f"{KEY}.nodes: the facts list k3s1 (README.md:71) but the section has no entry for it; add its "
        "disk, nic and paths (assumptions the facts lack)"
    )


def test_a_size_the_facts_lack_must_be_assumed(real_raw):
    def unsized(cp):
        del node(cp, "k3s2")["memoryGiB"]

    assert error(real_raw, unsized) == (
        f"{KEY}.nodes[2].memoryGiB: the facts give no memoryGiB for k3s2 (README.md:72); set it here as an "
        "assumption (and say where the figure comes from)"
    )


def test_only_a_vm_can_be_grown(real_raw):
    def grow(cp):
        node(cp, "k3s3")["growTo"] = {"cores": 64, "memoryGiB": 512}

    assert error(real_raw, grow) == (
        f"{KEY}.nodes[3].growTo: k3s3 is a physical machine (R630, README.md:73), not a VM: only a VM can be "
        "grown by the plan; remove growTo"
    )


def test_the_first_server_must_be_the_facts_server(real_raw):
    def reorder(cp):
        cp["target"]["servers"] = ["k3s1", "k3s-master1", "k3s3"]

    assert error(real_raw, reorder) == (
        f"{KEY}.target.servers[0]: the first target server must be k3s-master1, the cluster's server today "
        "(README.md:70), which holds the etcd datastore the others join (got k3s1)"
    )


def test_a_cluster_on_old_sqlite_cannot_convert(real_raw, tmp_path, monkeypatch):
    def old(f):
        f["controlPlane"].update(datastore="sqlite", k3sVersion="v1.21.5+k3s2")

    facts_variant(tmp_path, monkeypatch, old)
    assert error(real_raw, lambda cp: None) == (
        f"{KEY}.target.servers: the cluster runs k3s v1.21.5+k3s2 on SQLite (REBUILD-LOG-2025-06-16.md:56), "
        "which cannot convert to embedded etcd; upgrade to v1.22.2+k3s1 or later first"
    )


# --- intent ------------------------------------------------------------------------------------------


def test_even_number_of_servers(real_raw):
    def four(cp):
        cp["target"]["servers"] = ["k3s-master1", "k3s1", "k3s2", "k3s3"]

    assert error(real_raw, four) == (
        f"{KEY}.target.servers: "
        "4 servers (k3s-master1, k3s1, k3s2, k3s3) is even: quorum 3 tolerates no more failures "
        "than 3 servers do; use 3 or 5"
    )


@pytest.mark.parametrize("servers", [["k3s-master1"], ["k3s-master1", "k3s2"]])
def test_fewer_than_three_servers(real_raw, servers):
    def few(cp):
        cp["target"]["servers"] = servers

    assert error(real_raw, few) == (
        f"{KEY}.target.servers: {len(servers)} server(s) ({', '.join(servers)}) give no HA: "
        "etcd needs at least 3 to survive a failure"
    )


def test_vip_must_not_be_a_node_address(real_raw):
    def clash(cp):
        cp["target"]["vip"] = "192.168.10.31"
        cp["target"]["tlsSan"] = ["192.168.10.31", cp["target"]["dnsName"]]

    assert (
        error(real_raw, clash)
        == f"{KEY}.target.vip: duplicate address 192.168.10.31: used by k3s3 (README.md:73) and the VIP"
    )


def test_duplicate_node_name(real_raw):
    def dup(cp):
        cp["nodes"].append(copy.deepcopy(node(cp, "k3s3")))

    assert error(real_raw, dup) == f"{KEY}.nodes[4].name: node k3s3 is listed more than once"


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
            2,
            "token: K10abc::server:secret\n",
            "k3s2's config.yaml holds token: secrets never enter the stack config; capture with "
            "`python -m components.control_plane.capture k3s2`, which drops them",
        ),
        (
            "k3s3",
            3,
            "kubelet-arg+: [root-dir=/var/lib/rancher/k3s/agent/kubelet]\n",
            "k3s3's config.yaml gives kubelet root-dir /var/lib/rancher/k3s/agent/kubelet but "
            "paths.kubeletRootDir.current pins /var/lib/kubelet; pin what the node really uses (confirm it "
            "on the node, plan step 1): writing a config over a wrong pin repeats the June 2025 data loss",
        ),
        (
            "k3s1",
            1,
            "data-dir: /srv/k3s\n",
            "k3s1's config.yaml gives data-dir /srv/k3s but paths.dataDir.current pins /var/lib/rancher/k3s; "
            "pin what the node really uses (confirm it on the node, plan step 1): writing a config over a "
            "wrong pin repeats the June 2025 data loss",
        ),
        (
            "k3s1",
            1,
            "node-label: [a=b\n",
            "k3s1's config.yaml is not valid YAML (while parsing a flow sequence)",
        ),
    ],
)
def test_captured_config_contradicting_the_node_is_refused(real_raw, node_name, index, extra, message):
    text = live(node_name) + extra
    assert error(real_raw, with_live(**{node_name: text})) == f"{KEY}.nodes[{index}].liveConfig: {message}"


def test_captured_node_ip_must_be_the_facts_address(real_raw):
    text = live("k3s1").replace("node-ip: 192.168.10.21", "node-ip: 192.168.10.99")
    assert error(real_raw, with_live(k3s1=text)) == (
        f"{KEY}.nodes[1].liveConfig: k3s1's config.yaml sets node-ip 192.168.10.99 but the facts say "
        "192.168.10.21 (README.md:71); capture this node's own file (a node's name and address never change "
        "here)"
    )


def test_the_current_server_cannot_change_a_cluster_flag(real_raw):
    text = live("k3s-master1").replace("cluster-cidr: 10.42.0.0/16", "cluster-cidr: 10.52.0.0/16")
    assert error(real_raw, with_live(**{"k3s-master1": text})) == (
        f"{KEY}.nodes[0].liveConfig: k3s-master1 runs cluster-cidr 10.52.0.0/16 but target.clusterFlags sets "
        "10.42.0.0/16; a cluster-wide flag cannot change on a running cluster: make the model match it"
    )


def test_the_current_server_may_not_lose_a_tls_san(real_raw):
    text = live("k3s-master1").replace(
        "  - 192.168.10.30\n", "  - 192.168.10.30\n  - k3s1.fletcherlabs.net\n"
    )
    assert error(real_raw, with_live(**{"k3s-master1": text})) == (
        f"{KEY}.nodes[0].liveConfig: k3s-master1 serves tls-san k3s1.fletcherlabs.net today, which "
        "target.tlsSan would drop; clients using it would fail TLS: add it to target.tlsSan"
    )


@pytest.mark.parametrize(
    ("text_change", "shown"),
    [
        (
            lambda t: t.replace("disable-kube-proxy: true\n", ""),
            "disable-kube-proxy differs across servers: k3s-master1 true, k3s2 false (k3s default false)",
        ),
        (
            lambda t: t + "cluster-domain: home.arpa\n",
            "cluster-domain differs across servers: k3s-master1 cluster.local, k3s2 home.arpa (k3s default "
            "cluster.local)",
        ),
        (
            lambda t: t + "egress-selector-mode: disabled\n",
            "egress-selector-mode differs across servers: k3s-master1 agent, k3s2 disabled "
            "(k3s default agent)",
        ),
    ],
)
def test_flags_k3s_requires_equal_differ_between_servers(real_raw, text_change, shown):
    assert error(real_raw, with_live(k3s2=text_change(live("k3s2")))) == (
        f"{KEY}.nodes[2].liveConfig: {shown}; k3s refuses a server whose shared flags differ: set the same "
        "value in both config.yaml files and capture again"
    )


def test_shared_flags_equal_by_default_are_equal(real_raw):
    # k3s-master1 writes cluster-domain: cluster.local, k3s2 leaves it to the default: the same value.
    assert "cluster-domain" in live("k3s-master1") and "cluster-domain" not in live("k3s2")
    assert captured_config(real_raw).node("k3s2").live_config == live("k3s2")


def test_an_agent_differing_in_server_flags_is_not_compared(real_raw):
    text = live("k3s1") + "cluster-domain: home.arpa\n"  # k3s1 stays an agent: it ignores the key
    assert captured_config(real_raw, k3s1=text).node("k3s1").live_config == text


def test_appending_to_an_owned_key_is_refused(real_raw):
    text = live("k3s2") + "tls-san+: [k3s2.fletcherlabs.net]\n"
    assert error(real_raw, with_live(k3s2=text)) == (
        f"{KEY}.nodes[2].liveConfig: k3s2's config.yaml appends to tls-san (tls-san+), which k3s-home owns "
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

    assert error(real_raw, shrink) == f"{KEY}.nodes[2].{key}: {message}"


def test_an_agent_may_be_small(real_raw):
    raw = copy.deepcopy(real_raw)
    node(raw["controlPlane"], "k3s1")["memoryGiB"] = 2
    assert load(raw, today=TEST_TODAY).control_plane.node("k3s1").memory_gi_b == 2


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
        f"{KEY}.nodes[3]: k3s3 paths.{key}: the {flag} would change from {old} to {new}; it is immutable "
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
        cp["target"]["servers"] = ["k3s-master1", "k3s2", "k3s9"]

    assert error(real_raw, unknown) == (
        f"{KEY}.target.servers[2]: target server k3s9 is not among the nodes (k3s-master1, k3s1, k3s2, k3s3)"
    )


def test_server_listed_twice(real_raw):
    def twice(cp):
        cp["target"]["servers"] = ["k3s-master1", "k3s2", "k3s2"]

    assert (
        error(real_raw, twice)
        == f"{KEY}.target.servers[2]: target servers list a node twice: k3s-master1, k3s2, k3s2"
    )


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


def test_unknown_disk_class(real_raw):
    def disk(cp):
        node(cp, "k3s1")["disk"]["class"] = "floppy"

    assert error(real_raw, disk).startswith(
        f"{KEY}.nodes[1].disk.class: Input should be 'nvme', 'ssd', 'hdd' or 'emmc'"
    )


def test_unknown_key_is_refused(real_raw):
    def extra(cp):
        cp["target"]["vipMode"] = "bgp"

    assert error(real_raw, extra).startswith(f"{KEY}.target.vipMode: Extra inputs are not permitted")


def test_the_sections_dump_carries_the_facts(real_raw, real_config, tmp_path, monkeypatch):
    # docs/pictures.inputs digests the dump: a changed fact must redraw the HA picture.
    def bigger(f):
        f["nodes"][3]["memoryGiB"] = 512

    facts_variant(tmp_path, monkeypatch, bigger)
    cp = load(real_raw, today=TEST_TODAY).control_plane
    assert cp.node("k3s3").memory_gi_b == 512
    assert cp.model_dump_json() != real_config.control_plane.model_dump_json()
