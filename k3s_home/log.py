"""The driver's one voice: `[k3s-home] ...` on stderr, apart from the engine's and the gate's stdout."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    print(f"[k3s-home] {message}", file=sys.stderr, flush=True)


def stderr(text: str) -> None:
    """The CLI's own stderr (engine errors: a lock, a provider failure), passed on as the shell script did."""
    print(text, end="" if text.endswith("\n") else "\n", file=sys.stderr, flush=True)


class Refusal(Exception):
    """A reason to stop before (or instead of) running the engine: one line, no traceback."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code
