"""A minimal benchmark harness: repeated runs, medians, and a floor measured beside each figure.

Machines here are shared and noisy, so absolute seconds mean little. Every figure is measured together
with its floor (the fastest honest way to do the same work), alternating ours and the floor run by run so
both see the same load, and reported as the ratio of the two medians.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One reported figure: our median, its floor's median, the ratio, and the target if there is one."""

    key: str
    what: str
    ours: float
    floor_name: str
    floor: float
    unit: str = "s"
    # "ours/floor" (lower is better: cost over the floor) or "floor/ours" (higher is better: speed-up).
    ratio_kind: str = "ours/floor"
    target: float | None = None  # the ratio to reach (<= for ours/floor, >= for floor/ours)
    target_text: str = ""
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours / self.floor if self.ratio_kind == "ours/floor" else self.floor / self.ours

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio <= self.target if self.ratio_kind == "ours/floor" else self.ratio >= self.target


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(
    ours: Callable[[], object],
    floor: Callable[[], object],
    repeat: int,
    setup: Callable[[], None] = lambda: None,
    warmup: bool = True,
) -> tuple[list[float], list[float]]:
    """Wall seconds of `repeat` runs each of ours and the floor, alternating (ABAB...) so drift in the
    machine's load falls on both; one untimed warm-up run of each first (page cache, imports, .pyc)."""
    if warmup:
        setup()
        ours()
        setup()
        floor()
    a: list[float] = []
    b: list[float] = []
    for i in range(repeat):
        for fn, out in ((ours, a), (floor, b)) if i % 2 == 0 else ((floor, b), (ours, a)):
            setup()
            out.append(timed(fn))
    return a, b


def run_command(cmd: Sequence[str], *, ok: Sequence[int] = (0,), **kwargs) -> subprocess.CompletedProcess:
    """Runs a benchmarked command; an unexpected exit code stops the bench with the command's own words."""
    result = subprocess.run(list(cmd), capture_output=True, text=True, check=False, **kwargs)
    if result.returncode not in ok:
        tail = (result.stderr or result.stdout)[-1500:]
        raise BenchError(f"{' '.join(map(str, cmd[:3]))} ... exited {result.returncode}:\n{tail}")
    return result


class BenchError(RuntimeError):
    """A benchmark cannot run (missing input, failing tool): one clear reason, exit 2."""


def machine() -> dict[str, str]:
    """What the figures were measured on, for docs/benchmarks.md."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        mem = f"{kib / 2**20:.0f} GiB"
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
