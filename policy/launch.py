"""How `pulumi preview --policy-pack policy` starts this pack with the CLI the toolchain builds (ADR 0023).

The engine (v3.259) starts a directory pack through the Python language host's RunPlugin. The host the
toolchain can build (v3.79, docs/toolchain.md) runs `python <request.program> ARGS` in the *program's*
directory (Pulumi.yaml's `main`), and the engine no longer fills that deprecated `program` field: the
start is `python "" ARGS`, which runs the project's own `__main__.py`, not the pack. That start is
recognised at the top of `__main__.py` (an empty script name and the engine's address among the
arguments; the program itself is always started by `pulumi-language-python-exec` with its path) and
handed over here: `python -m pulumi.policy ARGS .` in this directory, with the project's virtualenv,
exactly what `policy/run-pack` does. The official CLI's host runs `policy/__main__.py` itself and never
comes here.

Nothing here imports the pack (constructing it starts a server and blocks).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import NoReturn

PACK = Path(__file__).resolve().parent
VENV_PYTHON = PACK.parent / ".venv" / "bin" / "python"
# host:port of the engine's gRPC server, the argument every analyzer plugin is started with.
ENGINE_ADDRESS = re.compile(r"^(?:[\w.-]+|\[[0-9a-fA-F:]+\]):\d{1,5}$")


def started_as_pack(argv: list[str]) -> bool:
    """True for the v3.79 host's `python "" [FLAGS] ENGINE_ADDRESS` start of a directory pack."""
    return len(argv) >= 2 and argv[0] == "" and any(ENGINE_ADDRESS.match(arg) for arg in argv[1:])


def exec_pack(args: list[str]) -> NoReturn:
    """Replace this process with the pack's analyzer server (same stdio: the engine reads its port)."""
    python = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
    os.chdir(PACK)
    os.execv(str(python), [str(python), "-u", "-m", "pulumi.policy", *args, "."])
