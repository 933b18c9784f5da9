"""`make up` applies the reviewed plan the way the preview computed it: refreshed against the target."""

from __future__ import annotations

from typing import Any

from k3s_home import commands
from k3s_home.backend import Run
from tests.conftest import TEST_TODAY


class FakeStack:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def up(self, **kw: Any) -> None:
        self.calls.append(kw)


def test_up_refreshes_and_applies_exactly_the_saved_plan(tmp_path, monkeypatch, real_config):
    """A plan saved by a refreshing preview holds the steps that put drift back; an up that did not refresh
    would plan none of them, and the engine refuses a plan whose steps it does not see."""
    run = Run(tmp_path)
    run.plan.write_text("{}")
    stack = FakeStack()
    monkeypatch.setattr(
        commands, "_start", lambda run, today: (stack, tmp_path / "stack.yaml", "kc", real_config)
    )
    tied: list[str] = []
    monkeypatch.setattr(commands.identity, "record", lambda run, kubeconfig: tied.append(kubeconfig))
    assert commands.up(run, TEST_TODAY, yes=True) == 0
    assert tied == ["kc"]  # the state is tied to the target before the engine writes it
    [call] = stack.calls
    assert call["refresh"] is True and call["plan"] == str(run.plan)
    assert call["policy_packs"] == [str(commands.engine.POLICY_PACK)]
    assert not run.plan.exists()  # a plan is applied once
