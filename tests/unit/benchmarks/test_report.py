"""benchmarks/report.py and the harness's Figure: ratios, targets, and the generated block of the doc."""

from __future__ import annotations

import datetime
from pathlib import Path

from benchmarks import report
from benchmarks.harness import Figure, paired

MEASURED_ON = datetime.date(2026, 11, 23)
MACHINE = {"cpu": "Test CPU, 2 cores", "memory": "8 GiB", "os": "Linux", "python": "3.11", "load": "1.0"}


def speedup(ours: float, floor: float) -> Figure:
    return Figure(
        "audit-vs-checkov",
        "audit",
        ours,
        "Checkov",
        floor,
        ratio_kind="floor/ours",
        target=10.0,
        target_text="at least 10x faster",
    )


def overhead(ours: float, floor: float) -> Figure:
    return Figure("pack-overhead", "pack", ours, "no pack", floor, target=1.15, target_text="at most 15 %")


def test_ratio_direction_and_target():
    assert (speedup(0.5, 8.0).ratio, speedup(0.5, 8.0).met) == (16.0, True)
    assert speedup(1.0, 8.0).met is False
    assert overhead(11.0, 10.0).met is True and overhead(12.0, 10.0).met is False
    assert Figure("x", "x", 1.0, "y", 2.0).met is None  # no target: reported, never judged


def test_missed_targets_are_named_with_their_reason(monkeypatch):
    monkeypatch.setattr(report, "REASONS", {"pack-overhead": "The analyzer's start-up."})
    lines = report.missed([speedup(0.5, 8.0), overhead(12.0, 10.0), speedup(1.0, 8.0)])
    assert lines == [
        "- **pack**: 1.20 against the target at most 15 %. The analyzer's start-up.",
        "- **audit**: 8.0x faster against the target at least 10x faster. Not analysed yet.",
    ]


def test_write_replaces_only_the_generated_block(tmp_path: Path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\nintro\n\n{report.BEGIN}\nold figures\n{report.END}\n\n## Analysis\nkept\n"
    )
    report.write(doc, [speedup(0.5, 8.0)], MACHINE, {"flux repo commit": "abc"}, 5, MEASURED_ON, ["preview"])
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("## Analysis\nkept\n")
    assert "old figures" not in text
    assert "Test CPU, 2 cores" in text and "Flux repo commit: abc." in text
    assert "**16.0x faster**" in text and "Every target measured in this run is met" in text
    assert "Not measured in this run: preview" in text
    assert "Measured 2026-11-23 by `make bench`" in text  # the date the caller passed, not today's


def test_paired_alternates_and_warms_up():
    calls: list[str] = []
    ours, floor = paired(lambda: calls.append("a"), lambda: calls.append("b"), 3)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then ABBAAB
    assert len(ours) == len(floor) == 3
