"""docs/high-availability-plan.md is generated from the model; this fails when the committed copy is stale.

Regenerate with `.venv/bin/python -m components.ha_plan > docs/high-availability-plan.md`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components import ha_plan

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "high-availability-plan.md"


def test_committed_plan_is_current(real_config):
    assert DOC.read_text() == ha_plan.render_plan_doc(real_config.control_plane), (
        "docs/high-availability-plan.md is stale: run `python -m components.ha_plan > "
        "docs/high-availability-plan.md`"
    )


def test_generator_entry_point_prints_the_plan(real_config):
    out = subprocess.run(
        [sys.executable, "-m", "components.ha_plan"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out == ha_plan.render_plan_doc(real_config.control_plane)
