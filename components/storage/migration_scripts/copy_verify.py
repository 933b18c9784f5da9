#!/usr/bin/env python3
"""Copy one volume's tree to another and prove the copy is faithful. Python stdlib only.

The migration Jobs run this very file (shipped in a ConfigMap, image `python:3-alpine`), and the tests run
it locally, so what is tested is what runs.

    copy_verify.py copy   SRC DST [--settle S]   rsync -aHS --delete equivalent; refuses a changing source
    copy_verify.py verify SRC DST                full manifest of both sides, content by sha256

Output, one line each, parsed by humans into stack config:
    COPIED bytes=<n> files=<n> seconds=<s>
    VERIFIED sha256:<manifest digest> files=<n> bytes=<n> seconds=<s>
Exit codes: 0 ok, 1 verify found differences, 2 usage, 3 the source changed while copying.

Preserved: regular files (holes stay holes), directories, symlinks (not followed), hard links, fifos,
permission bits incl. setuid/setgid/sticky, owner and group (when run as root), mtimes.
Sockets and device nodes are reported and skipped (no monitoring or media volume holds them).
`lost+found` at the root of either side is ignored: ext4 creates it on every fresh Longhorn volume.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import sys
import time
from collections.abc import Iterator

BLOCK = 1 << 20  # read size
HOLE = 1 << 12  # zero runs of this granularity are written as holes
IGNORED_AT_ROOT = {"lost+found"}


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of every entry below root, sorted; root excluded, symlinks not followed."""
    stack = [""]
    while stack:
        rel = stack.pop()
        names = sorted(os.listdir(os.path.join(root, rel) if rel else root), reverse=True)
        for name in names:
            if not rel and name in IGNORED_AT_ROOT:
                continue
            child = f"{rel}/{name}" if rel else name
            st = os.lstat(os.path.join(root, child))
            yield child, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(child)


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"), (stat.S_ISFIFO, "p")):
        if test(mode):
            return kind
    return "?"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            h.update(chunk)
    return h.hexdigest()


def manifest(root: str, content: bool = True) -> dict[str, dict]:
    """Every entry's type, permissions, owner, size, mtime (files) and sha256 or link target.

    Directory mtimes are left out: they move whenever an entry is created, and say nothing about data.
    """
    out: dict[str, dict] = {}
    for rel, st in _walk(root):
        kind = _kind(st.st_mode)
        if kind == "?":
            continue
        entry: dict = {"type": kind, "uid": st.st_uid, "gid": st.st_gid}
        if kind != "l":
            entry["mode"] = oct(stat.S_IMODE(st.st_mode))
        if kind == "f":
            entry["size"] = st.st_size
            entry["mtime"] = int(st.st_mtime)
            if content:
                entry["sha256"] = _sha256(os.path.join(root, rel))
        elif kind == "l":
            entry["target"] = os.readlink(os.path.join(root, rel))
        out[rel] = entry
    return out


def digest(entries: dict[str, dict]) -> str:
    blob = json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def differences(src: dict[str, dict], dst: dict[str, dict]) -> list[str]:
    """Human lines naming each path that is missing, extra or different, and how."""
    out = [f"missing {p}" for p in sorted(src.keys() - dst.keys())]
    out += [f"extra {p}" for p in sorted(dst.keys() - src.keys())]
    for p in sorted(src.keys() & dst.keys()):
        a, b = src[p], dst[p]
        fields = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
        if fields:
            detail = ", ".join(f"{k} {a.get(k)} != {b.get(k)}" for k in fields)
            out.append(f"changed {p}: {detail}")
    return out


def _copy_file(src: str, dst: str, size: int) -> None:
    """Copy bytes; runs of zeros are skipped with seek so they stay holes (rsync --sparse)."""
    zero, whole = bytes(HOLE), bytes(BLOCK)
    tmp = dst + ".copy-verify-tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while chunk := fin.read(BLOCK):
            if len(chunk) == BLOCK and chunk == whole:
                fout.seek(BLOCK, os.SEEK_CUR)
                continue
            for i in range(0, len(chunk), HOLE):
                part = chunk[i : i + HOLE]
                if part == zero[: len(part)]:
                    fout.seek(len(part), os.SEEK_CUR)
                else:
                    fout.write(part)
        fout.truncate(size)  # a trailing hole has no write to extend the file
    os.replace(tmp, dst)


def _same_file(dst: str, st: os.stat_result) -> bool:
    try:
        d = os.lstat(dst)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(d.st_mode) and d.st_size == st.st_size and int(d.st_mtime) == int(st.st_mtime)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        for rel, _st in sorted(_walk(path), key=lambda x: x[0].count("/"), reverse=True):
            full = os.path.join(path, rel)
            os.rmdir(full) if stat.S_ISDIR(os.lstat(full).st_mode) else os.unlink(full)
        os.rmdir(path)
    else:
        os.unlink(path)


