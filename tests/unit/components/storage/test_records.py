"""Phase records from the Jobs' result lines, as copy_verify.py really prints them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from components.storage import records
from components.storage.jobs import SCRIPT


def run(action: str, src, dst) -> str:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), action, str(src), str(dst)], capture_output=True, text=True, timeout=60
    )
    return out.stdout


def test_records_from_the_scripts_own_lines(tmp_path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir(), dst.mkdir()
    (src / "a.db").write_bytes(b"x" * 5000)
    os.symlink("a.db", src / "link")
    got = records.copied(run("copy", src, dst))
    assert got["bytes"] == 5000 and got["files"] == 1 and got["seconds"] >= 0
    digest = records.verified(run("verify", src, dst))
    assert digest.startswith("sha256:") and len(digest) == 71
    (dst / "a.db").write_bytes(b"y" * 5000)  # the copy no longer matches
    with pytest.raises(records.NoResult, match="verify failed \\(FAILED 1 differences\\)"):
        records.verified(run("verify", src, dst))


def test_a_log_without_a_result_is_refused() -> None:
    with pytest.raises(records.NoResult, match="no COPIED line"):
        records.copied("source still changing (3 entries); waiting\n")
    with pytest.raises(records.NoResult, match="not a copy result"):
        records.copied("COPIED bytes=many")
