"""The migration Job's copy and verify against plain floors on the same Prometheus-shaped tree.

copy:   copy_verify.copy_tree vs shutil.copytree (the migration also keeps holes, hard links and owners,
        and refuses a source that changes while it copies);
verify: copy_verify manifests of both sides and their diff vs reading every byte of both sides once.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from components.storage.migration_scripts import copy_verify

from .harness import Figure, median, paired


def make_tree(root: Path, files: int) -> int:
    """Many small chunk files plus every 100th a 4 MiB block, like a Prometheus TSDB. Returns bytes."""
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


def run(tmp: Path, repeat: int, files: int) -> list[Figure]:
    src, dst = tmp / "src", tmp / "dst"
    src.mkdir()
    total = make_tree(src, files)

    def reset() -> None:
        shutil.rmtree(dst, ignore_errors=True)

    ours, floor = paired(
        lambda: copy_verify.copy_tree(str(src), str(dst)),
        lambda: shutil.copytree(src, dst, symlinks=True),
        repeat,
        setup=reset,
    )
    copy = Figure(
        "copy",
        f"migration copy of {files} files ({total / 2**20:.0f} MiB)",
        median(ours),
        "`shutil.copytree` of the same tree",
        median(floor),
        note=f"{total / median(ours) / 2**20:.0f} MiB/s",
        samples={"ours": ours, "floor": floor},
    )
    copy_verify.copy_tree(str(src), str(dst))
    ours, floor = paired(
        lambda: copy_verify.differences(copy_verify.manifest(str(src)), copy_verify.manifest(str(dst))),
        lambda: (read_all(src), read_all(dst)),
        repeat,
    )
    verify = Figure(
        "verify",
        "migration verify: sha256 manifests of both sides and their diff",
        median(ours),
        "reading every byte of both sides once",
        median(floor),
        note=f"{2 * total / median(ours) / 2**20:.0f} MiB/s hashed",
        samples={"ours": ours, "floor": floor},
    )
    return [copy, verify]
