"""The gate judges every engine event or none: a stream whose final event never arrived is refused.

The Automation API delivers events on its own threads and returns without waiting for them; these tests
drive the driver with a fake stack that controls exactly which events arrive, and when, so nothing here
depends on timing: the wait is 0 s where the final event is missing, and unbounded in practice (60 s)
where it arrives, since a set event returns at once.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

import review.gate
from k3s_home import commands
from k3s_home.backend import Run
from k3s_home.cli import main
from k3s_home.events import WAIT_ENV, EventStream
from k3s_home.log import Refusal

URN = "urn:pulumi:k3s-home::k3s-home::k3s-home:storage:MonitoringStorage$kubernetes:core/v1:ConfigMap::cm"


def engine_events(final: bool = True) -> list[auto.EngineEvent]:
    """A preview's events as the engine sends them: a step, the summary, then the final cancel event."""
    raw: list[dict[str, Any]] = [
        {"sequence": 0, "timestamp": 0, "preludeEvent": {"config": {}}},
        {
            "sequence": 1,
            "timestamp": 0,
            "resourcePreEvent": {
                "metadata": {
                    "op": "update",
                    "urn": URN,
                    "type": "kubernetes:core/v1:ConfigMap",
                    "provider": "",
                }
            },
        },
        {
            "sequence": 2,
            "timestamp": 0,
            "summaryEvent": {
                "maybeCorrupt": False,
                "durationSeconds": 1,
                "resourceChanges": {"update": 1},
                "policyPacks": {},
            },
        },
    ]
    if final:
        raw.append({"sequence": 3, "timestamp": 0, "cancelEvent": {}})
    return [auto.EngineEvent.from_json(e) for e in raw]


def test_a_stream_without_its_final_event_is_refused_in_one_line(tmp_path):
    stream = EventStream("preview", tmp_path / "events.jsonl")
    for event in engine_events(final=False):
        stream(event)
    with pytest.raises(Refusal) as err:
        stream.complete(0)
    message = str(err.value)
    assert "\n" not in message and "final event did not reach the driver" in message
    assert "(3 event(s) received)" in message
    # The record keeps what did arrive, for whoever investigates.
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 3


def test_a_complete_stream_is_handed_over_whole(tmp_path):
    stream = EventStream("preview", tmp_path / "events.jsonl")
    for event in engine_events():
        stream(event)
    assert [e.sequence for e in stream.complete(0)] == [0, 1, 2, 3]
    lines = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert "cancelEvent" in lines[-1] and "summaryEvent" in lines[-2]


def test_a_stream_with_a_lost_event_is_refused(tmp_path):
    """The API only warns about an event it cannot parse: the step that deletes a claim could be the one."""
    stream = EventStream("preview", tmp_path / "events.jsonl")
    for event in engine_events():
        if event.sequence != 1:
            stream(event)
    with pytest.raises(Refusal, match=r"^preview: engine event 1 \(of 3\) never reached the driver"):
        stream.complete(0)


class FakeStack:
    """`Stack.preview` as the Automation API runs it: the CLI writes the plan, the events come on another
    thread. `release` decides when that thread delivers; `final` whether the final event is among them."""

    def __init__(self, final: bool, release: threading.Event):
        self.final = final
        self.release = release
        self.thread: threading.Thread | None = None

    def preview(self, **kw: Any) -> None:
        Path(kw["plan"]).write_text("{}")

        def deliver() -> None:
            self.release.wait()
            for event in engine_events(self.final):
                kw["on_event"](event)

        self.thread = threading.Thread(target=deliver, daemon=True)
        self.thread.start()
        # Returns before a single event was delivered: exactly the window the 5 s join used to leave.


class NoCluster:
    def __init__(self, kubeconfig: str):
        pass

    def __call__(self, ref: Any) -> bool:
        return False

    def close(self) -> None:
        pass


@pytest.fixture
def driver(tmp_path, monkeypatch, real_config):
    """`make preview` with the engine and the cluster faked, the rest (stream, gate, plan) real."""
    release = threading.Event()
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path))
    monkeypatch.setattr(commands.engine, "checkpoint", lambda stack: {})
    monkeypatch.setattr(review.gate, "ClusterLookup", NoCluster)

    # The events are released only once the driver is waiting for them: an implementation that read the
    # list as soon as `preview` returned would see none of them.
    waiting = EventStream.complete

    def complete(self: EventStream, timeout: float) -> list[Any]:
        release.set()
        return waiting(self, timeout)

    monkeypatch.setattr(EventStream, "complete", complete)

    def run(final: bool, wait: str) -> tuple[int, Run, FakeStack]:
        stack = FakeStack(final, release)
        monkeypatch.setattr(
            commands, "_start", lambda run, today: (stack, tmp_path / "stack.yaml", "kubeconfig", real_config)
        )
        monkeypatch.setenv(WAIT_ENV, wait)
        code = main(["preview"])
        assert stack.thread is not None
        stack.thread.join()
        return code, Run(tmp_path), stack

    return run


def test_preview_waits_for_events_that_arrive_after_the_engine_returned(driver, capsys):
    code, run, _ = driver(final=True, wait="60")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Review gate: 1 change(s) in 1 component(s): ok to apply" in out.out
    assert "reviewed plan saved" in out.err and run.plan.is_file()


def test_preview_refuses_when_the_final_event_never_arrives(driver, capsys):
    code, run, _ = driver(final=False, wait="0")
    out = capsys.readouterr()
    assert code == 1
    lines = out.err.strip().splitlines()
    assert lines[-1].startswith("[k3s-home] preview: the engine's final event did not reach the driver")
    assert "ok to apply" not in out.out and "Review gate" not in out.out  # the gate never judged it
    assert not run.plan.exists()  # no reviewed plan: `make up` has nothing to apply
