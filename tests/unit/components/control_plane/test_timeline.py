"""The plan's ordered steps."""

from __future__ import annotations

from components.control_plane.timeline import timeline


def test_timeline_order(real_config):
    steps = timeline(real_config.control_plane)
    titles = [s.title for s in steps]
    assert titles[0].startswith("Backups")
    convert = titles.index("Convert k3s1 from SQLite to embedded etcd")
    joins = [titles.index(f"Turn {n} into a server") for n in ("k3s2", "k3s3")]
    vip = next(i for i, t in enumerate(titles) if "VIP with kube-vip" in t)
    assert convert < vip < joins[0] < joins[1]
    assert all(s.minutes > 0 and s.rollback and s.verify and s.actions for s in steps)


def test_timeline_warns_about_the_two_member_window(real_config):
    steps = {s.title: s for s in timeline(real_config.control_plane)}
    assert any("2 etcd members tolerate 0" in a for a in steps["Turn k3s2 into a server"].actions)
    assert not any("etcd members tolerate" in a for a in steps["Turn k3s3 into a server"].actions)


def test_timeline_never_uninstalls_an_agent(real_config):
    for step in timeline(real_config.control_plane):
        for action in step.actions:
            assert "k3s-agent-uninstall.sh" not in action or "Never run" in action
