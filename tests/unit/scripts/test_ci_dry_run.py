"""scripts/ci_dry_run.py: the PR workflow's own `run:` commands, in order, minus what needs GitHub."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "ci_dry_run.py"
_spec = importlib.util.spec_from_file_location("ci_dry_run", SCRIPT)
assert _spec and _spec.loader
dry_run = importlib.util.module_from_spec(_spec)
sys.modules["ci_dry_run"] = dry_run  # its dataclass looks its module up
_spec.loader.exec_module(dry_run)

PREVIEW = ROOT / ".github" / "workflows" / "preview.yml"


def test_the_dry_run_runs_exactly_the_workflows_commands_in_order():
    workflow = yaml.safe_load(PREVIEW.read_text())
    env, steps = dry_run.job_steps(workflow)
    ran = [s.run for s in steps if s.run is not None]
    assert ran == [
        "sudo apt-get update -qq && sudo apt-get install -y -qq graphviz",
        "make toolchain",
        "make lint",
        "make test",
        "make preview",
    ]
    assert len(steps) == len(workflow["jobs"]["preview"]["steps"])  # every step accounted for
    assert "PULUMI_BACKEND_URL" not in env and "KUBECONFIG_DATA" not in env  # secrets are not set
    assert env["K3S_HOME_REVIEW_SUMMARY"] == ".work/review-summary.txt"
    skipped = {s.name: s.why for s in steps if s.run is None}
    assert "repository secret behind KUBECONFIG_DATA" in skipped["Kubeconfig"]
    assert "GitHub context" in skipped["Post the review summary"]


def test_run_stops_at_the_first_failing_step_with_its_exit_code(tmp_path, capsys):
    workflow = {
        "jobs": {
            "j": {
                "env": {"GREETING": "hi", "TOKEN": "${{ secrets.T }}"},
                "steps": [
                    {"uses": "actions/checkout@v4"},
                    {"name": "one", "run": f'echo "$GREETING" > {tmp_path}/one'},
                    {"name": "secret", "run": 'echo "$TOKEN"'},
                    {"name": "two", "run": "exit 3"},
                    {"name": "three", "run": f"touch {tmp_path}/three"},
                ],
            }
        }
    }
    path = tmp_path / "w.yml"
    path.write_text(yaml.safe_dump(workflow))
    assert dry_run.main(["--run", str(path)]) == 3
    assert (tmp_path / "one").read_text() == "hi\n"
    assert not (tmp_path / "three").exists()
    out = capsys.readouterr()
    assert "-- skip  secret: needs the repository secret behind TOKEN" in out.out
    assert "step 'two' failed (exit 3)" in out.err


def test_pipefail_is_on_as_on_the_runner(tmp_path):
    workflow = {"jobs": {"j": {"steps": [{"name": "p", "run": "false | true"}]}}}
    path = tmp_path / "w.yml"
    path.write_text(yaml.safe_dump(workflow))
    assert dry_run.main(["--run", str(path)]) == 1


def test_without_run_nothing_runs(tmp_path, capsys):
    workflow = {"jobs": {"j": {"steps": [{"name": "t", "run": f"touch {tmp_path}/x"}]}}}
    path = tmp_path / "w.yml"
    path.write_text(yaml.safe_dump(workflow))
    assert dry_run.main([str(path)]) == 0
    assert not (tmp_path / "x").exists() and "would run  t: touch" in capsys.readouterr().out
