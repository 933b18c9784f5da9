"""The generator the stack chooses must be installed: a missing plugin is one line, never a switch. The
workspace and the checkpoint read save CLI starts without changing what the driver sees."""

from __future__ import annotations

import gzip
import json
import subprocess
from dataclasses import dataclass
from importlib import metadata

import pytest
from pulumi import automation as auto

from components.config import load
from k3s_home import engine
from k3s_home.backend import PROJECT, STACK
from k3s_home.engine import check_generator
from k3s_home.log import Refusal
from tests.conftest import TEST_TODAY


@dataclass
class Plugin:
    name: str
    kind: str
    version: str


class Workspace:
    def __init__(self, plugins: list[Plugin]):
        self.plugins = plugins

    def list_plugins(self) -> list[Plugin]:
        return self.plugins


def config(real_raw: dict, generator: str):
    return load({**real_raw, "secrets": {"generator": generator}}, today=TEST_TODAY)


def test_random_without_its_plugin_is_one_line_naming_the_key(real_raw):
    with pytest.raises(Refusal) as err:
        check_generator(Workspace([Plugin("kubernetes", "resource", "4.25.0")]), config(real_raw, "random"))
    version = metadata.version("pulumi_random")
    assert str(err.value).startswith(
        f"k3s-home:secrets.generator: random needs the random resource plugin {version}"
    )
    assert err.value.code == 2 and "\n" not in str(err.value)


def test_random_with_its_plugin_passes(real_raw):
    plugin = Plugin("random", "resource", metadata.version("pulumi_random"))
    check_generator(Workspace([plugin]), config(real_raw, "random"))


def test_python_needs_no_plugin(real_raw):
    check_generator(Workspace([]), config(real_raw, "python"))


def _state(tmp_path, monkeypatch, suffix: str = ".json") -> dict:
    """A local file backend holding the stack's checkpoint; returns the deployment it holds."""
    latest = {"resources": [{"urn": "urn:x"}], "pending_operations": [{"type": "creating"}]}
    stacks = tmp_path / ".pulumi" / "stacks" / PROJECT
    stacks.mkdir(parents=True)
    data = json.dumps({"version": 3, "checkpoint": {"stack": STACK, "latest": latest}}).encode()
    (stacks / f"{STACK}{suffix}").write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    return latest


@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_checkpoint_reads_the_local_state_without_the_cli(tmp_path, monkeypatch, suffix):
    latest = _state(tmp_path, monkeypatch, suffix)
    monkeypatch.setattr(engine, "deployment", lambda stack: pytest.fail("no CLI for a local backend"))
    assert engine.checkpoint(object()) == latest


def test_checkpoint_of_another_backend_asks_the_cli(monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://bucket")
    monkeypatch.setattr(engine, "deployment", lambda stack: {"from": "the CLI"})
    assert engine.checkpoint(object()) == {"from": "the CLI"}


def test_workspace_takes_the_pinned_version_and_skips_selecting_a_stored_stack(tmp_path, monkeypatch):
    _state(tmp_path, monkeypatch)
    monkeypatch.setenv("K3S_HOME_PULUMI_VERSION", "3.259.0")

    def no_cli(*args, **kwargs):
        raise AssertionError(f"a CLI start: {args}")

    monkeypatch.setattr(subprocess, "check_output", no_cli)  # what `pulumi version` would run through
    monkeypatch.setattr(auto.LocalWorkspace, "select_stack", no_cli)
    ws = engine._Workspace(work_dir=str(tmp_path))
    assert str(ws.pulumi_command.version) == "3.259.0" and ws.pulumi_command.command == "pulumi"
    ws.select_stack(STACK)  # held by the local state: nothing to select
    with pytest.raises(AssertionError, match="a CLI start"):
        ws.select_stack("another")  # not ours: selected through the CLI as before


def test_workspace_selects_through_the_cli_when_the_state_has_no_such_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")
    monkeypatch.setenv("K3S_HOME_PULUMI_VERSION", "3.259.0")
    selected: list[str] = []
    monkeypatch.setattr(auto.LocalWorkspace, "select_stack", lambda self, name: selected.append(name))
    engine._Workspace(work_dir=str(tmp_path)).select_stack(STACK)
    assert selected == [STACK]
