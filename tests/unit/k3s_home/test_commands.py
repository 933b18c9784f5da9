"""`make up` applies the reviewed plan the way the preview computed it: refreshed against the target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from k3s_home import commands
from k3s_home.backend import Run
from k3s_home.cli import main
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


# The passthrough commands the README and the docs name, and the pulumi command line each becomes: `stack`
# and `state` take no --config-file in the CLI the toolchain builds ("unknown flag: --config-file").
CONFIG = "/run/stack/Pulumi.k3s-home.yaml"
STACK_FLAGS = ["--stack", "k3s-home"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stack", "output", "gpu", "--json"], ["stack", "output", "gpu", "--json", *STACK_FLAGS]),
        (["stack", "export"], ["stack", "export", *STACK_FLAGS]),
        (["stack", "ls"], ["stack", "ls", *STACK_FLAGS]),
        (["state"], ["state"]),
        (["state", "delete", "urn:x"], ["state", "delete", "urn:x", *STACK_FLAGS]),
        (["state", "unprotect", "urn:x"], ["state", "unprotect", "urn:x", *STACK_FLAGS]),
        (["state", "move", "--source", "a"], ["state", "move", "--source", "a"]),
        (["refresh", "--yes"], ["refresh", "--yes", *STACK_FLAGS, "--config-file", CONFIG]),
        (["config"], ["config", *STACK_FLAGS, "--config-file", CONFIG]),
        (
            ["config", "get", "k3s-home:gpu"],
            ["config", "get", "k3s-home:gpu", *STACK_FLAGS, "--config-file", CONFIG],
        ),
        (["import", "t", "n", "id"], ["import", "t", "n", "id", *STACK_FLAGS, "--config-file", CONFIG]),
        (["version"], ["version"]),
    ],
)
def test_passthrough_adds_only_the_flags_each_command_takes(args, expected):
    assert commands.passthrough_command(args, Path(CONFIG)) == ["pulumi", *expected]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["config", "set", "k3s-home:x", "1"], "edit Pulumi.k3s-home.yaml"),
        (["config", "rm", "k3s-home:x"], "edit Pulumi.k3s-home.yaml"),
        (["watch"], "use make preview, make up"),
        (["login", "file://x"], "pulumi login is not passed through"),
        (["new"], "pulumi new is not passed through"),
    ],
)
def test_passthrough_refuses_in_one_line_before_touching_a_target(
    args, reason, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(commands.target, "choose", lambda: pytest.fail("the target was touched"))
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and reason in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_refused_config_write_never_echoes_its_value(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(["config", "set", "--secret", "k3s-home:token", "s3cr3t-value"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("[k3s-home] pulumi config set: edits the driver's copy") and "s3cr3t" not in err
