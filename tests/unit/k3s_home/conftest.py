"""A driver with the engine and the cluster faked at their boundaries, for the commands' wiring tests.

Faked: the stack file check, the target choice, the Automation API stack (`FakeStack`), the state export
and import, and the cluster's answers (its kube-system uid, which objects exist). Real: the lock files in
a file:// backend and their liveness, the identity record, the event stream and its wait, the gate.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi import automation as auto

from k3s_home import commands, engine, identity, recover, target
from k3s_home.backend import Run
from k3s_home.events import WAIT_ENV
from review.gate import SUMMARY_ENV


def event(sequence: int, **body: Any) -> SimpleNamespace:
    """An Automation API engine event (attributes in snake case, as the API hands them over)."""
    return SimpleNamespace(sequence=sequence, **{k: SimpleNamespace(**v) for k, v in body.items()})


def finished() -> list[SimpleNamespace]:
    """A whole stream of a run with no steps: the summary, then the engine's final event."""
    return [event(0, summary_event={"resource_changes": {}}), event(1, cancel_event={})]


class FakeStack:
    """The Automation API stack: records each call; `events` are delivered to `on_event`."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.events: list[SimpleNamespace] = finished()
        self.workspace = SimpleNamespace(work_dir="unused")
        self.failing: set[str] = set()  # operations whose CLI run fails

    def _run(self, name: str, kw: dict[str, Any]) -> None:
        self.calls.append(name)
        for e in self.events:
            if kw.get("on_event"):
                kw["on_event"](e)
        if name in self.failing:  # the CLI exited non-zero (after its events, as the engine does)
            from pulumi.automation._cmd import CommandResult

            raise auto.errors.CommandError(CommandResult("", f"error: {name} failed", 255))

    def preview(self, **kw: Any) -> None:
        self._run("preview", kw)

    def up(self, **kw: Any) -> None:
        self._run("up", kw)

    def preview_destroy(self, **kw: Any) -> None:
        self._run("preview_destroy", kw)

    def destroy(self, **kw: Any) -> None:
        self._run("destroy", kw)

    def refresh(self, **kw: Any) -> None:
        self._run("refresh", kw)


@dataclass
class Driver:
    run: Run
    stack: FakeStack
    backend: Path  # the file:// backend's directory (locks live under it)
    uid: str = "uid-of-this-cluster"  # the target's kube-system uid
    state: dict[str, Any] = field(default_factory=lambda: {"resources": [], "pending_operations": []})
    imported: list[dict[str, Any]] = field(default_factory=list)  # states written back
    present: set[tuple[str | None, str]] = field(default_factory=set)  # (namespace, name) in the cluster

    def tie_to(self, uid: str) -> None:
        """The identity record of a state written for the cluster `uid`."""
        record = {"backend": f"file://{self.backend}", "uid": uid}
        (self.run.dir / identity.RECORD).write_text(json.dumps(record))

    def lock(self, pid: int, host: str | None = None) -> Path:
        path = self.backend / ".pulumi" / "locks" / "organization" / "k3s-home" / "k3s-home" / "l.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"pid": pid, "hostname": host or socket.gethostname(), "timestamp": "2026-11-29T12:00:00Z"}
        path.write_text(json.dumps(data))
        return path


class FakeLookup:
    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.asked: list[str] = []

    def __call__(self, ref: Any) -> bool:
        self.asked.append(ref.name)
        return (ref.namespace, ref.name) in self.driver.present

    def close(self) -> None:
        pass


@pytest.fixture
def driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_config) -> Driver:
    backend = tmp_path / "backend"
    backend.mkdir()
    run = Run(tmp_path / "run")
    run.dir.mkdir()
    d = Driver(run, FakeStack(), backend)
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{backend}")
    monkeypatch.setenv(WAIT_ENV, "0.05")  # a partial stream is refused at once
    monkeypatch.delenv(SUMMARY_ENV, raising=False)
    monkeypatch.setattr(engine, "validated_config", lambda today: real_config)
    monkeypatch.setattr(target, "choose", lambda: "")  # "": the gate asks no cluster about creates
    monkeypatch.setattr(engine, "open_stack", lambda run: (d.stack, run.dir / "stack.yaml"))
    monkeypatch.setattr(engine, "check_generator", lambda ws, config: None)
    monkeypatch.setattr(engine, "deployment", lambda stack: json.loads(json.dumps(d.state)))
    monkeypatch.setattr(engine, "checkpoint", lambda stack: json.loads(json.dumps(d.state)))
    monkeypatch.setattr(engine, "import_deployment", lambda stack, data, run: d.imported.append(data))
    monkeypatch.setattr(identity, "cluster_uid", lambda kubeconfig: d.uid)
    monkeypatch.setattr(commands, "redrawn_pictures", lambda config: [])
    monkeypatch.setattr(recover, "ClusterLookup", lambda kubeconfig: FakeLookup(d))
    monkeypatch.setattr(recover, "checkpoint_file", lambda: None)
    return d
