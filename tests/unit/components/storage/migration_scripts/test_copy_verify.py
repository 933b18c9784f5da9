"""The copy-and-verify logic run for real: the very file the migration Jobs mount, on two directories.

The source holds many files, nested folders, symlinks (relative, absolute, dangling, to a directory), a
hard link, a fifo, unusual permissions, a sparse file and a 64 MiB file. Verification must pass on a faithful
copy and catch a missing, a truncated and an altered file. The cases over that tree are marked `slow`: they
run in their own layer of `make test`.
"""

from __future__ import annotations

import importlib.util
import os
import random
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from components.storage.jobs import SCRIPT

LARGE = 64 << 20
SPARSE_SIZE = 256 << 20


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The script as the Job runs it: a separate interpreter, argv, exit code and stdout."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    rng = random.Random(4)
    # Many small files across nested folders, like a TSDB or a Loki chunk store.
    for d in range(12):
        folder = root / f"level1-{d:02d}" / f"level2-{d % 3}" / "level3"
        folder.mkdir(parents=True)
        for f in range(40):
            (folder / f"chunk-{f:03d}.bin").write_bytes(rng.randbytes(rng.randint(0, 9000)))
    (root / "empty-dir" / "nested-empty").mkdir(parents=True)
    (root / "empty-file").write_bytes(b"")
    (root / "with space & ünïcode.txt").write_text("names survive\n")
    # A 64 MiB file of real (incompressible) data.
    with open(root / "large.bin", "wb") as f:
        for _ in range(LARGE // (1 << 20)):
            f.write(rng.randbytes(1 << 20))
    # A sparse file: data at the start, the middle and the end, holes in between.
    with open(root / "sparse.img", "wb") as f:
        f.write(b"header" * 100)
        f.seek(SPARSE_SIZE // 2)
        f.write(b"middle")
        f.seek(SPARSE_SIZE - 3)
        f.write(b"end")
    # Symlinks are copied as links, never followed.
    (root / "link-relative").symlink_to("level1-00/level2-0/level3/chunk-001.bin")
    (root / "link-absolute").symlink_to("/etc/hostname")
    (root / "link-dangling").symlink_to("does/not/exist")
    (root / "link-to-dir").symlink_to("level1-01")
    os.link(root / "large.bin", root / "large-hardlink.bin")
    os.mkfifo(root / "grafana.fifo")
    # Permissions: executable, private, setgid directory, sticky directory, read-only directory.
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "secret.key").write_text("k")
    os.chmod(root / "secret.key", 0o600)
    (root / "shared").mkdir()
    os.chmod(root / "shared", 0o2775)
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "readonly").mkdir()
    (root / "readonly" / "frozen.txt").write_text("frozen")
    os.chmod(root / "readonly" / "frozen.txt", 0o444)
    os.chmod(root / "readonly", 0o555)
    # ext4 puts lost+found at the root of every new volume; it is not data and must not fail a verify.
    (root / "lost+found").mkdir()
    return root


@pytest.mark.slow
def test_source_has_what_the_test_claims(source: Path) -> None:
    """Preconditions: otherwise a passing copy would prove less than it seems."""
    assert sum(1 for _ in source.rglob("chunk-*.bin")) == 480
    assert (source / "large.bin").stat().st_size == LARGE
    sparse = (source / "sparse.img").stat()
    assert sparse.st_size == SPARSE_SIZE and sparse.st_blocks * 512 < 1 << 20, "tmp must support holes"
    assert (source / "large.bin").stat().st_nlink == 2


@pytest.fixture(scope="module")
def copied(
    source: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess]:
    target = tmp_path_factory.mktemp("dst") / "volume"
    target.mkdir()
    (target / "lost+found").mkdir()  # a fresh Longhorn ext4 volume
    (target / "stale-from-earlier-run").write_text("removed by the copy, like rsync --delete")
    result = run("copy", str(source), str(target))
    return target, result


@pytest.mark.slow
def test_copy_reports_bytes_files_and_seconds(source: Path, copied) -> None:
    _, result = copied
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("COPIED ")
    got = fields(line)
    files = [p for p in source.rglob("*") if p.is_file() and not p.is_symlink()]
    assert int(got["files"]) == len(files)
    assert int(got["bytes"]) == sum(p.stat().st_size for p in files)
    assert float(got["seconds"]) >= 0


