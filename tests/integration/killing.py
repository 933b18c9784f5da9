"""A real `make up` SIGKILLed inside a chosen engine step (tests/integration/holding_proxy.py holds it there).

The driver runs in a session of its own. The CLI starts each plugin (language host, providers, policy pack)
in a process group of its own, but all stay in the session the driver leads, so the kill takes the session:
nothing of the update survives to finish the step.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

from k3s_home.backend import STACK
from tests.integration.conftest import DRIVER, ROOT
from tests.integration.holding_proxy import Hold

REACH_SECONDS = 300  # bounded wait for the held request; the up failing first fails the test at once


def session(sid: int) -> list[int]:
    """Every live process of a session (/proc/<pid>/stat field 6), zombies left out."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def kill_session(sid: int) -> None:
    """SIGKILL the whole session (driver, CLI, language host, providers, policy pack) at once."""
    for pid in session(sid):
        with contextlib.suppress(ProcessLookupError):  # gone meanwhile
            os.kill(pid, signal.SIGKILL)


def up_killed_at(hold: Hold, env: dict[str, str], logs: Path, what: str) -> None:
    """`up --yes` (the reviewed plan) killed once the proxy holds `hold`'s request; then the request is
    released (forwarded or dropped, as `hold` says) with the engine gone. The up's output goes to
    `logs`/up.out and up.err."""
    out, err = logs / "up.out", logs / "up.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        up = subprocess.Popen(
            [*DRIVER, "up", "--yes"],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own session: the kill takes the engine and every plugin
        )
        for _ in range(REACH_SECONDS):
            if hold.reached.wait(1):
                break
            assert up.poll() is None, f"up ended before the {what} step:\n{err.read_text()[-3000:]}"
        assert hold.reached.is_set(), f"the {what} step was never reached: {hold}"
        kill_session(up.pid)
        assert up.wait(30) == -signal.SIGKILL
    for _ in range(150):  # bounded wait for the kernel to finish the kills (zombies do not count)
        if not session(up.pid):
            break
        time.sleep(0.2)
    assert not session(up.pid), f"processes of the killed up survived: {session(up.pid)}"
    hold.release.set()  # the held request goes on to the cluster (or is dropped) now, its engine gone
    assert hold.done.wait(60), f"the held request {hold.request} was not settled"


def checkpoint(run_dir: Path) -> dict:
    """The latest checkpoint of the driver's file backend in `run_dir` (resources, pending_operations)."""
    path = run_dir / "state" / ".pulumi" / "stacks" / STACK / f"{STACK}.json"
    return json.loads(path.read_text())["checkpoint"].get("latest") or {}
