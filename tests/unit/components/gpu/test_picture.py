"""docs/gpu-plan.svg: drawn from the capacity proof, committed, and current (regenerate with `make docs`)."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from components.config.gpu import GpuConfig
from components.docs.generated import DOCS, stale
from components.gpu.picture import FILE, picture
from tests.conftest import TEST_TODAY

# Every test here draws (matplotlib or graphviz): the `slow` layer of `make test`.
pytestmark = pytest.mark.slow


def _gpu(real_raw: dict, **pools: dict) -> GpuConfig:
    """The real config with tenants' pool shares replaced: `_gpu(raw, ai={"gpu.intel.com/i915": {"max": 3}})`.
    The T4 shares are the directive's (media reserves 2, ai at most 2): the QuickSync pool is free to vary."""
    raw = copy.deepcopy(real_raw)
    for tenant in raw["gpu"]["tenants"]:
        tenant["pools"] = pools.get(tenant["namespace"], tenant["pools"])
    return load(raw, today=TEST_TODAY).gpu


def test_committed_picture_is_current(real_config) -> None:
    assert stale({FILE: picture(real_config.gpu)}) == [], f"docs/{FILE} is stale: run make docs"


def test_changing_a_tenants_cap_makes_the_committed_picture_stale(real_raw) -> None:
    # The same check as above, on a config where media's QuickSync reservation went from 4 to 6.
    changed = _gpu(real_raw, media={"nvidia.com/gpu": {"reserved": 2}, "gpu.intel.com/i915": {"reserved": 6}})
    assert picture(changed) != (DOCS / FILE).read_bytes()
    assert stale({FILE: picture(changed)}) == [FILE]


def test_every_pool_shows_its_proof_and_every_tenant(real_config) -> None:
    gpu = real_config.gpu
    svg = picture(gpu).decode()
    for v in gpu.verdicts():
        assert f"{v.pool} · {gpu.pool(v.pool).model} · committed {v.committed} of {v.capacity} slices" in svg
        assert f"{v.capacity} slices = {v.detail}" in svg
        # A full pool (the one T4: media 2 + ai 2 of 4) draws no free segment.
        assert (f">{v.free} free<" in svg) == (v.free > 0)
    for t in gpu.tenants:
        assert f"{t.namespace} ({t.priority_class_name})" in svg
    # media reserves 2 T4 slices and 4 QuickSync shares; ai may use up to 2 T4 slices and no QuickSync.
    assert svg.count(">reserved 2<") == 1 and svg.count(">reserved 4<") == 1 and ">max 2<" in svg
    assert "quota 0 for ai" in svg


def test_numbers_come_from_the_model(real_raw) -> None:
    gpu = _gpu(
        real_raw,
        media={"nvidia.com/gpu": {"reserved": 2}, "gpu.intel.com/i915": {"max": 5, "reserved": 3}},
        ai={"nvidia.com/gpu": {"max": 2}, "gpu.intel.com/i915": {"max": 6}},
    )
    svg = picture(gpu).decode()
    assert "committed 11 of 20 slices" in svg and ">9 free<" in svg
    assert ">max 5 (reserved 3)<" in svg and ">max 6<" in svg
    assert "committed 4 of 4 slices" in svg
    assert svg.count(" free<") == 1  # the full T4 pool draws no free segment
    assert "quota 0 for" not in svg
