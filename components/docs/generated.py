"""Every file under docs/ rendered from the stack config: `python -m components.docs [--check]` (`make docs`).

Writes the generated docs and pictures; with `--check` it writes nothing, names the stale files and
exits 1. The tests compare each committed file with a fresh render, byte for byte. A package of its own:
it imports every concern, so it sits above them (tests/unit/test_layout.py).

Beside the pictures, `docs/pictures.inputs` records a digest of the config section each was drawn from
(written and checked like every other generated file). A preview asks which pictures its config redraws:
a picture whose section has the recorded digest is the committed one (the docs check holds the committed
pictures to a fresh render of the committed config), so only the others are drawn and compared.
"""

from __future__ import annotations

import hashlib
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from components.config import ConfigError, StackConfig, clock, load_stack_file
from components.control_plane.plan_doc import render_plan_doc
from components.sso.docs import render_setup_doc

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
INPUTS = "pictures.inputs"


@dataclass(frozen=True)
class Picture:
    module: str  # imported only when drawing: matplotlib and graphviz take most of a second to import
    section: str  # the StackConfig field the picture is drawn from, and all it is drawn from

    def draw(self, config: StackConfig) -> bytes:
        return importlib.import_module(self.module).picture(getattr(config, self.section))

    def digest(self, config: StackConfig) -> str:
        return hashlib.sha256(getattr(config, self.section).model_dump_json().encode()).hexdigest()


PICTURES: dict[str, Picture] = {
    "gpu-plan.svg": Picture("components.gpu.picture", "gpu"),
    "ha-topology.svg": Picture("components.control_plane.picture", "control_plane"),
    "migration.svg": Picture("components.storage.picture", "storage"),
}


def inputs_file(config: StackConfig) -> bytes:
    """`<sha256 of the section>  <picture>` per line: what the committed pictures were drawn from."""
    return "".join(f"{p.digest(config)}  {name}\n" for name, p in PICTURES.items()).encode()


def recorded_digests(docs: Path = DOCS) -> dict[str, str]:
    path = docs / INPUTS
    lines = path.read_text().splitlines() if path.is_file() else []
    return {name: digest for digest, _, name in (line.partition("  ") for line in lines)}


GENERATED: dict[str, Callable[[StackConfig], bytes]] = {
    "high-availability-plan.md": lambda c: render_plan_doc(c.control_plane).encode(),
    "authentik-setup.md": lambda c: render_setup_doc(c).encode(),
    **{name: p.draw for name, p in PICTURES.items()},
    INPUTS: inputs_file,
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
    """The pictures `config` draws differently from the committed ones: what a reviewer should look at.
    Only a picture whose section differs from the one it was committed from is drawn (a preview does
    this every time)."""
    recorded = recorded_digests(docs)
    changed = [name for name, p in PICTURES.items() if recorded.get(name) != p.digest(config)]
    return stale({name: PICTURES[name].draw(config) for name in changed}, docs)


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
