"""`make mutants [MUTATE='gitops/sops.py k3s_home/locks.py']`: mutation testing with cosmic-ray (ADR 0022).

Each mutant is one small change to one module (an operator, a constant, a condition, a raised exception);
a mutant the tests still pass on "survives". The run happens in a copy of the checkout under
`.work/mutants/tree` (cosmic-ray rewrites the module in place, and a killed run must never leave a mutant in
the working tree), against the fast layers (`tests/unit tests/policy -m "not slow"`). To keep it within
reach of a 2-core machine, each mutant first meets the tests that mirror its module (tests/unit/<package>/
test_<module>.py); only if those pass does the whole fast layer run. The verdict is the same as running the
whole layer each time (the mirrored tests are part of it), only sooner for the mutants they kill.

Prints the kill ratio (killed / (killed + survived); timeouts count as killed, as cosmic-ray counts them)
and every survivor with its file, line, operator and diff. Exit 0 once the run is done, 2 on bad input, 1
when the unmutated tests already fail (the baseline: every mutant would look killed).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MUTATE = ["rules", "review", "k3s_home", "gitops", "components/storage/phases.py"]
FAST = ["tests/unit", "tests/policy"]
PYTEST = ["-q", "-x", "-p", "no:cacheprovider", "-m", "not slow"]
TIMEOUT_S = 600
# The manifest in the copy: each module's digest unmutated, so the test step can tell which one is mutated.
MANIFEST = "mutants-manifest.json"


def log(message: str) -> None:
    print(f"[k3s-home mutants] {message}", file=sys.stderr, flush=True)


def modules(root: Path, targets: list[str]) -> list[str]:
    """The .py files under each target (a file or a folder), relative to `root`; ValueError for a target
    that is neither."""
    found: list[str] = []
    for target in targets:
        path = root / target
        if path.is_file() and path.suffix == ".py":
            found.append(target)
        elif path.is_dir():
            found += sorted(
                str(p.relative_to(root)) for p in path.rglob("*.py") if "__pycache__" not in p.parts
            )
        else:
            raise ValueError(f"MUTATE={target}: no such Python file or folder in the checkout")
    return sorted(set(found))


def mirrored_tests(root: Path, module: str) -> list[str]:
    """The tests that mirror `module` (tests/unit/<package>/test_<module>.py), where they exist."""
    path = Path(module)
    candidate = Path("tests/unit") / path.parent / f"test_{path.stem}.py"
    return [str(candidate)] if (root / candidate).is_file() else []


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_checkout(root: Path, tree: Path) -> None:
    """The checkout's files as they are now (tracked and new, not ignored) into `tree`."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    shutil.rmtree(tree, ignore_errors=True)
    for rel in filter(None, listed.split("\0")):
        src = root / rel
        if src.is_file():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, tree / rel)


def config(mods: list[str], tests: list[str]) -> str:
    test_command = shlex.join([sys.executable, "scripts/mutants.py", "test", *tests])  # run in the copy
    return "\n".join(
        [
            "[cosmic-ray]",
            f"module-path = {json.dumps(mods)}",
            f"timeout = {float(TIMEOUT_S)}",
            "excluded-modules = []",
            f"test-command = {json.dumps(test_command)}",
            "",
            "[cosmic-ray.distributor]",
            'name = "local"',
            "",
        ]
    )


