"""`make owners FLUX_REPO=DIR TO=render|direct` (`python -m gitops.owners`): who owns what, and moving
between the modes.

First, for each object the directive changes, its owner today (the Flux file:line, from the facts), the
owner it should have (Flux, with an edit of that file, or the stack after a handover) and the step
(`flux.ownership.decide`, ADR 0029). Then every object whose owner changes when the stack moves from
direct mode (Pulumi applies) to GitOps mode (Flux applies the stack's folders), or back, with its owner
now and after and the step it needs (ADR 0019). Nothing is changed: the render runs without writing,
the states are only read.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import facts
from components.config import ConfigError, clock, load_stack_file
from flux.ownership import decide
from gitops import engine
from gitops.layout import FOLDERS, Rendered, folder_of, owned_folders
from gitops.render import Refusal, build, existing_objects, log
from gitops.review import defined_in, repo_objects
from k3s_home import backend as driver
from k3s_home import engine as driver_engine
from k3s_home.log import Refusal as DriverRefusal
from rules.type_token import kind_of

Key = tuple[str, str, str]  # kind, namespace, name
PULUMI = "Pulumi (direct-mode state)"


@dataclass(frozen=True)
class Move:
    key: Key
    now: str
    after: str
    step: str

    def __str__(self) -> str:
        kind, namespace, name = self.key
        where = f"{namespace}/{name}" if namespace else name
        return f"{kind} {where}: {self.now} -> {self.after}\n     {self.step}"


def to_render(
    rendered: list[Rendered], adopted: list[Rendered], flux: Mapping[Key, str], direct: Mapping[Key, str]
) -> list[Move]:
    """direct -> render: the render's objects leave the state or a hand-written file; what the state holds
    and the render does not write is left to Flux's own file, or to nobody."""
    moves = []
    for item in rendered:
        folder = f"Flux ({FOLDERS[item.component].path})"
        if item.key in direct:
            urn = direct[item.key]
            step = f"once Flux has applied it: python -m k3s_home state delete '{urn}' (the object stays)"
            moves.append(Move(item.key, PULUMI, folder, step))
        elif path := defined_in(flux, *item.key):
            moves.append(
                Move(item.key, f"Flux file {path}", folder, "remove it from that file in the same change")
            )
    kept = {i.key for i in rendered}
    for key, urn in sorted(direct.items()):
        if key in kept:
            continue
        path = defined_in(flux, *key)
        after = f"Flux file {path}" if path else "nobody (stays in the cluster, unmanaged)"
        adopted_note = " (adopted: Flux's file keeps it)" if key in {a.key for a in adopted} else ""
        moves.append(
            Move(
                key,
                PULUMI,
                after,
                f"python -m k3s_home state delete '{urn}' (the object stays){adopted_note}",
            )
        )
    return moves


def to_direct(in_folders: Mapping[Key, str], direct: Mapping[Key, str]) -> list[Move]:
    """render -> direct: everything in the stack's folders goes to Pulumi."""
    step = (
        "set prune: false on its Flux Kustomization and remove the wiring line, then list it in "
        "k3s-home:cluster.adopt and run make preview"
    )
    return [
        Move(
            key,
            f"Flux ({folder_of(path) or path})",
            PULUMI,
            "already in the state: " + step if key in direct else step,
        )
        for key, path in sorted(in_folders.items())
    ]


def direct_state() -> dict[Key, str]:
    """(kind, namespace, name) -> URN of the kubernetes objects in the direct-mode state (the driver's
    backend and passphrase), or nothing when that stack does not exist."""
    run = driver.run_dir()
    driver.prepare(run)
    driver.write_project(run)
    if not driver._stack_exists(run.project):
        return {}
    try:
        stack, _ = driver_engine.open_stack(run)
        data = driver_engine.deployment(stack)
    except DriverRefusal as err:
        raise Refusal(str(err)) from None
    found = {}
    for r in data.get("resources") or []:
        typ = str(r.get("type", ""))
        meta = (r.get("outputs") or r.get("inputs") or {}).get("metadata")
        if typ.startswith("kubernetes:") and isinstance(meta, dict) and isinstance(meta.get("name"), str):
            found[(kind_of(typ), str(meta.get("namespace") or ""), meta["name"])] = r["urn"]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make owners", description=__doc__.splitlines()[0])
    parser.add_argument("flux_repo", help="the Flux repository's working copy (FLUX_REPO)")
    parser.add_argument("--to", choices=("render", "direct"), default="render", help="the mode to move to")
    parser.add_argument(
        "--stack-config",
        default=os.environ.get("K3S_HOME_STACK_CONFIG") or str(engine.ROOT / "Pulumi.k3s-home.yaml"),
    )
    args = parser.parse_args(argv)
    repo = Path(args.flux_repo).resolve()
    try:
        config = load_stack_file(Path(args.stack_config).resolve(), today=clock.pin())
    except ConfigError as err:
        log(f"invalid stack config: {err}")
        return 2
    rows = decide(config, facts.load())
    print(
        f"Objects the directive changes: owner today -> wanted owner, and the step (ADR 0029) ({len(rows)}):"
    )
    print("\n".join(f"   {r}" for r in rows) or "   none")
    try:
        direct = direct_state()
        if args.to == "render":
            done = build(repo, Path(args.stack_config).resolve(), clock.pin())
            flux, _ = repo_objects(repo, owned_folders())
            moves = to_render(done.objects, done.adopted, flux, direct)
        else:
            existing = existing_objects(repo)
            moves = to_direct({k: path for k, (path, _) in existing.items()}, direct)
    except (Refusal, engine.EngineError, ConfigError) as err:
        log(str(err))
        return getattr(err, "code", 1)
    print(f"Objects whose owner changes, moving to {args.to} mode ({len(moves)}):")
    print("\n".join(f"   {m}" for m in moves) or "   none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
