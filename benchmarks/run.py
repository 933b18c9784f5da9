"""Benchmarks, reported as ratios against a baseline measured in the same run (machines here are noisy).

1. copy:   copy_verify.copy_tree vs shutil.copytree on the same tree (what the migration Job costs
           over a plain copy; it also preserves holes, hard links, owners and refuses a moving source).
2. verify: copy_verify.manifest of both sides vs reading every byte of both sides once (hashing cost).
3. audit:  rules over a synthetic Flux repo vs yaml-parsing the same files (rule cost over parsing),
           time and peak memory (tracemalloc).

Usage: python benchmarks/run.py [--files N] [--objects N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from components.config import load_stack_file  # noqa: E402
from components.storage.migration_scripts import copy_verify  # noqa: E402
from review.audit import audit  # noqa: E402


def best_of(fn: Callable[[], object], repeat: int, setup: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def make_tree(root: Path, files: int) -> int:
    """Prometheus-like tree: many small chunk files plus a few large blocks. Returns total bytes."""
    total = 0
    rnd = os.urandom(1 << 20)
    for i in range(files):
        d = root / f"block-{i // 50:03d}" / "chunks"
        d.mkdir(parents=True, exist_ok=True)
        size = (1 << 20) * 4 if i % 100 == 0 else 16 << 10
        data = (rnd * (size // len(rnd) + 1))[:size]
        (d / f"{i:06d}").write_bytes(data)
        total += size
    return total


def read_all(root: Path) -> None:
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as fh:
                while fh.read(1 << 20):
                    pass


def make_repo(root: Path, objects: int) -> None:
    docs = []
    for i in range(objects):
        docs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"app-{i}", "namespace": "media"},
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "c", "image": "x", "securityContext": {"privileged": i % 10 == 0}}
                            ]
                        }
                    }
                },
            }
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": f"data-{i}", "namespace": "media"},
                "spec": {"storageClassName": "longhorn-replicated" if i % 3 else "local-path"},
            }
        )
    for chunk in range(0, len(docs), 20):
        (root / f"apps-{chunk:05d}.yaml").write_text(yaml.safe_dump_all(docs[chunk : chunk + 20]))


def peak_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cfg = load_stack_file(ROOT / "Pulumi.k3s-home.yaml")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "src"), Path(tmp, "dst")
        src.mkdir()
        total = make_tree(src, args.files)

        def reset() -> None:
            shutil.rmtree(dst, ignore_errors=True)

        base = best_of(lambda: shutil.copytree(src, dst, symlinks=True), args.repeat, reset)
        ours = best_of(lambda: copy_verify.copy_tree(str(src), str(dst)), args.repeat, reset)
        rows.append(("copy: copy_tree / shutil.copytree", ours, base, total))

        copy_verify.copy_tree(str(src), str(dst))
        base = best_of(lambda: (read_all(src), read_all(dst)), args.repeat)
        ours = best_of(
            lambda: copy_verify.differences(copy_verify.manifest(str(src)), copy_verify.manifest(str(dst))),
            args.repeat,
        )
        rows.append(("verify: manifests+diff / read both sides", ours, base, 2 * total))

        repo = Path(tmp, "repo")
        repo.mkdir()
        make_repo(repo, args.objects)
        files = sorted(repo.glob("*.yaml"))
        base_fn = lambda: [list(yaml.safe_load_all(f.read_text())) for f in files]  # noqa: E731
        ours_fn = lambda: audit(repo, cfg)  # noqa: E731
        base = best_of(base_fn, args.repeat)
        ours = best_of(ours_fn, args.repeat)
        rows.append((f"audit: rules over {2 * args.objects} objects / yaml parse", ours, base, 0))
        mem_base, mem_ours = peak_memory(base_fn), peak_memory(ours_fn)

    print(f"{'benchmark':48} {'ours s':>8} {'base s':>8} {'ratio':>6}  throughput")
    for name, ours, base, nbytes in rows:
        tput = f"{nbytes / ours / 2**20:8.1f} MiB/s" if nbytes else ""
        print(f"{name:48} {ours:8.3f} {base:8.3f} {ours / base:6.2f}  {tput}")
    ratio = mem_ours / mem_base
    print(f"audit peak memory / yaml parse peak memory: {ratio:.2f} ({mem_ours / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
