"""`make test`: every test layer in turn, each one's time printed, stopping at the first that fails.

Layers: unit + policy (the quick feedback, target 15 s on 2 cores: one pytest-xdist worker per core),
slow (marked `slow`: the large-file copy/verify cases, the long property runs, everything that draws a
picture, the full docs check, a few CLI starts), integration (the real engine and control plane).
Bytecode caching is left on even when PYTHONDONTWRITEBYTECODE is set: without
its caches (in ignored __pycache__ folders) pytest re-rewrites every test module's asserts, which doubles
collection.
Usage: python scripts/test_layers.py [LAYER ...]   (default: all, in this order)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

LAYERS: dict[str, list[str]] = {
    "unit+policy": ["tests/unit", "tests/policy", "-m", "not slow", "-n", "auto"],
    "slow": ["tests/unit", "tests/policy", "-m", "slow"],
    "integration": ["tests/integration"],
}


def main(argv: list[str]) -> int:
    names = argv or list(LAYERS)
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        known = ", ".join(LAYERS)
        print(f"test_layers: unknown layer {', '.join(unknown)} (one of {known})", file=sys.stderr)
        return 2
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[tuple[str, float, int]] = []
    for name in names:
        print(f"== {name}", flush=True)
        start = time.monotonic()  # wall time of the layer, the figure a developer waits for
        cmd = [sys.executable, "-m", "pytest", "-q", *LAYERS[name]]
        code = subprocess.run(cmd, check=False, env=env).returncode
        times.append((name, time.monotonic() - start, code))
        if code != 0:
            break
    print("\nlayer          seconds  result")
    for name, seconds, code in times:
        print(f"{name:<14} {seconds:7.1f}  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    return next((code for _, _, code in times if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
