"""The engine's events as the gate must see them: all of them, or a refusal.

The Automation API delivers events on its own threads (a gRPC stream, or a thread tailing a log file) and
does not wait for them: `Stack.preview` returns once the CLI exits, after at most a 5 s grace for the
stream (`_cleanup`). On a loaded machine the gate could then read an empty or truncated list and say
"ok to apply". The engine's last event is always a `cancelEvent`; so the driver waits (bounded) for it,
and refuses to judge events that never got there. The events are numbered from 0: a gap (an event the API
failed to parse is only a warning there) is refused too.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from k3s_home.log import Refusal
from review.gate import to_dict

# How long the driver waits, after the CLI exits, for the engine's last event to reach it.
WAIT_ENV = "K3S_HOME_EVENT_WAIT_SECONDS"
DEFAULT_WAIT = 60.0


def wait_seconds() -> float:
    return float(os.environ.get(WAIT_ENV) or DEFAULT_WAIT)


class EventStream:
    """`on_event` for the Automation API; `complete()` hands back every event once the final one arrived."""

    def __init__(self, command: str, record: Path | None = None):
        self.command = command
        self.record = record
        self._events: list[Any] = []
        self._lock = threading.Lock()
        self._final = threading.Event()

    def __call__(self, event: Any) -> None:
        # Called on the API's threads: keep it short (no I/O), the record is written once at the end.
        with self._lock:
            if self._final.is_set():
                return
            self._events.append(event)
        if getattr(event, "cancel_event", None) is not None:
            self._final.set()

    @property
    def seen_final(self) -> bool:
        return self._final.is_set()

    def received(self) -> list[Any]:
        with self._lock:
            return list(self._events)

    def complete(self, timeout: float) -> list[Any]:
        """Every event up to the engine's final one, after waiting at most `timeout` seconds for it;
        a `Refusal` (one line) when it never arrived: a partial stream must not pass the gate."""
        arrived = self._final.wait(timeout)
        events = self.received()
        self.write_record(events)
        if not arrived:
            raise Refusal(
                f"{self.command}: the engine's final event did not reach the driver within {timeout:g} s "
                f"({len(events)} event(s) received), so the gate cannot tell what is planned: refusing "
                f"(run it again; {WAIT_ENV} sets the wait)"
            )
        numbers = {getattr(e, "sequence", None) for e in events}
        if lost := [n for n in range(len(events)) if n not in numbers]:
            raise Refusal(
                f"{self.command}: engine event {lost[0]} (of {len(events)}) never reached the driver, so "
                "the gate cannot tell what is planned: refusing (run it again)"
            )
        return events

    def write_record(self, events: list[Any]) -> None:
        """A copy as JSON lines, for the record and the tests (what `--event-log` would have written)."""
        if self.record is None:
            return
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.write_text("".join(json.dumps(to_dict(e)) + "\n" for e in events))
