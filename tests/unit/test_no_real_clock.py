"""No test reads the wall clock: a test that judges against today's date passes today and fails later.

The project reads it in one place, `components.config.clock`, which its entry points call once and pass
the day down (tests pin it: tests/conftest.py). Durations and bounded waits use `time.monotonic`, which
says nothing about the date and is allowed.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
# The project's one wall-clock read: the day a run judges on (and the date a benchmark report states).
CLOCK_READERS = {"components/config/clock.py"}
# module -> attribute calls that read the wall clock
WALL_CLOCK = {
    "date": {"today"},
    "datetime": {"now", "utcnow", "today"},
    "time": {"time", "time_ns", "localtime", "gmtime", "ctime"},
}


# Every read below needs one of these in the text: a call of a listed name, or an import from a listed
# module (for a renamed one). Files without either are not parsed (most of the tree; parsing is the cost).
_MAYBE = re.compile(
    r"\b(" + "|".join(sorted({a for attrs in WALL_CLOCK.values() for a in attrs})) + r")\s*\("
    r"|\bfrom\s+(" + "|".join(WALL_CLOCK) + r")\s+import\b"
)


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, call) of every wall-clock read: a call of a name in WALL_CLOCK on its module (also through
    `datetime.datetime`), and the same names imported bare (`from time import time`)."""
    if not _MAYBE.search(source):
        return []
    tree = ast.parse(source)
    bare: dict[str, str] = {}  # local name -> "module.attr" for `from time import time as t`
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in WALL_CLOCK:
            for alias in node.names:
                if alias.name in WALL_CLOCK[node.module]:
                    bare[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in bare:
            found.append((node.lineno, bare[func.id]))
        elif isinstance(func, ast.Attribute):
            owner = func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if func.attr in WALL_CLOCK.get(name, ()):
                found.append((node.lineno, f"{name}.{func.attr}"))
    return sorted(found)


def test_the_check_finds_each_form_of_wall_clock_read() -> None:
    source = (
        "import datetime, time\n"
        "from datetime import date\n"
        "from time import time as now\n"
        "a = date.today()\n"
        "b = datetime.datetime.now()\n"
        "c = time.time()\n"
        "d = now()\n"
        "e = time.monotonic()\n"
        "f = date(2027, 1, 1)\n"
    )
    assert wall_clock_reads(source) == [
        (4, "date.today"),
        (5, "datetime.now"),
        (6, "time.time"),
        (7, "time.time"),
    ]


def test_no_test_reads_the_wall_clock() -> None:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50  # the walk really saw the test tree
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: {call}()"
        for path in files
        for line, call in wall_clock_reads(path.read_text())
    ]
    assert not offenders, "inject the clock instead (see tests/conftest.py):\n" + "\n".join(offenders)


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    """Rules and models take the day as an argument; a hidden read of the clock would judge on another
    day than the one the run was given (and could not be pinned)."""
    skip = {".venv", ".work", "tests", "node_modules"}
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in skip]  # not entered at all: .venv alone is most of the walk
        files += [Path(folder, n) for n in names if n.endswith(".py")]
    files.sort()
    assert len(files) > 50
    readers = {str(p.relative_to(ROOT)) for p in files if wall_clock_reads(p.read_text())}
    assert readers == CLOCK_READERS
