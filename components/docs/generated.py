"""Every file under docs/ rendered from the stack config: `python -m components.docs [--check]` (`make docs`).

Writes the generated docs and pictures; with `--check` it writes nothing, names the stale files and
exits 1. The tests compare each committed file with a fresh render, byte for byte. A package of its own:
it imports every concern, so it sits above them (tests/unit/test_layout.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from components.config import ConfigError, StackConfig, clock, load_stack_file
from components.control_plane import picture as ha_topology
from components.control_plane.plan_doc import render_plan_doc
from components.gpu import picture as gpu_plan
from components.sso.docs import render_setup_doc
from components.storage import picture as migration

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"

PICTURES: dict[str, Callable[[StackConfig], bytes]] = {
    gpu_plan.FILE: lambda c: gpu_plan.picture(c.gpu),
    ha_topology.FILE: lambda c: ha_topology.picture(c.control_plane),
    migration.FILE: lambda c: migration.picture(c.storage),
}
GENERATED: dict[str, Callable[[StackConfig], bytes]] = {
    "high-availability-plan.md": lambda c: render_plan_doc(c.control_plane).encode(),
    "authentik-setup.md": lambda c: render_setup_doc(c).encode(),
    **PICTURES,
}


def render(config: StackConfig) -> dict[str, bytes]:
    return {name: build(config) for name, build in GENERATED.items()}


def stale(rendered: dict[str, bytes], docs: Path = DOCS) -> list[str]:
    """Files whose committed bytes differ from `rendered` (or that are missing)."""
    return [
        name
        for name, data in rendered.items()
        if not (docs / name).is_file() or (docs / name).read_bytes() != data
    ]


def redrawn_pictures(config: StackConfig, docs: Path = DOCS) -> list[str]:
    """The pictures `config` draws differently from the committed ones: what a reviewer should look at."""
    return stale({name: draw(config) for name, draw in PICTURES.items()}, docs)


def main(argv: list[str]) -> int:
    try:
        rendered = render(load_stack_file(STACK_FILE, today=clock.today()))
    except ConfigError as err:
        print(f"components.docs: {err}", file=sys.stderr)
        return 2
    changed = stale(rendered, DOCS)
    if "--check" in argv:
        for name in changed:
            print(f"docs/{name}: stale; run make docs")
        return 1 if changed else 0
    for name in changed:
        (DOCS / name).write_bytes(rendered[name])
        print(f"wrote docs/{name}")
    return 0
