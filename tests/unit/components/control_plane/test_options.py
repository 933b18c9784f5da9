"""The options for the two servers that join k3s-master1, scored with the plan's math, and the pick."""

from __future__ import annotations

from components.control_plane.options import compare, recommend, why_recommended
from tests.unit.components.control_plane.helpers import node_raw, variant


def by_key(cp) -> dict:
    return {o.key: o for o in compare(cp)}


def test_the_options_from_today(real_config):
    opts = by_key(real_config.control_plane)
    assert {k: o.servers for k, o in opts.items()} == {
        "a": ["k3s-master1", "k3s-master2", "k3s-master3"],  # two new VMs beside it on the R730
        "b1": ["k3s-master1", "k3s1", "k3s2"],
        "b2": ["k3s-master1", "k3s1", "k3s3"],
        "b3": ["k3s-master1", "k3s2", "k3s3"],
    }
    assert all(o.servers[0] == "k3s-master1" and len(o.servers) % 2 == 1 for o in opts.values())


def test_three_vms_on_the_r730_are_one_failure_domain(real_config):
    a = by_key(real_config.control_plane)["a"]
    assert a.machines == ["R730"] and a.worst_machine_loss == 3
    assert not a.survives_any_machine and not a.survives_nfs_host
    assert a.planned == ["k3s-master2", "k3s-master3"]


def test_both_optiplexes_put_quorum_on_usb_nics(real_config):
    b1 = by_key(real_config.control_plane)["b1"]
    assert b1.survives_any_machine
    assert (b1.usb_members, b1.tolerance, b1.usb_risk) == (2, 1, True)


def test_the_recommendation_is_the_configs_target(real_config):
    cp = real_config.control_plane
    opts = compare(cp)
    best = recommend(opts)
    assert best.key == "b3" and set(best.servers) == set(cp.target.servers)
    assert [o.key for o in opts] == ["b3", "b2", "b1", "a"]  # ranked
    # b3 and b2 tie on failure domains, USB and size: k3s2 carries no staying work, k3s1 runs Jellyfin.
    b3, b2 = opts[0], opts[1]
    assert (b3.staying, b2.staying) == ((4.5, 17.0), (5.5, 19.0))
    assert why_recommended(opts)[-1] == (
        "against (b2) its joining members carry less staying work (4.5 c / 17 GiB: ollama, automatic1111, "
        "open-webui, against 5.5 c / 19 GiB: jellyfin, ollama, automatic1111, open-webui), so their drain "
        "pauses less and etcd shares less"
    )


def test_headroom_comes_from_the_budget(real_config):
    opts = by_key(real_config.control_plane)
    # k3s-master1 grown to 4/12: 12 - 2 system - 4 control plane = 6 GiB; k3s3 from the facts, 32/384.
    assert [m.headroom for m in opts["b3"].members] == [(1.0, 6.0), (5.0, 10.0), (24.5, 361.0)]
    assert opts["a"].members[1].headroom == (1.0, 6.0)  # a clone of today's VM


def test_a_usb_nic_moved_to_onboard_changes_the_ranking_input(real_raw):
    onboard = variant(real_raw, lambda cp: node_raw(cp, "k3s1").update(nic="onboard"))
    b1 = by_key(onboard)["b1"]
    assert (b1.usb_members, b1.usb_risk) == (1, False)
