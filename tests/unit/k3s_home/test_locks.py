"""Stale locks: a lock whose process is gone is named as such, with the command that clears it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from k3s_home import locks


def write_lock(state, pid: int, host: str | None = None):
    path = state / ".pulumi" / "locks" / "organization" / "k3s-home" / "k3s-home" / "abc.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "pid": pid,
                "username": "u",
                "hostname": host or socket.gethostname(),
                "timestamp": "2026-11-29T12:00:00Z",
            }
        )
    )
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_of_a_dead_process_is_stale_and_recover_clears_it(tmp_path):
    write_lock(tmp_path, dead_pid())
    reason = locks.refusal(f"file://{tmp_path}")
    assert reason is not None and "\n" not in reason
    assert "that process is gone (a killed update): run `make recover`" in reason


def test_a_lock_of_a_running_process_says_wait(tmp_path):
    write_lock(tmp_path, os.getpid())
    reason = locks.refusal(f"file://{tmp_path}")
    assert reason is not None and "still running: wait" in reason


def test_a_lock_of_another_host_is_never_called_stale(tmp_path):
    write_lock(tmp_path, dead_pid(), host="elsewhere")
    [lock] = locks.locks(f"file://{tmp_path}")
    assert not lock.stale


def test_no_lock_and_other_backends_pass(tmp_path):
    assert locks.refusal(f"file://{tmp_path}") is None
    assert locks.refusal("s3://bucket/state") is None


def test_a_holder_we_may_not_signal_is_alive(tmp_path, monkeypatch):
    """EPERM from os.kill(pid, 0): the process exists under another user; its lock is not stale."""

    def eperm(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(locks.os, "kill", eperm)
    write_lock(tmp_path, 4242)
    [lock] = locks.locks(f"file://{tmp_path}")
    assert not lock.stale
    assert "still running: wait" in (locks.refusal(f"file://{tmp_path}") or "")


def test_a_vanished_holder_is_dead(tmp_path, monkeypatch):
    def gone(pid: int, sig: int) -> None:
        raise ProcessLookupError(3, "No such process")

    monkeypatch.setattr(locks.os, "kill", gone)
    write_lock(tmp_path, 4242)
    [lock] = locks.locks(f"file://{tmp_path}")
    assert lock.stale


def test_a_lock_of_another_host_is_not_stale_whatever_its_pid(tmp_path):
    for pid in (dead_pid(), os.getpid()):
        path = write_lock(tmp_path / str(pid), pid, host=socket.gethostname() + "-other")
        [lock] = locks.locks(f"file://{tmp_path / str(pid)}")
        assert lock.path == path and not lock.stale
        assert "still running" in (locks.refusal(f"file://{tmp_path / str(pid)}") or "")


def test_other_backends_are_never_searched_for_lock_files(tmp_path):
    """Only a file:// backend's locks are files here; another scheme's path is no directory of ours."""
    write_lock(tmp_path, dead_pid())
    assert len(locks.locks(f"file://{tmp_path}")) == 1
    for scheme in ("s3", "azblob", "gs", "https"):
        assert locks.locks(f"{scheme}://{tmp_path}") == []


def test_an_unreadable_or_broken_lock_file_is_skipped(tmp_path):
    path = write_lock(tmp_path, dead_pid())  # abc.json, listed after the two below
    (path.parent / "a-dir.json").mkdir()  # reading it raises IsADirectoryError (an OSError)
    (path.parent / "a-torn.json").write_text('{"pid": 12')
    assert [lock.path for lock in locks.locks(f"file://{tmp_path}")] == [path]


def test_a_live_holder_is_named_before_a_stale_lock(tmp_path):
    stale = write_lock(tmp_path, dead_pid())
    live = stale.with_name("b-live.json")
    live.write_text(
        stale.read_text().replace(f'"pid": {json.loads(stale.read_text())["pid"]}', f'"pid": {os.getpid()}')
    )
    assert [lock.stale for lock in locks.locks(f"file://{tmp_path}")] == [True, False]
    reason = locks.refusal(f"file://{tmp_path}") or ""
    assert f"pid {os.getpid()} on" in reason and "still running: wait" in reason
