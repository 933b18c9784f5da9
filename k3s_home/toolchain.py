"""The tools the driver starts, checked before it starts them: one line naming the fix, never a traceback.

`make toolchain` writes `.work/env.sh` (PATH with the built CLI and plugins, PULUMI_HOME, the pinned CLI
version); every make target sources it. A `python -m k3s_home ...` run without it would find no `pulumi`,
or a `pulumi` without the plugins the stack needs, and fail deep inside the engine.
"""

from __future__ import annotations

import os
import shutil

from k3s_home.log import Refusal

FIX = "run `make toolchain`, then `source .work/env.sh` (every make target does both)"
ENV_MARKER = "K3S_HOME_PULUMI_VERSION"  # exported by .work/env.sh only


def require(*tools: str) -> None:
    """Refuse (exit 2) unless the toolchain environment is loaded and each tool is on PATH."""
    if not os.environ.get(ENV_MARKER):
        raise Refusal(f"the toolchain environment is not loaded ({ENV_MARKER} is unset): {FIX}", code=2)
    for tool in tools:
        if shutil.which(tool) is None:
            raise Refusal(f"{tool}: not found on PATH: {FIX}", code=2)


def missing(err: FileNotFoundError) -> str:
    """The one line for a program or file that was not there when the driver started or opened it."""
    name = str(err.filename or err.strerror or err)
    if name and os.sep not in name:
        return f"{name}: not found on PATH: {FIX}"
    return f"{name}: no such file or directory"
