"""Hardware flags: undersized, non-SSD, WAL fsync, USB NIC."""

from __future__ import annotations

import pytest

from components.config.control_plane import ControlPlaneConfig
from components.control_plane.hardware import flags, usb_quorum_risk
from tests.unit.components.control_plane.helpers import node_raw, variant


def codes(cp: ControlPlaneConfig) -> set[tuple[str, str, str]]:
    return {(f.node, f.code, f.severity) for f in flags(cp)}


def test_real_cluster_flags(real_config):
    assert codes(real_config.control_plane) == {
        ("k3s2", "usb-nic-etcd", "risk"),
        ("k3s-master1", "unmeasured-wal-fsync", "check"),
        ("k3s2", "unmeasured-wal-fsync", "check"),
        ("k3s3", "unmeasured-wal-fsync", "check"),
    }
    # One USB server, within the one failure three servers tolerate.
    assert not usb_quorum_risk(real_config.control_plane)


def test_master_at_todays_size_is_undersized(real_raw):
    def today(cp):
        del node_raw(cp, "k3s-master1")["growTo"]

    (flag,) = [f for f in flags(variant(real_raw, today)) if f.code == "undersized"]
    assert (flag.node, flag.severity) == ("k3s-master1", "blocker")
    assert flag.message == (
        "k3s-master1 (4 cores/8 GiB) as a server would keep 1 cores/2 GiB after system, control plane and "
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
    assert not [f for f in flags(cp) if f.code == "non-ssd-disk" and f.node != "k3s3"]


def test_non_ssd_disk_on_an_agent_is_a_note(real_raw):
    def agent_hdd(cp):
        node_raw(cp, "k3s1")["disk"] = {"class": "hdd"}

    assert ("k3s1", "non-ssd-disk", "note") in codes(variant(real_raw, agent_hdd))


@pytest.mark.parametrize(("p99", "slow"), [(10.0, True), (25.0, True), (9.9, False), (1.2, False)])
def test_wal_fsync_threshold(real_raw, p99, slow):
    def measured(cp):
        node_raw(cp, "k3s2")["disk"]["walFsyncP99Ms"] = p99

    found = {c for n, c, _ in codes(variant(real_raw, measured)) if n == "k3s2"}
    assert ("slow-wal-fsync" in found) is slow
    assert "unmeasured-wal-fsync" not in found


def test_usb_nic_only_flags_servers(real_config):
    # k3s1 has a USB NIC too but stays an agent.
    assert not [f for f in flags(real_config.control_plane) if f.node == "k3s1"]


def test_two_usb_servers_are_a_quorum_risk(real_raw):
    def both_optiplex(cp):
        cp["target"]["servers"] = ["k3s-master1", "k3s1", "k3s2"]

    cp = variant(real_raw, both_optiplex)
    assert usb_quorum_risk(cp)
    assert {("k3s1", "usb-nic-etcd", "risk"), ("k3s2", "usb-nic-etcd", "risk")} <= codes(cp)
