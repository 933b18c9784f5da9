"""The GitHub Actions workflows pass actionlint (built from Go by `make toolchain`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))


def test_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"preview.yml", "up.yml"}


def test_actionlint_passes():
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.fail("actionlint is not on PATH; run `make toolchain` (it builds actionlint from Go)")
    result = subprocess.run(
        [actionlint, "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_preview_runs_on_pull_requests_and_up_on_main_with_the_saved_plan():
    preview = yaml.safe_load(WORKFLOWS[[p.name for p in WORKFLOWS].index("preview.yml")].read_text())
    up = yaml.safe_load(WORKFLOWS[[p.name for p in WORKFLOWS].index("up.yml")].read_text())
    # PyYAML reads the `on` key as True.
    assert "pull_request" in preview[True] and up[True]["push"]["branches"] == ["main"]
    preview_steps = " ".join(s.get("run", "") for s in preview["jobs"]["preview"]["steps"])
    up_steps = [s.get("run", "") for s in up["jobs"]["up"]["steps"]]
    assert "make preview" in preview_steps and "gh pr comment" in preview_steps
    assert up_steps.index("make up YES=1") > next(i for i, r in enumerate(up_steps) if "make preview" in r)
    assert up["concurrency"]["cancel-in-progress"] is False  # never cancel an apply halfway


def test_the_pr_workflow_lints_and_tests_before_the_preview():
    preview = yaml.safe_load(WORKFLOWS[[p.name for p in WORKFLOWS].index("preview.yml")].read_text())
    runs = [s.get("run", "") for s in preview["jobs"]["preview"]["steps"]]
    assert runs.index("make lint") < runs.index("make test") < runs.index("make preview")
    # The tests run before the user's kubeconfig exists: they only ever see the embedded control plane.
    assert runs.index("make test") < next(i for i, r in enumerate(runs) if ".kube/config" in r)
