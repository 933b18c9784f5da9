"""The plan's ordered steps, from today's control plane (the facts)."""

from __future__ import annotations

from components.control_plane.timeline import timeline
from tests.unit.components.control_plane.helpers import facts_variant, variant


def test_timeline_order(real_config):
    steps = timeline(real_config.control_plane)
    titles = [s.title for s in steps]
    assert titles[0].startswith("Backups")
    assert not [t for t in titles if "SQLite" in t]  # embedded etcd today: nothing to convert
    san = titles.index("Add the VIP to k3s-master1's serving certificate")
    vip = next(i for i, t in enumerate(titles) if "VIP with kube-vip" in t)
    cilium = titles.index("Move Cilium to the VIP")
    joins = [titles.index(f"Turn {n} into a server") for n in ("k3s3", "k3s2")]
    grow = titles.index("Grow k3s-master1 to 4 vCPU / 12 GiB")
    # The certificate names the VIP before kube-vip serves it; Cilium moves to the VIP once it answers
    # and before a second server joins, so losing k3s-master1 never cuts Cilium off the API.
    assert san < vip < cilium < joins[0] < joins[1] < grow < len(titles) - 1
    assert all(s.minutes > 0 and s.rollback and s.verify and s.actions for s in steps)


def test_cilium_step_names_the_flux_file_and_line(real_config):
    (step,) = [s for s in timeline(real_config.control_plane) if s.title == "Move Cilium to the VIP"]
    assert any(
        'clusters/k3s-home/infrastructure/01-cilium/helmrelease.yaml:28`: `k8sServiceHost: "192.168.10.20"`'
        in a
        for a in step.actions
    )
    assert "192.168.10.20:6443" in step.verify
    assert "192.168.10.30" in step.rollback


def test_timeline_warns_about_the_two_member_window(real_config):
    steps = {s.title: s for s in timeline(real_config.control_plane)}
    assert any("2 etcd members tolerate 0" in a for a in steps["Turn k3s3 into a server"].actions)
    assert not any("etcd members tolerate" in a for a in steps["Turn k3s2 into a server"].actions)


def test_timeline_never_uninstalls_an_agent(real_config):
    for step in timeline(real_config.control_plane):
        for action in step.actions:
            assert "k3s-agent-uninstall.sh" not in action or "Never run" in action


def test_a_cluster_on_sqlite_gets_the_conversion_step(real_raw, tmp_path, monkeypatch):
    def sqlite(f):
        f["controlPlane"]["datastore"] = "sqlite"

    facts_variant(tmp_path, monkeypatch, sqlite)
    titles = [s.title for s in timeline(variant(real_raw, lambda cp: None))]
    assert "Convert k3s-master1 from SQLite to embedded etcd" in titles
    assert "Add the VIP to k3s-master1's serving certificate" not in titles
