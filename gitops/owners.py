"""`make owners FLUX_REPO=DIR TO=render|direct` (`python -m gitops.owners`): moving between the modes.

Lists every object whose owner changes when the stack moves from direct mode (Pulumi applies) to GitOps
mode (Flux applies the stack's folders), or back, with its owner now and after and the step it needs
(ADR 0018). Nothing is changed: the render runs without writing, the states are only read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops import engine
from gitops.layout import FOLDERS, Rendered, folder_of, owned_folders
from gitops.render import Refusal, build, existing_objects, log
from gitops.review import defined_in, repo_objects
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
            step = f"once Flux has applied it: pulumi state delete '{direct[item.key]}' (the object stays)"
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
            Move(key, PULUMI, after, f"pulumi state delete '{urn}' (the object stays){adopted_note}")
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
    """(kind, namespace, name) -> URN of the kubernetes objects in the direct-mode state, if it exists."""
    run = engine.run_dir()
    env = engine.engine_env(run)
    env["PULUMI_BACKEND_URL"] = os.environ.get("PULUMI_BACKEND_URL") or f"file://{run.dir / 'state'}"
    if not engine._stack_exists(env):
        return {}
    out = subprocess.run(
        ["pulumi", "stack", "export", "--stack", engine.STACK],
        cwd=engine.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=engine.TIMEOUT,
    )
    if out.returncode != 0:
        raise Refusal(f"pulumi stack export (direct mode): {out.stderr.strip()}")
    found = {}
    for r in (json.loads(out.stdout).get("deployment") or {}).get("resources") or []:
        typ = str(r.get("type", ""))
        meta = (r.get("outputs") or r.get("inputs") or {}).get("metadata")
        if typ.startswith("kubernetes:") and isinstance(meta, dict) and meta.get("name"):
            found[(kind_of(typ), str(meta.get("namespace") or ""), str(meta["name"]))] = r["urn"]
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
        direct = direct_state()
        if args.to == "render":
            done = build(repo, Path(args.stack_config).resolve())
            flux, _ = repo_objects(repo, owned_folders())
            moves = to_render(done.objects, done.adopted, flux, direct)
        else:
            existing = existing_objects(repo)
            moves = to_direct({k: path for k, (path, _) in existing.items()}, direct)
    except (Refusal, engine.EngineError) as err:
        log(str(err))
        return getattr(err, "code", 1)
    print(f"Objects whose owner changes, moving to {args.to} mode ({len(moves)}):")
    print("\n".join(f"   {m}" for m in moves) or "   none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