@pytest.mark.slow
def test_faithful_copy_verifies_with_equal_digests(source: Path, copied) -> None:
    target, _ = copied
    result = run("verify", str(source), str(target))
    assert result.returncode == 0, result.stdout
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("VERIFIED sha256:")
    digest = line.split()[1]
    assert len(digest) == len("sha256:") + 64
    # Deterministic: the same tree gives the same digest (it goes into stack config as the verify record).
    assert run("verify", str(source), str(target)).stdout.strip().splitlines()[-1].split()[1] == digest


@pytest.mark.slow
def test_copy_preserves_links_permissions_sparseness_and_hardlinks(source: Path, copied) -> None:
    target, _ = copied
    for name in ("link-relative", "link-absolute", "link-dangling", "link-to-dir"):
        assert (target / name).is_symlink(), name
        assert os.readlink(target / name) == os.readlink(source / name)
    assert not (target / "link-to-dir").resolve().is_relative_to(source)
    for rel in ("run.sh", "secret.key", "shared", "tmp", "readonly", "readonly/frozen.txt"):
        want, got = (source / rel).stat(), (target / rel).stat()
        assert stat.S_IMODE(got.st_mode) == stat.S_IMODE(want.st_mode), rel
        assert (got.st_uid, got.st_gid) == (want.st_uid, want.st_gid), rel
    assert stat.S_IMODE((target / "shared").stat().st_mode) & stat.S_ISGID
    assert stat.S_IMODE((target / "tmp").stat().st_mode) & stat.S_ISVTX
    assert int((target / "large.bin").stat().st_mtime) == int((source / "large.bin").stat().st_mtime)
    sparse = (target / "sparse.img").stat()
    assert sparse.st_size == SPARSE_SIZE
    assert sparse.st_blocks * 512 < 1 << 20, "holes were written out as zeros"
    assert (target / "sparse.img").read_bytes()[SPARSE_SIZE // 2 : SPARSE_SIZE // 2 + 6] == b"middle"
    assert (target / "large.bin").stat().st_ino == (target / "large-hardlink.bin").stat().st_ino
    assert stat.S_ISFIFO((target / "grafana.fifo").lstat().st_mode)
    assert not (target / "stale-from-earlier-run").exists()
    assert (target / "lost+found").is_dir()  # left alone


def _fresh_copy(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "dst"
    result = run("copy", str(source), str(target))
    assert result.returncode == 0, result.stderr
    assert run("verify", str(source), str(target)).returncode == 0
    return target


def _writable(path: Path) -> None:
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


@pytest.mark.slow
def test_verify_catches_a_missing_file(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    (target / "level1-03" / "level2-0" / "level3" / "chunk-017.bin").unlink()
    result = run("verify", str(source), str(target))
    assert result.returncode == 1
    assert "missing level1-03/level2-0/level3/chunk-017.bin" in result.stdout
    assert "VERIFIED" not in result.stdout


@pytest.mark.slow
def test_verify_catches_a_truncated_file(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    mtime = (target / "large.bin").stat().st_mtime_ns
    with open(target / "large.bin", "r+b") as f:
        f.truncate(LARGE - 4096)
    os.utime(target / "large.bin", ns=(mtime, mtime))  # a truncation that keeps the timestamp
    result = run("verify", str(source), str(target))
    assert result.returncode == 1
    assert "changed large.bin: sha256" in result.stdout and f"size {LARGE} != {LARGE - 4096}" in result.stdout


@pytest.mark.slow
def test_verify_catches_an_altered_file_of_the_same_size_and_mtime(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    victim = target / "readonly" / "frozen.txt"
    st = victim.stat()
    _writable(victim)
    victim.write_text("FROZEN")  # same length
    os.chmod(victim, 0o444)
    os.chmod(victim.parent, 0o555)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = run("verify", str(source), str(target))
    assert result.returncode == 1
    assert "changed readonly/frozen.txt: sha256" in result.stdout
    assert "size" not in result.stdout.split("changed readonly/frozen.txt:")[1].splitlines()[0]


@pytest.mark.slow
def test_verify_catches_a_flipped_byte_inside_the_large_file(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    path = target / "large.bin"
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(LARGE // 3)
        byte = f.read(1)
        f.seek(LARGE // 3)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = run("verify", str(source), str(target))
    assert result.returncode == 1 and "changed large.bin: sha256" in result.stdout


@pytest.mark.slow
def test_verify_catches_permission_symlink_and_extra_file_drift(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    os.chmod(target / "secret.key", 0o644)
    (target / "link-relative").unlink()
    (target / "link-relative").symlink_to("elsewhere")
    (target / "extra.txt").write_text("not in the source")
    out = run("verify", str(source), str(target)).stdout
    assert "changed secret.key: mode 0o600 != 0o644" in out
    assert "changed link-relative: target" in out
    assert "extra extra.txt" in out


@pytest.mark.slow
def test_copy_is_idempotent_and_repairs_a_damaged_target(source: Path, tmp_path: Path) -> None:
    target = _fresh_copy(source, tmp_path)
    (target / "empty-file").unlink()
    _writable(target / "readonly" / "frozen.txt")
    (target / "readonly" / "frozen.txt").write_text("damaged and longer")
    assert run("verify", str(source), str(target)).returncode == 1
    result = run("copy", str(source), str(target))  # a Job retry after a failure
    assert result.returncode == 0, result.stderr
    assert run("verify", str(source), str(target)).returncode == 0


def _script_module():
    """The same file, loaded in process, so a test can stop the copy at a chosen file."""
    spec = importlib.util.spec_from_file_location("copy_verify_under_test", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_copy_refuses_a_source_that_changes_while_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An owner still writing must fail the copy, not produce a copy that looks fine.

    The race is forced, not hoped for: the copy stops at `f10`, after `wal` is already copied; a writer
    thread, released by a barrier, appends to `wal`; only then does the copy go on. So every run copies a
    stale WAL, and the copy must notice.
    """
    script = _script_module()
    src = tmp_path / "src"
    src.mkdir()
    (src / "wal").write_bytes(b"0" * 1000)
    for i in range(20):
        (src / f"f{i:02d}").write_bytes(b"y" * 100)
    copying, written = threading.Barrier(2, timeout=30), threading.Barrier(2, timeout=30)
    copied: list[str] = []

    def writer() -> None:
        copying.wait()
        with open(src / "wal", "ab") as f:
            f.write(b"x" * 1000)
        written.wait()

    real_copy_file = script._copy_file

    def copy_file(s: str, d: str, size: int) -> None:
        if s.endswith("f10"):
            copying.wait()  # the writer runs now, while the copy is halfway through the tree
            written.wait()
        copied.append(os.path.basename(s))
        real_copy_file(s, d, size)

    monkeypatch.setattr(script, "_copy_file", copy_file)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        code = script.main(["copy", str(src), str(tmp_path / "dst")])
    finally:
        thread.join(timeout=30)
    out = capsys.readouterr()
    assert copied.index("wal") < copied.index("f10"), "the WAL must be copied before the write"
    assert (tmp_path / "dst" / "wal").stat().st_size == 1000  # what was copied is stale...
    assert code == 3, out.out + out.err  # ...and the copy says so
    assert "source changed during copy: changed wal:" in out.err and "size 1000 != 2000" in out.err
    assert "COPIED" not in out.out


def test_copy_of_an_unchanged_source_passes_the_same_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The counterpart: the same tree, no writer, exit 0 (the refusal above is caused by the write)."""
    script = _script_module()
    src = tmp_path / "src"
    src.mkdir()
    (src / "wal").write_bytes(b"0" * 1000)
    for i in range(20):
        (src / f"f{i:02d}").write_bytes(b"y" * 100)
    assert script.main(["copy", str(src), str(tmp_path / "dst")]) == 0
    assert capsys.readouterr().out.startswith("COPIED bytes=3000 files=21")


def test_settle_waits_for_a_quiet_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data").write_text("quiet")
    result = run("copy", str(src), str(tmp_path / "dst"), "--settle", "0.2")
    assert result.returncode == 0 and result.stdout.startswith("COPIED bytes=5 files=1")


def test_bad_usage_is_refused(tmp_path: Path) -> None:
    assert run("copy", str(tmp_path / "nope"), str(tmp_path / "dst")).returncode == 2
    (tmp_path / "src").mkdir()
    assert run("verify", str(tmp_path / "src"), str(tmp_path / "absent")).returncode == 1
