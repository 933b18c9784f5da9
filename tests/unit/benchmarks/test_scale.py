"""benchmarks/scale.py: the 3x and 10x stack files are valid configs with k times the lists."""

from __future__ import annotations

import pytest
import yaml

from benchmarks.scale import scaled
from components.config import load
from tests.conftest import STACK_FILE, TEST_TODAY


@pytest.mark.parametrize("k", [1, 3, 10])
def test_scaled_stack_validates_with_k_times_the_lists(k):
    doc = yaml.safe_load(STACK_FILE.read_text())
    real = load({key.removeprefix("k3s-home:"): v for key, v in doc["config"].items()}, today=TEST_TODAY)
    cfg = load(
        {key.removeprefix("k3s-home:"): v for key, v in scaled(doc, k)["config"].items()}, today=TEST_TODAY
    )
    assert len(cfg.authentik.clients) == k * len(real.authentik.clients)
    assert len(cfg.gpu.tenants) == k * len(real.gpu.tenants)
    assert len({t.namespace for t in cfg.gpu.tenants}) == len(cfg.gpu.tenants)  # more namespaces
    claims = sum(len(m.pvcs) for m in cfg.storage.migrations)
    assert claims == k * sum(len(m.pvcs) for m in real.storage.migrations)
