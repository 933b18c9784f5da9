"""`make test`: every test layer in turn, each one's time printed, stopping at the first that fails.

Layers: unit + policy (the quick feedback, target 15 s on 2 cores), slow (the large-file copy/verify
cases and the long property runs, marked `slow`), integration (the real engine and control plane).
Usage: python scripts/test_layers.py [LAYER ...]   (default: all, in this order)
"""

from __future__ import annotations

import subprocess
import sys
import time

LAYERS: dict[str, list[str]] = {
    "unit+policy": ["tests/unit", "tests/policy", "-m", "not slow"],
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
    times: list[tuple[str, float, int]] = []
    for name in names:
        print(f"== {name}", flush=True)
        start = time.monotonic()  # wall time of the layer, the figure a developer waits for
        code = subprocess.run([sys.executable, "-m", "pytest", "-q", *LAYERS[name]], check=False).returncode
        times.append((name, time.monotonic() - start, code))
        if code != 0:
            break
    print("\nlayer          seconds  result")
    for name, seconds, code in times:
        print(f"{name:<14} {seconds:7.1f}  {'ok' if code == 0 else f'FAILED (exit {code})'}")
    return next((code for _, _, code in times if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
