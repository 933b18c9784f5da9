"""scripts/test_layers.py: the layers run in order with their times printed; the first failure stops."""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "test_layers.py"
_spec = importlib.util.spec_from_file_location("test_layers", SCRIPT)
assert _spec and _spec.loader
layers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layers)


@dataclass
class FakePytest:
    failing: set[str] = field(default_factory=set)  # layer names whose pytest exits 1
    ran: list[str] = field(default_factory=list)

    def run(self, cmd: list[str], check: bool, env: dict[str, str]) -> subprocess.CompletedProcess:
        assert "PYTHONDONTWRITEBYTECODE" not in env
        name = next(n for n, args in layers.LAYERS.items() if cmd[-len(args) :] == args)
        self.ran.append(name)
        return subprocess.CompletedProcess(cmd, 1 if name in self.failing else 0)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakePytest:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    fake = FakePytest()
    monkeypatch.setattr(layers.subprocess, "run", fake.run)
    return fake


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.split("layer          seconds  result")[1].strip().splitlines()]


def test_all_layers_run_in_order_and_each_time_is_printed(fake, capsys):
    assert layers.main([]) == 0
    assert fake.ran == ["unit+policy", "slow", "integration"]
    rows = table(capsys.readouterr().out)
    assert [(r[0], r[2]) for r in rows] == [("unit+policy", "ok"), ("slow", "ok"), ("integration", "ok")]
    assert all(float(r[1]) >= 0 for r in rows)


def test_the_first_failing_layer_stops_the_run_and_sets_the_exit_code(fake, capsys):
    fake.failing = {"slow"}
    assert layers.main([]) == 1
    assert fake.ran == ["unit+policy", "slow"]  # integration never started
    assert [r[0] for r in table(capsys.readouterr().out)] == ["unit+policy", "slow"]


def test_the_quick_and_slow_layers_split_unit_and_policy_between_them():
    quick, slow = layers.LAYERS["unit+policy"], layers.LAYERS["slow"]
    assert quick[:2] == slow[:2] == ["tests/unit", "tests/policy"]
    assert (quick[2:4], slow[2:]) == (["-m", "not slow"], ["-m", "slow"])
    assert quick[4:] == ["-n", "auto"]  # one xdist worker per core for the quick layer only


def test_unknown_layer_is_one_line(fake, capsys):
    assert layers.main(["nope"]) == 2
    assert fake.ran == []
    assert capsys.readouterr().err.count("\n") == 1
