"""docs/high-availability-plan.md is generated from the model; this fails when the committed copy is stale.

Regenerate with `.venv/bin/python -m components.control_plane.cli > docs/high-availability-plan.md`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.control_plane.hardware import flags
from components.control_plane.plan_doc import render_plan_doc
from components.control_plane.timeline import timeline

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "high-availability-plan.md"


def test_committed_plan_is_current(real_config):
    assert DOC.read_text() == render_plan_doc(real_config.control_plane), (
        "docs/high-availability-plan.md is stale: run `python -m components.control_plane.cli > "
        "docs/high-availability-plan.md`"
    )


@pytest.mark.slow  # a Python start importing the model (half a second)
def test_generator_entry_point_prints_the_plan(real_config):
    out = subprocess.run(
        [sys.executable, "-m", "components.control_plane.cli"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == render_plan_doc(real_config.control_plane)


def test_plan_doc_covers_the_model(real_config):
    cp = real_config.control_plane
    doc = render_plan_doc(cp)
    for heading in (
        "## Today (facts)",
        "## Options",
        "## Target",
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
    for flag in flags(cp):
        assert flag.message in doc
    total = sum(s.minutes for s in timeline(cp))
    assert f"About {total // 60} h {total % 60} min" in doc


def test_plan_starts_from_todays_server(real_config):
    doc = render_plan_doc(real_config.control_plane).splitlines()
    assert doc[0] == "# High-availability plan: from k3s-master1 alone to 3 k3s servers on embedded etcd"
    assert doc[6].startswith(
        "- Today: k3s-master1 (VM on R730, 192.168.10.30, 4 vCPU / 8 GiB; README.md:70, CLUSTER-SETUP.md:75) "
        "is the only server, on embedded etcd (REBUILD-LOG-2025-06-16.md:57)"
    )
    text = "\n".join(doc)
    timeline = text.split("## Timeline")[1].split("## Sources")[0]
    assert "SQLite" not in timeline and "There is no SQLite to convert" in text  # servers join today's etcd
    assert "names k3s1 as the server (docs/high-availability-plan.md:9)" in text  # the seed, beside the fact
    assert "**Recommended: (b3) k3s-master1, k3s2, k3s3.**" in text
    assert (
        "Cilium's `k8sServiceHost` moves to 192.168.10.20: in the Flux repo, "
        '`clusters/k3s-home/infrastructure/01-cilium/helmrelease.yaml:28`: `k8sServiceHost: "192.168.10.20"`'
    ) in text
