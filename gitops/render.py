"""`make render FLUX_REPO=DIR` (`python -m gitops.render DIR`): GitOps mode (ADR 0019).

1. The stack's program, policy pack and kubernetes provider run in render mode into a private directory
   (mode 700, removed afterwards): `gitops/engine.py`.
2. Objects still adopted from Flux (`k3s-home:cluster.adopt`, step 1 of ADR 0003) stay in Flux's own
   files and are left out; the rest is laid out in the stack's folders (`gitops/layout.py`).
3. Every Secret is encrypted with sops and the repo's own `.sops.yaml` before anything reaches the repo;
   an existing Secret file is kept byte for byte when its plaintext is unchanged (`gitops/sops.py`): known
   from the keyed digest the render state recorded when it wrote the file (`gitops/render_state.py`, no
   age identity needed), else by decrypting it.
4. The diff against the repo goes through the review gate (`gitops/review.py`); when it blocks, nothing
   is written. Otherwise changed files are written, files the render no longer produces are removed
   from the owned folders, and outside them only the directive's fields of the objects Flux keeps are
   edited, in Flux's own files (`flux/edits.py`, ADR 0029: the edit is summarised, and the directive's
   GPU rules judge the edited objects; a mandatory finding blocks).

Exit codes: 0 rendered, 1 blocked or failed (nothing written), 2 bad input. Refusals are one line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

import facts
from components.config import ConfigError, StackConfig, clock, load_stack_file
from facts.derive import DeriveError
from flux import edits as flux_edits
from gitops import engine, render_state, sops
from gitops.layout import (
    MARKER,
    WIRING_ENTRY,
    WIRING_PARENT,
    File,
    LayoutError,
    Rendered,
    object_key,
    owned_folders,
    plan,
)
from gitops.review import blocking, edited_findings
from gitops.review import summary as review_summary
from review.gate import Summary, exit_code, read_event_log
from review.gate import render as render_summary
from rules.data_loss import Phase, acknowledged

ROOT_SYNC = "clusters/k3s-home/flux-system/gotk-sync.yaml"


class Refusal(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"[k3s-home render] {message}", file=sys.stderr, flush=True)


@contextmanager
def private_dir() -> Iterator[Path]:
    """A directory only this user can enter; plaintext Secrets exist nowhere else, and not for long."""
    path = Path(tempfile.mkdtemp(prefix="k3s-home-render-"))
    try:
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_repo(repo: Path) -> None:
    if not (repo / ".sops.yaml").is_file():
        raise Refusal(f"FLUX_REPO={repo}: no .sops.yaml there (the Flux repository's root, e.g. flux-k3s)", 2)
    if not (repo / "clusters" / "k3s-home").is_dir():
        raise Refusal(f"FLUX_REPO={repo}: no clusters/k3s-home folder", 2)
    if not (repo / ROOT_SYNC).is_file():
        # What Flux applies is what this file's Kustomization reaches (facts.derive): without it the gate
        # could not tell a second owner from a file nobody applies.
        raise Refusal(f"FLUX_REPO={repo}: no {ROOT_SYNC} (the root Flux Kustomization)", 2)
    for folder in owned_folders():
        path = repo / folder
        if not path.exists():
            continue
        kustomization = path / "kustomization.yaml"
        if not kustomization.is_file() or not kustomization.read_text().startswith(MARKER):
            raise Refusal(
                f"{folder}: exists and was not written by the render (no marker in its kustomization.yaml); "
                "move it away or rename it: the render owns this folder and would replace its files",
                2,
            )


def migration_past_plan(config: StackConfig) -> str | None:
    """Why the config cannot be rendered, or None. A migration past `plan` is direct mode's alone: its
    phases act on the live cluster while `up` runs (server-side-apply patches of objects Flux owns, Jobs
    awaited to completion, cutover's check that no pod holds a claim before it is replaced), and none of
    that is a manifest Flux could own or prune. At `plan` a migration renders nothing (its imports are
    the cluster's), so the rest of the stack renders as usual."""
    for i, m in enumerate(config.storage.migrations):
        if m.phase is not Phase.PLAN:
            return (
                f"k3s-home:storage.migrations[{i}].phase: {m.phase.value} (migration '{m.name}') is not "
                f"rendered: a migration past plan runs in direct mode only; run phase {m.phase.value} "
                "with `make preview` and `make up` (ADR 0019)"
            )
    return None


def rendered_objects(out_dir: Path, events: Path) -> list[Rendered]:
    """The provider's files, each with the URN and type of the resource that wrote it."""
    urns: dict[tuple[str, str, str], tuple[str, str]] = {}
    for event in read_event_log(events):
        meta = (event.get("resourcePreEvent") or {}).get("metadata") or {}
        new = meta.get("new") or {}
        inputs = new.get("inputs") if isinstance(new.get("inputs"), dict) else {}
        if str(meta.get("type", "")).startswith("kubernetes:") and isinstance(inputs.get("metadata"), dict):
            urns[object_key({"kind": str(meta["type"]).rsplit(":", 1)[-1], **inputs})] = (
                meta["urn"],
                meta["type"],
            )
    objects = []
    for path in sorted(out_dir.rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        key = object_key(obj)
        if key not in urns:
            raise Refusal(f"rendered {path.name}: no resource in the engine's events wrote it")
        urn, typ = urns[key]
        objects.append(Rendered(obj, urn, typ))
    return objects


def split_adopted(objects: list[Rendered], config: StackConfig) -> tuple[list[Rendered], list[Rendered]]:
    """(to render, still adopted): an adopted object stays in the Flux file that defines it today."""
    keep, adopted = [], []
    for item in objects:
        kind, namespace, name = item.key
        (adopted if config.cluster.adopt_id(kind, name, namespace or None) else keep).append(item)
    return keep, adopted


def existing_objects(repo: Path) -> dict[tuple[str, str, str], tuple[str, dict | None]]:
    """What the owned folders hold today; a Secret that cannot be decrypted here is None (changed)."""
    found: dict[tuple[str, str, str], tuple[str, dict | None]] = {}
    for folder in owned_folders():
        for path in sorted((repo / folder).glob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            rel = str(path.relative_to(repo))
            docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
            if any(sops.written_by_sops(d) for d in docs):
                plain = sops.decrypted_docs(path, repo)
                for d in docs:
                    found[object_key(d)] = (rel, None)
                docs = plain or []
            for d in docs:
                found[object_key(d)] = (rel, d)
    return found


def secret_docs(file: File) -> list[dict]:
    return [d for d in yaml.safe_load_all(file.text) if d is not None]


def final_bytes(
    file: File, repo: Path, private: Path, digests: render_state.SecretDigests | None = None
) -> bytes:
    """The bytes the repo gets: plaintext for ordinary files; for a Secret the existing ciphertext when it
    holds the same objects (the render state's keyed digest says so, or it decrypts to them), else a new
    encryption. Plaintext is written only inside `private`."""
    if not file.secret:
        return file.text.encode()
    target = repo / file.path
    if target.is_file():
        existing = target.read_bytes()
        docs = secret_docs(file)
        if digests is not None and digests.unchanged(file.path, digests.digest(file.path, docs), existing):
            return existing
        current = sops.decrypted_docs(target, repo)
        if current is not None and current == docs:
            return existing
    plain = private / "plain" / file.path
    plain.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine._private_file(plain, file.text)
    try:
        encrypted = sops.encrypt(plain, repo, file.path)
    finally:
        plain.unlink()
    docs = [d for d in yaml.safe_load_all(encrypted) if isinstance(d, dict)]
    if not docs or not all(sops.written_by_sops(d) for d in docs):
        raise Refusal(f"{file.path}: sops returned no encrypted document; nothing written")
    for doc in docs:  # fail closed: sops exits 0 when the repo's encrypted_regex skips a field
        if plain := sops.plaintext_keys(doc):
            raise Refusal(
                f"{file.path}: sops left {plain[0]} in plaintext (the repo's .sops.yaml encrypted_regex "
                "must cover data and stringData); nothing written"
            )
    return encrypted


def kept_secrets_as_rendered(
    existing: dict[tuple[str, str, str], tuple[str, dict | None]],
    objects: list[Rendered],
    data: dict[str, bytes],
    repo: Path,
) -> dict[tuple[str, str, str], tuple[str, dict | None]]:
    """`existing` with each Secret this machine cannot decrypt, but whose file the render keeps byte for
    byte (its plaintext digest matched), taken as the rendered object: the review shows no change for it."""
    found = dict(existing)
    for item in objects:
        rel, obj = found.get(item.key, ("", {}))
        if obj is None and rel in data and (repo / rel).is_file() and (repo / rel).read_bytes() == data[rel]:
            found[item.key] = (rel, item.obj)
    return found


def write(repo: Path, files: dict[str, bytes]) -> tuple[list[str], list[str]]:
    """Write changed files (through a temporary file in the same folder), remove stale ones from the owned
    folders. Returns (written, removed)."""
    written, removed = [], []
    for rel, data in sorted(files.items()):
        target = repo / rel
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".render-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        written.append(rel)
    for folder in owned_folders():
        for path in sorted((repo / folder).rglob("*")) if (repo / folder).is_dir() else []:
            rel = str(path.relative_to(repo))
            if path.is_file() and rel not in files:
                path.unlink()
                removed.append(rel)
        if (repo / folder).is_dir() and not any((repo / folder).iterdir()):
            (repo / folder).rmdir()
    return written, removed


def wired(repo: Path) -> bool:
    parent = repo / WIRING_PARENT
    if not parent.is_file():
        return False
    doc = yaml.safe_load(parent.read_text()) or {}
    return any(
        str(r).rstrip("/") in (WIRING_ENTRY, WIRING_ENTRY.removeprefix("./"))
        for r in doc.get("resources") or []
    )


@dataclass
class Build:
    """One render, not yet written: the repo's files and the gate's verdict on them."""

    objects: list[Rendered]  # rendered into the owned folders
    adopted: list[Rendered]  # left in Flux's own files (cluster.adopt)
    data: dict[str, bytes]  # path in the repo -> the bytes it gets (Secrets encrypted)
    summary: Summary
    unreadable: list[str]
    edits: list[flux_edits.FileEdit]  # Flux's own files, edited (ADR 0029)
    after_edit: list  # (file, finding) of the directive's GPU rules on the edited objects
    digests: render_state.SecretDigests | None = None
    secret_digests: dict[str, str] | None = None  # Secret file -> keyed digest of its plaintext


def build(repo: Path, stack_source: Path, today: date) -> Build:
    """Render, lay out, encrypt and review, without writing to the repo."""
    check_repo(repo)
    try:
        config = load_stack_file(stack_source, today=today)
    except ConfigError as err:
        raise Refusal(f"invalid stack config: {err}", 2) from None
    if reason := migration_past_plan(config):
        raise Refusal(reason, 2)  # before the engine runs: nothing rendered, nothing written
    try:
        edits = flux_edits.plan(repo, config, facts.load())
    except flux_edits.EditError as err:
        raise Refusal(f"cannot edit Flux's files: {err}; nothing written (ADR 0029)") from None
    with private_dir() as private:
        out_dir, events = private / "manifests", private / "events.jsonl"
        log("rendering the stack (program, policy pack, kubernetes provider in render mode)")
        run = engine.render(engine.run_dir(), stack_source, out_dir, events, private)
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-40:])
            print(tail, file=sys.stderr)
            raise Refusal("the render failed (above); nothing written")
        objects, adopted = split_adopted(rendered_objects(out_dir, events), config)
        try:
            files = plan(objects, config.cluster.sops.namespace, config.cluster.sops.age_secret)
        except LayoutError as err:
            raise Refusal(str(err)) from None
        digests = render_state.SecretDigests.load(engine.run_dir().render)
        data = {f.path: final_bytes(f, repo, private, digests) for f in files}
        secret_digests = {f.path: digests.digest(f.path, secret_docs(f)) for f in files if f.secret}
        data.update({e.path: e.after for e in edits if e.changed})
        ack = acknowledged(config.storage.migrations)
        existing = kept_secrets_as_rendered(existing_objects(repo), objects, data, repo)
        try:
            result, unreadable = review_summary(
                objects, existing, events, repo, ack, set(config.storage.data_releases)
            )
        except DeriveError as err:  # fail closed: what Flux applies is unknown
            raise Refusal(f"cannot tell what Flux applies from FLUX_REPO: {err}; nothing written") from None
    after_edit = edited_findings(edits, config)
    return Build(objects, adopted, data, result, unreadable, edits, after_edit, digests, secret_digests)


def render(repo: Path, stack_source: Path, today: date) -> int:
    done = build(repo, stack_source, today)
    print(render_summary(done.summary))
    if done.adopted:
        print(
            f"Left in Flux's own files while adopted (k3s-home:cluster.adopt, ADR 0003): {len(done.adopted)}"
        )
        for item in done.adopted:
            print(f"   {item.key[0]} {'/'.join(x for x in item.key[1:] if x)}")
    if done.unreadable:
        print(f"[advisory] not plain YAML, not checked for duplicates: {', '.join(done.unreadable)}")
    if done.summary.colliding:
        print(
            "In GitOps mode the objects 'that already exist' are defined in Flux files outside the stack's "
            "folders: `make owners` names each file; remove them there in the same change (ADR 0003 step 2)."
        )
    print(flux_edits.summary(done.edits))
    print(
        f"After the edit, the directive's GPU rules on the edited objects: {len(blocking(done.after_edit))} "
        f"mandatory, {len(done.after_edit) - len(blocking(done.after_edit))} advisory"
    )
    for path, finding in done.after_edit:
        print(f"   {path or 'stack'}: [{finding.severity}] {finding.rule}: {finding.message}")
    if exit_code(done.summary) or blocking(done.after_edit):
        raise Refusal("the review gate blocks this render (above); nothing written")
    written, removed = write(repo, done.data)
    if done.digests is not None and done.secret_digests is not None:
        done.digests.save({rel: (d, done.data[rel]) for rel, d in done.secret_digests.items()})
    log(
        f"{len(done.data)} file(s) in {len(owned_folders())} owned folder(s) and Flux's edited files: "
        f"{len(written)} written, "
        f"{len(removed)} removed, {len(done.data) - len(written)} unchanged"
    )
    for rel in written:
        log(f"  wrote {rel}")
    for rel in removed:
        log(f"  removed {rel}")
    if not wired(repo):
        log(
            f"not yet applied by Flux: add `- {WIRING_ENTRY}` to {WIRING_PARENT} once "
            "(outside its folders the render edits only the directive's fields of objects Flux keeps, "
            "ADR 0029)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make render", description=__doc__.splitlines()[0])
    parser.add_argument("flux_repo", help="the Flux repository's working copy (FLUX_REPO)")
    parser.add_argument(
        "--stack-config",
        default=os.environ.get("K3S_HOME_STACK_CONFIG") or str(engine.ROOT / "Pulumi.k3s-home.yaml"),
        help="the stack file to render (default: K3S_HOME_STACK_CONFIG or Pulumi.k3s-home.yaml)",
    )
    args = parser.parse_args(argv)
    if not args.flux_repo:
        log("usage: make render FLUX_REPO=DIR")
        return 2
    try:
        today = clock.pin()  # read once; the program and the pack the render starts judge on it too
        return render(Path(args.flux_repo).resolve(), Path(args.stack_config).resolve(), today)
    except (Refusal, sops.SopsError, engine.EngineError, ConfigError, flux_edits.EditError) as err:
        log(str(err))
        return getattr(err, "code", 1)


if __name__ == "__main__":
    sys.exit(main())
