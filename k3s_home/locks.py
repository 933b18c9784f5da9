"""Locks a killed update leaves behind (file backends: `<state>/.pulumi/locks/**/<stack>/*.json`).

Each lock names the pid and host of the process that took it. A lock whose process is gone on this host
is stale: `make recover` clears it (and settles what the update left pending).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from k3s_home.backend import STACK


@dataclass(frozen=True)
class Lock:
    path: Path
    pid: int
    host: str
    since: str

    @property
    def stale(self) -> bool:
        """The process that took it is gone (only decidable for this host)."""
        return self.host == socket.gethostname() and not _alive(self.pid)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.since}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes: it holds the lock but will never release it.
    status = Path(f"/proc/{pid}/status")
    return not (status.is_file() and "\nState:\tZ" in status.read_text())


def locks(backend_url: str) -> list[Lock]:
    """The stack's locks in a file:// backend ([] for other backends: the engine reports those)."""
    url = urlparse(backend_url)
    if url.scheme != "file":
        return []
    root = Path(url.path) / ".pulumi" / "locks"
    found = []
    for path in sorted(root.glob(f"**/{STACK}/*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        found.append(
            Lock(path, int(data.get("pid", 0)), str(data.get("hostname", "")), str(data.get("timestamp")))
        )
    return found


def refusal(backend_url: str) -> str | None:
    """One line when the stack is locked, saying whether the holder is gone and what clears it."""
    held = locks(backend_url)
    if not held:
        return None
    # A live holder is the one to wait for: recover would refuse while it runs, whatever else is stale.
    lock = next((h for h in held if not h.stale), held[0])
    if lock.stale:
        return (
            f"the stack is locked by {lock}, and that process is gone (a killed update): "
            "run `make recover` to clear the lock and settle what the update left pending"
        )
    return f"the stack is locked by {lock}, which is still running: wait for it to finish"