def _owner(path: str, st: os.stat_result) -> None:
    try:
        os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
    except PermissionError:
        if os.geteuid() == 0:
            raise  # as root a refusal is real; as a user the ids are already ours


def copy_tree(src: str, dst: str) -> tuple[int, int]:
    """Make dst an exact copy of src. Idempotent: unchanged files (size + mtime) are not rewritten.

    Returns (bytes, files) of the source.
    """
    os.makedirs(dst, exist_ok=True)
    for rel, st in [("", os.lstat(dst)), *_walk(dst)]:  # a re-run must be able to edit read-only dirs
        if stat.S_ISDIR(st.st_mode):
            os.chmod(os.path.join(dst, rel) if rel else dst, stat.S_IMODE(st.st_mode) | 0o700)
    entries = list(_walk(src))
    wanted = {rel for rel, _ in entries}
    # --delete first, deepest first, so a type change (file -> dir) cannot collide.
    for rel, _st in sorted(_walk(dst), key=lambda x: x[0].count("/"), reverse=True):
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if not os.path.lexists(d):  # went with a directory removed before it
            continue
        if rel not in wanted or _kind(os.lstat(s).st_mode) != _kind(os.lstat(d).st_mode):
            _remove(d)
    links: dict[tuple[int, int], str] = {}
    total = files = 0
    dirs: list[tuple[str, os.stat_result]] = []
    for rel, st in entries:
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        kind = _kind(st.st_mode)
        if kind == "d":
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o700)  # writable while we fill it; real mode after its contents
            dirs.append((d, st))
            continue
        if kind == "f":
            files += 1
            total += st.st_size
            first = links.setdefault((st.st_dev, st.st_ino), rel) if st.st_nlink > 1 else rel
            if first != rel:  # a hard link to a file already copied in this run
                if os.path.lexists(d):
                    os.unlink(d)
                os.link(os.path.join(dst, first), d)
                continue
            if not _same_file(d, st):
                if os.path.lexists(d):
                    os.unlink(d)  # never write through an existing hard link
                _copy_file(s, d, st.st_size)
        elif kind == "l":
            target = os.readlink(s)
            if not (os.path.islink(d) and os.readlink(d) == target):
                if os.path.lexists(d):
                    os.unlink(d)
                os.symlink(target, d)
            _owner(d, st)
            os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
            continue
        elif kind == "p":
            if not stat.S_ISFIFO(os.lstat(d).st_mode if os.path.lexists(d) else 0):
                os.mkfifo(d)
        else:
            print(f"skipped {rel}: socket or device node", file=sys.stderr)
            continue
        _owner(d, st)
        os.chmod(d, stat.S_IMODE(st.st_mode))  # after chown: chown clears setuid bits
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
    root = os.stat(src)
    dirs.append((dst, root))
    for d, st in reversed(dirs):  # children before parents: a read-only dir is finished last
        _owner(d, st)
        os.chmod(d, stat.S_IMODE(st.st_mode))
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns))
    return total, files


def settle(src: str, seconds: float) -> None:
    """Wait until nothing under src changed for `seconds`: a writer still running is visible here."""
    if seconds <= 0:
        return
    before = manifest(src, content=False)
    while True:
        time.sleep(seconds)
        now = manifest(src, content=False)
        if now == before:
            return
        print(f"source still changing ({len(differences(before, now))} entries); waiting", file=sys.stderr)
        before = now


def cmd_copy(src: str, dst: str, settle_seconds: float) -> int:
    settle(src, settle_seconds)
    start = time.monotonic()
    before = manifest(src, content=False)
    total, files = copy_tree(src, dst)
    after = manifest(src, content=False)
    if before != after:  # a writer touched the source during the copy; this copy proves nothing
        for line in differences(before, after)[:20]:
            print(f"source changed during copy: {line}", file=sys.stderr)
        return 3
    print(f"COPIED bytes={total} files={files} seconds={time.monotonic() - start:.3f}")
    return 0


def cmd_verify(src: str, dst: str) -> int:
    start = time.monotonic()
    a, b = manifest(src), manifest(dst)
    diff = differences(a, b)
    for line in diff:
        print(line)
    if diff:
        print(f"FAILED {len(diff)} differences")
        return 1
    files = sum(1 for e in a.values() if e["type"] == "f")
    size = sum(e.get("size", 0) for e in a.values())
    print(f"VERIFIED {digest(a)} files={files} bytes={size} seconds={time.monotonic() - start:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["copy", "verify"])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds the source must stay unchanged")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.src):
        print(f"source {args.src} is not a directory", file=sys.stderr)
        return 2
    if args.action == "copy":
        return cmd_copy(args.src, args.dst, args.settle)
    if not os.path.isdir(args.dst):
        print(f"target {args.dst} is not a directory", file=sys.stderr)
        return 1
    return cmd_verify(args.src, args.dst)


if __name__ == "__main__":
    sys.exit(main())
