"""`make mutants`: which modules, which tests first, which mutants are equivalent, and the report."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
assert _spec is not None and _spec.loader is not None
mutants = importlib.util.module_from_spec(_spec)
sys.modules["mutants"] = mutants  # its dataclasses look their module up
_spec.loader.exec_module(mutants)


def test_targets_are_files_or_folders_of_the_checkout() -> None:
    assert mutants.modules(ROOT, ["gitops/sops.py"]) == ["gitops/sops.py"]
    found = mutants.modules(ROOT, ["k3s_home", "k3s_home/locks.py"])
    assert "k3s_home/locks.py" in found and "k3s_home/recover.py" in found
    assert found == sorted(set(found)) and all(f.endswith(".py") for f in found)
    with pytest.raises(ValueError, match=r"^MUTATE=nowhere/x\.py: no such Python file or folder"):
        mutants.modules(ROOT, ["nowhere/x.py"])


def test_each_module_meets_its_mirrored_tests_first() -> None:
    assert mutants.mirrored_tests(ROOT, "gitops/sops.py") == ["tests/unit/gitops/test_sops.py"]
    assert mutants.mirrored_tests(ROOT, "k3s_home/locks.py") == ["tests/unit/k3s_home/test_locks.py"]
    assert mutants.mirrored_tests(ROOT, "rules/registry.py") == []  # the fast layer alone judges it


def test_mutants_inside_annotations_are_equivalent() -> None:
    source = (
        "from __future__ import annotations\n\ndef f(a: int | None, b=1) -> list[str] | None:\n"
        "    return a | b\n"
    )
    spans = mutants.annotation_spans(source)
    assert mutants.in_annotation(spans, (3, 13))  # the | of `int | None`
    assert mutants.in_annotation(spans, (3, 38))  # the | of the return annotation
    assert not mutants.in_annotation(spans, (4, 13))  # the | of the body: evaluated


def test_the_report_gives_the_ratio_and_each_survivor() -> None:
    def line(module: str, row: int, result: dict | None) -> str:
        item = {"mutations": [{"module_path": module, "start_pos": [row, 4], "operator_name": "core/AddNot"}]}
        return json.dumps([item, result])

    killed = {"worker_outcome": "normal", "test_outcome": "killed"}
    survived = {"worker_outcome": "normal", "test_outcome": "survived"}
    diff = "--- a\n+++ b\n@@ -1 +1 @@\n-    if x:\n+    if not x:\n"
    dump = "\n".join(
        [
            line("gitops/sops.py", 10, {**killed, "diff": diff}),
            line("gitops/sops.py", 11, {**killed, "diff": diff}),
            line("gitops/sops.py", 12, {**survived, "diff": diff}),
            line("k3s_home/locks.py", 3, {"worker_outcome": "skipped", "test_outcome": None, "diff": None}),
            line("k3s_home/locks.py", 4, None),
        ]
    )
    text = mutants.report(mutants.outcomes(dump), 12.4)
    assert text.splitlines() == [
        "kill ratio: 2/3 = 66.7% over 2 module(s) in 12 s",
        "survivors: 1; in annotations (never evaluated, not run): 1; not judged (incompetent, no test, "
        "pending, exception): 1",
        "SURVIVED gitops/sops.py:12 core/AddNot",
        "    -    if x:",
        "    +    if not x:",
    ]
