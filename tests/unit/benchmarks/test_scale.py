"""benchmarks/scale.py: the 3x and 10x stack files are valid configs with k times the lists."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from benchmarks.scale import scaled
from components.config import load
from tests.conftest import ROOT, STACK_FILE, TEST_TODAY

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")


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


@pytest.mark.slow  # a fresh interpreter building the whole program under mocks
def test_the_measurement_runs_and_reports_per_resource_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("K3S_HOME_TODAY", TEST_TODAY.isoformat())
    path = tmp_path / "Pulumi.k3s-home.1x.yaml"
    path.write_text(yaml.safe_dump(scaled(yaml.safe_load(STACK_FILE.read_text()), 1), sort_keys=False))
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.scale", "1", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["k"] == 1 and result["resources"] > 40
    assert 0 < result["kib_per_resource_without_interned"] <= result["kib_per_resource"]
    assert result["interned_kib"] >= 0
