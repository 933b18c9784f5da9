"""Per-node resource budgets and headroom."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config.node import Node
from components.control_plane.budget import budget, budgets


def test_real_headroom(real_config):
    cp = real_config.control_plane
    assert {b.node: (b.server, b.headroom) for b in budgets(cp)} == {
        "k3s-master1": (True, (1.0, 6.0)),  # grown to 4/12 - system 1/2 - control plane 2/4
        "k3s1": (False, (6.0, 28.0)),  # agent: 8/32 - system 1/2 - jellyfin 1/2, no control-plane share
        "k3s2": (True, (5.0, 10.0)),
        "k3s3": (True, (24.5, 361.0)),  # facts 32/384; the AI work stays: 4.5 cores / 17 GiB of requests
    }


def test_a_grown_vm_counts_at_its_grown_size(real_config):
    cp = real_config.control_plane
    master = cp.node("k3s-master1")
    assert (master.cores, master.memory_gi_b) == (4, 8)  # the facts: today's VM
    assert budget(master, cp).capacity == (4.0, 12.0)


def test_k3s_master1_at_todays_size_keeps_too_little(real_config):
    cp = real_config.control_plane
    today = cp.node("k3s-master1").model_copy(update={"grow_to": None})
    assert budget(today, cp, as_server=True).headroom == (1.0, 2.0)


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
    b = budget(node, cp, as_server=server)
    res = cp.reservations
    cp_cores, cp_mem = (res.control_plane.cores, res.control_plane.memory_gi_b) if server else (0, 0)
    assert b.headroom[0] == pytest.approx(cores - res.system.cores - cp_cores - sum(c for c, _ in work))
    assert b.headroom[1] == pytest.approx(mem - res.system.memory_gi_b - cp_mem - sum(m for _, m in work))
