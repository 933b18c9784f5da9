"""The audit on the real Flux repo against two floors: Checkov on the same tree, libyaml on the same files.

The tree comes from a local mirror of sudoflux/flux-k3s (a bare git directory, no network). Checkov is
installed into the benchmark's own virtualenv (`.work/bench-venv`, pinned in benchmarks/requirements.txt)
and runs only its Kubernetes framework, offline (`--skip-download`): the work closest to ours.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import yaml

from components.config import clock, load_stack_file
from review.audit import audit, yaml_files

from .harness import BenchError, Figure, median, paired, run_command

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
DEFAULT_MIRROR = Path("/work/.mirror/sudoflux+flux-k3s/repo")
BENCH_VENV = ROOT / ".work" / "bench-venv"
REQUIREMENTS = Path(__file__).with_name("requirements.txt")


def mirror() -> Path:
    path = Path(os.environ.get("K3S_HOME_FLUX_MIRROR", DEFAULT_MIRROR))
    if not (path / "HEAD").is_file():
        raise BenchError(
            f"the Flux repo mirror {path} is missing: set K3S_HOME_FLUX_MIRROR to a bare clone of "
            "sudoflux/flux-k3s (the bench never fetches it)"
        )
    return path


def extract(into: Path) -> tuple[Path, str]:
    """The mirror's HEAD as a tree under `into`, and its commit id."""
    git_dir = mirror()
    commit = run_command(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"]).stdout.strip()
    tree = into / "flux-k3s"
    tree.mkdir()
    archive = subprocess.Popen(["git", "--git-dir", str(git_dir), "archive", commit], stdout=subprocess.PIPE)
    run_command(["tar", "-x", "-C", str(tree)], stdin=archive.stdout)
    if archive.wait() != 0:
        raise BenchError(f"git archive of {git_dir} failed")
    return tree, commit


def checkov() -> Path:
    """The pinned Checkov in the bench's own virtualenv, installed on first use."""
    exe = BENCH_VENV / "bin" / "checkov"
    want = REQUIREMENTS.read_text().split("checkov==")[1].split()[0]
    if exe.exists():
        have = run_command([str(exe), "--version"]).stdout.strip()
        if have == want:
            return exe
    print(f"[bench] installing Checkov {want} into {BENCH_VENV} (once)", file=sys.stderr)
    if not (BENCH_VENV / "bin" / "python").exists():
        run_command([sys.executable, "-m", "venv", str(BENCH_VENV)])
    run_command([str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)])
    return exe


def parse_all(files: list[Path]) -> int:
    """The parse floor: libyaml composing every file the audit reads into nodes, nothing else (GC paused,
    as ours). Building Python values is left out: the audit does that too, so it counts as our cost."""
    docs = 0
    enabled = gc.isenabled()
    gc.disable()
    try:
        for path in files:
            with contextlib.suppress(yaml.YAMLError):
                text = path.read_text(errors="replace")
                docs += sum(1 for _ in yaml.compose_all(text, Loader=yaml.CSafeLoader))
    finally:
        if enabled:
            gc.enable()
    return docs


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def audit_cli_run(cmd: list[str]) -> subprocess.CompletedProcess:
    """One audit command; exit 1 only means mandatory findings, so the summary line must be there too
    (a broken entry point also exits 1)."""
    result = run_command(cmd, ok=(0, 1))
    if "k3s-home-audit: " not in result.stderr or not result.stdout:
        raise BenchError(f"k3s-home-audit did not run: {result.stderr[-1500:]}")
    return result


def run(tmp: Path, repeat: int) -> tuple[list[Figure], dict[str, str]]:
    tree, commit = extract(tmp)
    exe = checkov()
    audit_cli = Path(sys.executable).parent / "k3s-home-audit"
    ours_cmd = [str(audit_cli), str(tree), "--config", str(STACK_FILE)]
    checkov_cmd = [str(exe), "-d", str(tree), "--framework", "kubernetes", "--skip-download", "--quiet"]
    checkov_cmd += ["-o", "json"]
    checkov_env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_ENABLE_DATADOG": "false"}

    findings = len(audit_cli_run(ours_cmd).stdout.splitlines())
    report = json.loads(run_command(checkov_cmd, ok=(0, 1), cwd=tmp, env=checkov_env).stdout)
    reports = report if isinstance(report, list) else [report]
    failed = sum(r["summary"]["failed"] for r in reports)
    resources = sum(r["summary"]["resource_count"] for r in reports)

    ours, floor = paired(
        lambda: audit_cli_run(ours_cmd),
        lambda: run_command(checkov_cmd, ok=(0, 1), cwd=tmp, env=checkov_env),
        repeat,
    )
    files = list(yaml_files(tree))
    cfg = load_stack_file(STACK_FILE, today=clock.today())
    inner, parse = paired(lambda: audit(tree, cfg), lambda: parse_all(files), repeat * 2)
    mem_ours, mem_parse = peak_bytes(lambda: audit(tree, cfg)), peak_bytes(lambda: parse_all(files))
    result = audit(tree, cfg)

    figures = [
        Figure(
            "audit-vs-checkov",
            f"`k3s-home-audit` on the real Flux repo ({len(files)} YAML files), whole command",
            median(ours),
            "Checkov 3.3.30, Kubernetes framework, same tree",
            median(floor),
            ratio_kind="floor/ours",
            target=10.0,
            target_text="at least 10x faster than Checkov",
            note=f"{findings} findings; Checkov: {failed} failed checks over {resources} resources",
            samples={"ours": ours, "floor": floor},
        ),
        Figure(
            "audit-vs-parse",
            f"audit in process: parse, {result.objects} objects, every rule, lines",
            median(inner),
            "libyaml `compose_all` of the same files (parse to nodes)",
            median(parse),
            samples={"ours": inner, "floor": parse},
        ),
        Figure(
            "audit-memory",
            "audit peak memory (tracemalloc)",
            mem_ours / 2**20,
            "libyaml parse of the same files, peak memory",
            mem_parse / 2**20,
            unit="MiB",
            note="ours keeps every node for the line numbers",
        ),
    ]
    return figures, {"flux repo commit": commit}
