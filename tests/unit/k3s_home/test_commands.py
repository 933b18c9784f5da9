"""`make up` applies the reviewed plan the way the preview computed it: refreshed against the target."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from k3s_home import commands, locks
from k3s_home.backend import Run
from k3s_home.cli import main
from k3s_home.log import Refusal
from tests.conftest import TEST_TODAY
from tests.unit.k3s_home.conftest import event, finished
from tests.unit.k3s_home.test_locks import dead_pid


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


# ---- each command's refusals, with the engine and the cluster faked at their boundaries (conftest.py) ------

COMMANDS = {
    "preview": lambda run: commands.preview(run, TEST_TODAY, [], []),
    "up": lambda run: commands.up(run, TEST_TODAY, yes=True),
    "destroy": lambda run: commands.destroy(run, TEST_TODAY, [], yes=True),
}
# What the engine is asked to do by each command when nothing refuses.
ENGINE_CALLS = {"preview": ["preview"], "up": ["up"], "destroy": ["preview_destroy", "destroy"]}


def ready(driver, name: str):
    if name == "up":
        driver.run.plan.write_text("{}")  # a reviewed plan from the last preview
    return COMMANDS[name]


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_runs_the_engine_when_nothing_refuses(driver, name) -> None:
    driver.tie_to(driver.uid)
    assert ready(driver, name)(driver.run) == 0
    assert driver.stack.calls == ENGINE_CALLS[name]


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_refuses_a_state_of_another_cluster_before_the_engine_runs(driver, name) -> None:
    driver.tie_to("uid-of-a-wiped-cluster")
    command = ready(driver, name)
    with pytest.raises(Refusal) as refused:
        command(driver.run)
    assert "kube-system uid is uid-of-a-wiped-cluster, but the target's is uid-of-this-cluster" in str(
        refused.value
    )
    assert "\n" not in str(refused.value)
    assert driver.stack.calls == [] and driver.imported == []
    assert json.loads((driver.run.dir / "target-cluster.json").read_text())["uid"] == "uid-of-a-wiped-cluster"


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_refuses_while_the_lock_holder_runs(driver, name) -> None:
    lock = driver.lock(os.getpid())
    with pytest.raises(Refusal, match=r"which is still running: wait for it to finish$"):
        ready(driver, name)(driver.run)
    assert driver.stack.calls == [] and lock.is_file()


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_refuses_a_stale_lock_and_names_recover(driver, name) -> None:
    lock = driver.lock(dead_pid())
    with pytest.raises(Refusal, match=r"that process is gone \(a killed update\): run `make recover`"):
        ready(driver, name)(driver.run)
    assert driver.stack.calls == [] and lock.is_file()  # only recover and cancel clear it


def test_a_lock_held_by_a_process_we_may_not_signal_is_live(driver, monkeypatch) -> None:
    """os.kill(pid, 0) raising PermissionError (EPERM): the process exists, under another user."""
    lock = driver.lock(4242)

    def eperm(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(locks.os, "kill", eperm)
    with pytest.raises(Refusal, match=r"pid 4242 on .* which is still running"):
        commands.preview(driver.run, TEST_TODAY, [], [])
    with pytest.raises(Refusal, match=r"still running: not cancelling it"):
        commands.cancel(driver.run)
    assert driver.stack.calls == [] and lock.is_file()


def test_cancel_clears_a_stale_lock_but_never_one_of_another_host(driver) -> None:
    lock = driver.lock(dead_pid(), host="another-host")
    with pytest.raises(Refusal, match=r"on another-host .* still running: not cancelling it"):
        commands.cancel(driver.run)
    assert lock.is_file()
    lock = driver.lock(dead_pid())
    assert commands.cancel(driver.run) == 0 and not lock.exists()


@pytest.mark.parametrize("name", ["preview", "destroy"])
def test_a_stream_without_the_engines_final_event_is_refused(driver, name) -> None:
    driver.stack.events = finished()[:-1]  # the summary arrived, the final event never did
    with pytest.raises(Refusal, match=r"the engine's final event did not reach the driver .* refusing"):
        ready(driver, name)(driver.run)
    assert driver.stack.calls == ENGINE_CALLS[name][:1]  # destroy never runs
    assert not driver.run.plan.exists()  # no plan is left for `up` to apply


@pytest.mark.parametrize("name", ["preview", "destroy"])
def test_a_stream_with_a_lost_event_is_refused(driver, name) -> None:
    driver.stack.events = [event(0, summary_event={"resource_changes": {}}), event(2, cancel_event={})]
    with pytest.raises(Refusal, match=r"engine event 1 \(of 2\) never reached the driver"):
        ready(driver, name)(driver.run)
    assert driver.stack.calls == ENGINE_CALLS[name][:1]


def test_a_preview_the_gate_blocks_leaves_no_plan(driver) -> None:
    driver.stack.events = [event(0, cancel_event={})]  # whole, but no summary: the preview did not finish
    driver.run.plan.write_text("{}")  # as if the engine had saved one
    assert commands.preview(driver.run, TEST_TODAY, [], []) == 1
    assert not driver.run.plan.exists()


def test_up_without_a_reviewed_plan_refuses(driver) -> None:
    with pytest.raises(Refusal, match=r"^no reviewed plan: run 'make preview' first$"):
        commands.up(driver.run, TEST_TODAY, yes=True)
    assert driver.stack.calls == []


def test_destroy_refuses_an_interrupted_update(driver) -> None:
    driver.state["pending_operations"] = [{"type": "creating", "resource": {"urn": "u", "type": "t"}}]
    with pytest.raises(Refusal, match=r"pending operations in the state\): run `make recover` first$"):
        commands.destroy(driver.run, TEST_TODAY, [], yes=True)
    assert driver.stack.calls == []


@pytest.mark.parametrize("name", COMMANDS)
def test_a_failing_engine_run_exits_1(driver, name) -> None:
    driver.tie_to(driver.uid)
    driver.stack.failing = {ENGINE_CALLS[name][-1]}  # destroy: its preview passes, the destroy fails
    assert ready(driver, name)(driver.run) == 1
    assert driver.stack.calls == ENGINE_CALLS[name]
    assert not driver.run.plan.exists()  # nothing reviewed is left to apply


def test_a_failing_destroy_preview_destroys_nothing(driver) -> None:
    driver.stack.failing = {"preview_destroy"}
    assert commands.destroy(driver.run, TEST_TODAY, [], yes=True) == 1
    assert driver.stack.calls == ["preview_destroy"] and driver.imported == []


PVC = "kubernetes:core/v1:PersistentVolumeClaim"
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"


def resource(typ: str, name: str, protect: bool) -> dict:
    meta = {"name": name, "namespace": "media"}
    return {
        "urn": f"urn:pulumi:k3s-home::k3s-home::{typ}::{name}",
        "type": typ,
        "custom": True,
        "protect": protect,
        "inputs": {"metadata": meta},
        "outputs": {"metadata": meta},
    }


def test_destroy_refuses_to_lose_an_unacknowledged_claim(driver, capsys) -> None:
    driver.state["resources"] = [resource(PVC, "bazarr-config-pvc", protect=True)]
    assert commands.destroy(driver.run, TEST_TODAY, [], yes=True) == 1
    assert driver.stack.calls == ["preview_destroy"] and driver.imported == []
    assert "destroy refused: acknowledge each data-bearing delete" in capsys.readouterr().err


def test_destroy_unprotects_the_state_it_was_allowed_to_lose(driver) -> None:
    driver.state["resources"] = [
        resource(CONFIG_MAP_TYPE, "settings", protect=True),
        resource(PVC, "bazarr-config-pvc", protect=True),
    ]
    assert commands.destroy(driver.run, TEST_TODAY, ["bazarr-config-pvc"], yes=True) == 0
    [state] = driver.imported
    assert [r["protect"] for r in state["resources"]] == [False, False]
    assert driver.stack.calls == ["preview_destroy", "destroy"]


def test_up_without_a_terminal_or_yes_refuses(driver, monkeypatch) -> None:
    monkeypatch.setattr(commands.sys.stdin, "isatty", lambda: False, raising=False)
    driver.run.plan.write_text("{}")
    with pytest.raises(Refusal, match=r"^apply the reviewed plan: not confirmed \(no terminal\); pass YES=1"):
        commands.up(driver.run, TEST_TODAY, yes=False)
    assert driver.stack.calls == []
