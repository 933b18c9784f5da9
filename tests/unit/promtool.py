"""Run Prometheus' own `promtool` over what the stack renders: it is the tool that consumes the rules.

promtool comes from the toolchain (scripts/toolchain.sh builds it and puts it on PATH in .work/env.sh).
A missing promtool fails the test with one line; it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / ".work" / "env.sh"


def _toolchain_path() -> str:
    """PATH as .work/env.sh sets it (for runs that did not source it), else the current PATH."""
    if not ENV_FILE.exists():
        return os.environ.get("PATH", "")
    out = subprocess.run(
        ["bash", "-c", f'source "{ENV_FILE}" >/dev/null 2>&1 && printf %s "$PATH"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout or os.environ.get("PATH", "")


def binary() -> str:
    found = shutil.which("promtool") or shutil.which("promtool", path=_toolchain_path())
    if not found:
        pytest.fail(
            "promtool is not on PATH: run `make toolchain` (it builds promtool) and `source .work/env.sh`",
            pytrace=False,
        )
    return found


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([binary(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def write_rules(groups: list[dict], directory: Path, name: str = "rules.yaml") -> Path:
    """A Prometheus rule file from PrometheusRule `spec.groups` (the operator writes the same format)."""
    path = directory / name
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def check_rules(groups: list[dict], directory: Path) -> subprocess.CompletedProcess:
    """`promtool check rules` (the duplicate-rules lint is fatal too) over the given rule groups."""
    path = write_rules(groups, directory)
    return _run("check", "rules", "--lint=all", "--lint-fatal", path.name, cwd=directory)


def test_rules(groups: list[dict], test_file: Path, directory: Path) -> subprocess.CompletedProcess:
    """`promtool test rules` of `test_file` (which names `rules.yaml`) against the given rule groups."""
    write_rules(groups, directory)
    copy = directory / test_file.name
    copy.write_text(test_file.read_text())
    return _run("test", "rules", copy.name, cwd=directory)


test_rules.__test__ = False  # a helper, not a pytest test


def expressions_as_rules(exprs: dict[str, str]) -> list[dict]:
    """Dashboard queries as recording rules, so that `promtool check rules` parses every one."""
    return [
        {
            "name": "dashboard-queries",
            "rules": [{"record": f"dashboard:{key}", "expr": expr} for key, expr in exprs.items()],
        }
    ]


def alerts_tested(tests_file: Path) -> set[str]:
    """The alert names a `promtool test rules` file has cases for."""
    return {
        case["alertname"]
        for group in yaml.safe_load(tests_file.read_text())["tests"]
        for case in group["alert_rule_test"]
    }