def run_tests(tree: Path, tests: list[str]) -> int:
    """cosmic-ray's test command, run in the copy: the mutated module's own tests, then the fast layer."""
    manifest = json.loads((tree / MANIFEST).read_text())
    mutated = [m for m, d in manifest.items() if digest(tree / m) != d]
    pytest = [sys.executable, "-m", "pytest", *PYTEST]
    for module in mutated:
        if own := mirrored_tests(tree, module):
            code = subprocess.run([*pytest, *own], cwd=tree, capture_output=True).returncode
            if code != 0:
                return code
    return subprocess.run([*pytest, *tests], cwd=tree, capture_output=True).returncode


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """((line, col), (end line, end col)) of every annotation. With `from __future__ import annotations`
    (every module here) annotations are never evaluated: a mutant inside one is equivalent, not a survivor."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        notes = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            notes.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            notes.append(node.returns)
        spans += [
            ((n.lineno, n.col_offset), (n.end_lineno or n.lineno, n.end_col_offset or 0)) for n in notes
        ]
    return spans


def in_annotation(spans: list[tuple[tuple[int, int], tuple[int, int]]], pos: tuple[int, int]) -> bool:
    return any(start <= pos < end for start, end in spans)


def skip_annotations(session: Path, tree: Path) -> int:
    """Mark the mutants inside annotations skipped (cosmic-ray's own filters work the same way)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans: dict[str, list] = {}
    skipped = 0
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in list(db.pending_work_items):
            [mutation] = item.mutations
            module = str(mutation.module_path)
            if module not in spans:
                spans[module] = annotation_spans((tree / module).read_text())
            if in_annotation(spans[module], tuple(mutation.start_pos)):
                db.set_result(item.job_id, WorkResult(WorkerOutcome.SKIPPED, output="in an annotation"))
                skipped += 1
    return skipped


@dataclass(frozen=True)
class Outcome:
    module: str
    line: int
    operator: str
    verdict: str  # killed | survived | incompetent | no-test | pending
    diff: str


def outcomes(dump: str) -> list[Outcome]:
    """`cosmic-ray dump` (one JSON [work item, result] per line) as outcomes."""
    found = []
    for line in filter(str.strip, dump.splitlines()):
        item, result = json.loads(line)
        [mutation] = item["mutations"]
        if result is None:
            verdict, diff = "pending", ""
        elif result["worker_outcome"] == "normal":
            verdict, diff = result["test_outcome"], result.get("diff") or ""
        else:
            verdict, diff = result["worker_outcome"], result.get("diff") or ""  # exception, no-test, abnormal
        found.append(
            Outcome(
                mutation["module_path"], mutation["start_pos"][0], mutation["operator_name"], verdict, diff
            )
        )
    return found


def report(results: list[Outcome], seconds: float) -> str:
    killed = sum(r.verdict == "killed" for r in results)
    survived = [r for r in results if r.verdict == "survived"]
    equivalent = [r for r in results if r.verdict == "skipped"]
    other = [r for r in results if r.verdict not in ("killed", "survived", "skipped")]
    judged = killed + len(survived)
    ratio = f"{100 * killed / judged:.1f}%" if judged else "n/a"
    mods = sorted({r.module for r in results})
    lines = [
        f"kill ratio: {killed}/{judged} = {ratio} over {len(mods)} module(s) in {seconds:.0f} s",
        f"survivors: {len(survived)}; in annotations (never evaluated, not run): {len(equivalent)}; "
        f"not judged (incompetent, no test, pending, exception): {len(other)}",
    ]
    for r in sorted(survived, key=lambda r: (r.module, r.line, r.operator)):
        lines.append(f"SURVIVED {r.module}:{r.line} {r.operator}")
        lines += [
            f"    {d}"
            for d in r.diff.splitlines()
            if d.startswith(("+", "-")) and d[:3] not in ("+++", "---")
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make mutants", description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="modules or folders to mutate (MUTATE); default: all five")
    parser.add_argument("--tests", default=" ".join(FAST), help="the fast layer's test paths (TESTS)")
    args = parser.parse_args(argv)
    if args.targets[:1] == ["test"]:  # cosmic-ray's test command, inside the copy
        return run_tests(Path.cwd(), args.targets[1:])
    try:
        mods = modules(ROOT, args.targets or DEFAULT_MUTATE)
    except ValueError as err:
        log(str(err))
        return 2
    tests = args.tests.split()
    tree = ROOT / ".work" / "mutants" / "tree"
    copy_checkout(ROOT, tree)
    (tree / MANIFEST).write_text(json.dumps({m: digest(tree / m) for m in mods}))
    (tree / "cosmic-ray.toml").write_text(config(mods, tests))
    session = tree.parent / "session.sqlite"
    session.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    cosmic = [sys.executable, "-c", "import sys; from cosmic_ray.cli import main; sys.exit(main())"]
    log(f"baseline: the fast layer on the unmutated copy ({' '.join(tests)})")
    if run_tests(tree, tests) != 0:
        log("the unmutated tests fail in the copy: fix them first (every mutant would look killed)")
        return 1
    subprocess.run([*cosmic, "init", "cosmic-ray.toml", str(session)], cwd=tree, env=env, check=True)
    count = subprocess.run([*cosmic, "dump", str(session)], cwd=tree, env=env, capture_output=True, text=True)
    skipped = skip_annotations(session, tree)
    log(
        f"{len(count.stdout.splitlines())} mutant(s) in {len(mods)} module(s), {skipped} of them in "
        "annotations (not run); running the rest one at a time"
    )
    started = time.monotonic()
    subprocess.run([*cosmic, "exec", "cosmic-ray.toml", str(session)], cwd=tree, env=env, check=True)
    seconds = time.monotonic() - started
    dump = subprocess.run(
        [*cosmic, "dump", str(session)], cwd=tree, env=env, capture_output=True, text=True, check=True
    ).stdout
    print(report(outcomes(dump), seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
