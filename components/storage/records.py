"""The phase records an operator copies from the Jobs' result lines into the stack config.

copy_verify.py prints one result line per Job (`COPIED bytes=.. files=.. seconds=..`,
`VERIFIED sha256:<digest> files=.. bytes=.. seconds=..`, or `FAILED <n> differences`). These parse
exactly those lines, so the runbook's "record it under copied/verified" is one function, tested.
"""

from __future__ import annotations

import re

COPIED = re.compile(r"^COPIED bytes=(\d+) files=(\d+) seconds=([0-9.]+)$")
VERIFIED = re.compile(r"^VERIFIED (sha256:[0-9a-f]{64}) files=(\d+) bytes=(\d+) seconds=([0-9.]+)$")


class NoResult(ValueError):
    """The log holds no success line: the Job failed, or this is not its log."""


def _last(log: str, prefixes: tuple[str, ...]) -> str:
    lines = [ln.strip() for ln in log.splitlines() if ln.strip().startswith(prefixes)]
    if not lines:
        raise NoResult(f"no {' or '.join(prefixes)} line in the Job's log")
    return lines[-1]


def copied(log: str) -> dict[str, float | int]:
    """`copied.<claim>` ({bytes, files, seconds}) from a copy Job's log."""
    line = _last(log, ("COPIED",))
    match = COPIED.match(line)
    if not match:
        raise NoResult(f"not a copy result: {line!r}")
    return {"bytes": int(match[1]), "files": int(match[2]), "seconds": float(match[3])}


def verified(log: str) -> str:
    """`verified.<claim>` (the manifest digest) from a verify Job's log; a FAILED verify has none."""
    line = _last(log, ("VERIFIED", "FAILED"))
    if line.startswith("FAILED"):
        raise NoResult(f"verify failed ({line}): no digest to record; run copy again")
    match = VERIFIED.match(line)
    if not match:
        raise NoResult(f"not a verify result: {line!r}")
    return match[1]
