"""`--policy-pack policy` under the v3.79 language host: its `python "" ARGS` start, run in the program's
directory, reaches the pack through the project's `__main__.py` (policy/launch.py, ADR 0023)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy.launch import started_as_pack

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["", "127.0.0.1:40123"], True),
        (["", "--logtostderr", "-v=9", "127.0.0.1:40123"], True),  # the engine's flags come first
        (["", "localhost:5"], True),
        (["", "[::1]:40123"], True),
        (["."], False),  # the program, as pulumi-language-python-exec starts it
        ([".", "127.0.0.1:40123"], False),
        (["/work/main/__main__.py"], False),
        ([""], False),
        (["", "--tracing"], False),
    ],
)
def test_only_the_hosts_pack_start_is_taken_for_the_pack(argv, expected):
    assert started_as_pack(argv) is expected


def test_the_hosts_start_in_the_program_directory_serves_the_pack():
    """`python "" ENGINE_ADDRESS` in the project directory, as the v3.79 host runs a directory pack: the
    pack's analyzer server answers with its port on the first line (the program would have failed on the
    missing stack config instead, the issue's traceback)."""
    pack = subprocess.Popen(
        [sys.executable, "", "127.0.0.1:9"],
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = pack.stdout.readline() if pack.stdout else ""
    finally:
        pack.kill()
        _, err = pack.communicate(timeout=30)
    assert first.strip().isdigit(), err[-2000:]
    assert "invalid stack config" not in err
