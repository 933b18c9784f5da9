"""Pure-function tests of the HA plan: quorum, budgets, hardware flags, node configs, kube-vip, timeline."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import ha_plan
from components.config import load
from components.config.control_plane import ControlPlaneConfig, Node

CLUSTER_KEYS = (
    "cluster-cidr",
    "service-cidr",
    "disable",
    "flannel-backend",
    "disable-network-policy",
    "secrets-encryption",
)


def variant(raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> ControlPlaneConfig:
    raw = copy.deepcopy(raw)
    mutate(raw["controlPlane"])
    return load(raw).control_plane


def node_raw(cp: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in cp["nodes"] if n["name"] == name)


# --- quorum -------------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=99))
def test_quorum_is_a_strict_majority(n):
    assert ha_plan.quorum(n) == n // 2 + 1
    assert 2 * ha_plan.quorum(n) > n  # two partitions can never both hold quorum
    assert ha_plan.failure_tolerance(n) == n - ha_plan.quorum(n)


@given(st.integers(min_value=0, max_value=49).map(lambda k: 2 * k + 1))
def test_an_even_server_adds_no_tolerance(odd):
    assert ha_plan.failure_tolerance(odd + 1) == ha_plan.failure_tolerance(odd)
    assert ha_plan.failure_tolerance(odd + 2) == ha_plan.failure_tolerance(odd) + 1


@pytest.mark.parametrize(("n", "q", "t"), [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)])
def test_quorum_examples(n, q, t):
    assert (ha_plan.quorum(n), ha_plan.failure_tolerance(n)) == (q, t)


def test_quorum_needs_a_server():
    with pytest.raises(ValueError, match="at least one server"):
        ha_plan.quorum(0)


# --- budgets ------------------------------------------------------------------------------------------


def test_real_headroom(real_config):
    cp = real_config.control_plane
    assert {b.node: (b.server, b.headroom) for b in ha_plan.budgets(cp)} == {
        "k3s1": (True, (3.0, 22.0)),  # 8/32 - system 1/2 - control plane 2/4 - jellyfin 2/4
        "k3s2": (True, (5.0, 10.0)),
        "k3s3": (True, (2.5, 11.0)),  # the AI work stays
        "k3s4": (False, (3.0, 6.0)),  # agent: no control-plane share
    }


def test_k3s4_as_a_server_keeps_too_little(real_config):
    cp = real_config.control_plane
    assert ha_plan.budget(cp.node("k3s4"), cp, as_server=True).headroom == (1.0, 2.0)


# The fixture is a frozen model, so sharing it across examples is safe.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cores=st.integers(min_value=1, max_value=128),
    mem=st.floats(min_value=1, max_value=1024, allow_nan=False),
    work=st.lists(
        st.tuples(st.floats(min_value=0, max_value=16), st.floats(min_value=0, max_value=64)), max_size=5
    ),
    server=st.booleans(),
)
def test_headroom_is_capacity_minus_every_reservation(real_config, cores, mem, work, server):
    cp = real_config.control_plane
    base = cp.node("k3s2").model_dump(by_alias=True)
    base.update(
        cores=cores,
        memoryGiB=mem,
        workloads=[{"name": f"w{i}", "cores": c, "memoryGiB": m} for i, (c, m) in enumerate(work)],
    )
    node = Node.model_validate(base)
    b = ha_plan.budget(node, cp, as_server=server)
    res = cp.reservations
    cp_cores, cp_mem = (res.control_plane.cores, res.control_plane.memory_gi_b) if server else (0, 0)
    assert b.headroom[0] == pytest.approx(cores - res.system.cores - cp_cores - sum(c for c, _ in work))
    assert b.headroom[1] == pytest.approx(mem - res.system.memory_gi_b - cp_mem - sum(m for _, m in work))


# --- flags --------------------------------------------------------------------------------------------


def codes(cp: ControlPlaneConfig) -> set[tuple[str, str, str]]:
    return {(f.node, f.code, f.severity) for f in ha_plan.flags(cp)}


def test_real_cluster_flags(real_config):
    assert codes(real_config.control_plane) == {
        ("k3s1", "usb-nic-etcd", "risk"),
        ("k3s2", "usb-nic-etcd", "risk"),
        ("k3s1", "unmeasured-wal-fsync", "check"),
        ("k3s2", "unmeasured-wal-fsync", "check"),
        ("k3s3", "unmeasured-wal-fsync", "check"),
        ("k3s4", "undersized", "note"),
    }
    assert ha_plan.usb_quorum_risk(real_config.control_plane)


def test_k3s4_size_message(real_config):
    (flag,) = [f for f in ha_plan.flags(real_config.control_plane) if f.code == "undersized"]
    assert flag.message == (
        "k3s4 (4 cores/8 GiB) as a server would keep 1 cores/2 GiB after system, control plane and "
        "staying work; a server needs 1 cores/4 GiB spare"
    )


def test_undersized_server_is_a_blocker(real_raw):
    def small(cp):
        node_raw(cp, "k3s2")["memoryGiB"] = 8

    assert ("k3s2", "undersized", "blocker") in codes(variant(real_raw, small))


def test_cpu_shortfall_alone_flags(real_raw):
    def busy(cp):
        node_raw(cp, "k3s2")["workloads"] = [{"name": "batch", "cores": 4.5, "memoryGiB": 1}]

    assert ("k3s2", "undersized", "blocker") in codes(variant(real_raw, busy))


@pytest.mark.parametrize("disk", ["hdd", "emmc"])
def test_non_ssd_disk_on_a_server_is_a_blocker(real_raw, disk):
    def spinning(cp):
        node_raw(cp, "k3s3")["disk"] = {"class": disk}

    cp = variant(real_raw, spinning)
    assert ("k3s3", "non-ssd-disk", "blocker") in codes(cp)
    assert not [f for f in ha_plan.flags(cp) if f.code == "non-ssd-disk" and f.node != "k3s3"]


def test_non_ssd_disk_on_an_agent_is_a_note(real_raw):
    def agent_hdd(cp):
        node_raw(cp, "k3s4")["disk"] = {"class": "hdd"}

    assert ("k3s4", "non-ssd-disk", "note") in codes(variant(real_raw, agent_hdd))


@pytest.mark.parametrize(("p99", "slow"), [(10.0, True), (25.0, True), (9.9, False), (1.2, False)])
def test_wal_fsync_threshold(real_raw, p99, slow):
    def measured(cp):
        node_raw(cp, "k3s1")["disk"]["walFsyncP99Ms"] = p99

    found = {c for n, c, _ in codes(variant(real_raw, measured)) if n == "k3s1"}
    assert ("slow-wal-fsync" in found) is slow
    assert "unmeasured-wal-fsync" not in found


def test_usb_nic_only_flags_servers(real_raw):
    def usb_agent(cp):
        node_raw(cp, "k3s4")["nic"] = "usb"

    assert not [
        f
        for f in ha_plan.flags(variant(real_raw, usb_agent))
        if f.node == "k3s4" and f.code == "usb-nic-etcd"
    ]


def test_usb_quorum_risk_clears_with_one_usb_server(real_raw):
    def onboard(cp):
        node_raw(cp, "k3s2")["nic"] = "onboard"

    cp = variant(real_raw, onboard)
    assert not ha_plan.usb_quorum_risk(cp)
    assert ("k3s1", "usb-nic-etcd", "risk") in codes(cp)


# --- node configs -------------------------------------------------------------------------------------


def rendered(cp: ControlPlaneConfig, name: str) -> dict[str, Any]:
    return yaml.safe_load(ha_plan.render_node_config(cp.node(name), cp, "TOKEN"))


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
    assert "flagOverrides" not in ha_plan.render_node_config(cp.node("k3s2"), cp, "T")


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


# --- kube-vip -----------------------------------------------------------------------------------------


def test_kube_vip_manifests(real_config):
    manifests = ha_plan.kube_vip_manifests(real_config.control_plane)
    assert [m["kind"] for m in manifests] == [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
    ]
    ds = manifests[-1]
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["address"] == "192.168.10.20"
    assert env["vip_arp"] == "true"
    assert env["cp_enable"] == "true"
    assert env["vip_interface"] == "eth0"
    assert container["image"] == "ghcr.io/kube-vip/kube-vip:v0.8.9"
    assert container["securityContext"]["privileged"] is False
    assert pod["hostNetwork"] is True
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert term["matchExpressions"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert (
        ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    )
    binding = manifests[2]
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    assert binding["roleRef"]["name"] == manifests[1]["metadata"]["name"]


def test_kube_vip_yaml_round_trips(real_config):
    cp = real_config.control_plane
    assert list(yaml.safe_load_all(ha_plan.render_kube_vip_yaml(cp))) == ha_plan.kube_vip_manifests(cp)


# --- timeline and document ----------------------------------------------------------------------------


def test_timeline_order(real_config):
    steps = ha_plan.timeline(real_config.control_plane)
    titles = [s.title for s in steps]
    assert titles[0].startswith("Backups")
    convert = titles.index("Convert k3s1 from SQLite to embedded etcd")
    joins = [titles.index(f"Turn {n} into a server") for n in ("k3s2", "k3s3")]
    vip = next(i for i, t in enumerate(titles) if "VIP with kube-vip" in t)
    assert convert < vip < joins[0] < joins[1]
    assert all(s.minutes > 0 and s.rollback and s.verify and s.actions for s in steps)


def test_timeline_warns_about_the_two_member_window(real_config):
    steps = {s.title: s for s in ha_plan.timeline(real_config.control_plane)}
    assert any("2 etcd members tolerate 0" in a for a in steps["Turn k3s2 into a server"].actions)
    assert not any("etcd members tolerate" in a for a in steps["Turn k3s3 into a server"].actions)


def test_timeline_never_uninstalls_an_agent(real_config):
    for step in ha_plan.timeline(real_config.control_plane):
        for action in step.actions:
            assert "k3s-agent-uninstall.sh" not in action or "Never run" in action


def test_plan_doc_covers_the_model(real_config):
    cp = real_config.control_plane
    doc = ha_plan.render_plan_doc(cp)
    for heading in (
        "## Architecture",
        "## Resources",
        "## Hardware constraints",
        "## Timeline",
        "## Sources",
    ):
        assert heading in doc
    assert "VIP 192.168.10.20" in doc
    for node in cp.nodes:
        assert f"| {node.name} |" in doc
    for flag in ha_plan.flags(cp):
        assert flag.message in doc
    total = sum(s.minutes for s in ha_plan.timeline(cp))
    assert f"About {total // 60} h {total % 60} min" in doc
