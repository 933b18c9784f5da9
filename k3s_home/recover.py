"""`make recover`: settle what a killed update left behind, then refresh.

- clears the stale lock (a lock whose process is gone; a live one stops recover);
- removes the local checkpoint's metadata file when the kill left it truncated (`repair_attrs`);
- each pending create or import whose object exists in the target (same kind, namespace and name) goes
  into the state with its id, so the refresh reads it and the next preview plans no duplicate;
- every other pending operation is cleared: a create that never reached the cluster is planned again,
  and a pending update or delete is read back by the refresh;
- refresh: the state then says what the cluster holds, and it is tied to this cluster (k3s_home/identity.py):
  also the way to take a state over to a wiped and rebuilt embedded cluster.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from k3s_home import engine, identity, locks, target
from k3s_home.backend import Run, checkpoint_file
from k3s_home.log import Refusal, log, stderr
from review.gate import PendingOperation
from review.ownership import ClusterLookup, ObjectRef, object_ref

SETTLED_BY_IMPORT = ("creating", "importing")


def _object(entry: dict[str, Any]) -> ObjectRef | None:
    res = entry.get("resource") or {}
    return object_ref({"op": "create", "type": res.get("type"), "urn": res.get("urn"), "new": res})


def _import_id(ref: ObjectRef) -> str:
    return f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name


def settle(data: dict[str, Any], exists) -> tuple[list[str], list[str]]:
    """Move pending creates that exist into `resources`, clear the rest. Returns (imported, cleared)."""
    imported, cleared = [], []
    known = {r.get("urn") for r in data.get("resources") or []}
    for entry in data.get("pending_operations") or []:
        op = PendingOperation.from_state(entry)
        ref = _object(entry)
        if (
            op.kind in SETTLED_BY_IMPORT
            and ref is not None
            and ref.known
            and op.urn not in known
            and exists(ref)
        ):
            res = dict(entry["resource"])
            res["id"] = _import_id(ref)
            res.setdefault("outputs", {})
            data.setdefault("resources", []).append(res)
            known.add(op.urn)
            imported.append(str(op))
        else:
            cleared.append(str(op))
    data["pending_operations"] = []
    return imported, cleared


def repair_attrs(checkpoint: Path | None) -> str | None:
    """Remove a truncated `<checkpoint>.attrs`; say so, else None.

    A local file backend keeps each file's metadata (content type, MD5) beside it in `<file>.attrs`, and
    its writer (gocloud's fileblob) rewrites that file in place, truncate then write, before it renames the
    new checkpoint into place. A kill between the two leaves it empty, and every CLI command then fails
    with "failed to load checkpoint: EOF". A missing `.attrs` reads as the defaults, and nothing here uses
    the MD5, so an unreadable one goes; the checkpoint itself is whole (it is renamed into place)."""
    attrs = checkpoint.with_name(checkpoint.name + ".attrs") if checkpoint else None
    if attrs is None or not attrs.is_file():
        return None
    try:
        json.loads(attrs.read_text())
        return None
    except (ValueError, OSError):
        attrs.unlink()
        return f"removed {attrs.name}, truncated by the kill (the checkpoint's metadata; the state is whole)"


def recover(run: Run) -> int:
    kubeconfig = target.choose()
    stack, config_file = engine.open_stack(run)
    backend = os.environ["PULUMI_BACKEND_URL"]
    for lock in locks.locks(backend):
        if not lock.stale:
            raise Refusal(f"the stack is locked by {lock}, which is still running: wait for it to finish")
        lock.path.unlink(missing_ok=True)
        log(f"cleared the stale lock of {lock}")
    if repaired := repair_attrs(checkpoint_file()):
        log(repaired)
    data = engine.deployment(stack)
    # The refresh below re-reads the state from this target: from now on the state is this cluster's.
    identity.record(run, kubeconfig)
    lookup = ClusterLookup(kubeconfig)
    try:
        imported, cleared = settle(data, lookup)
    finally:
        lookup.close()
    if imported or cleared:
        engine.import_deployment(stack, data, run)
    for line in imported:
        log(f"imported (it exists in the cluster): {line}")
    for line in cleared:
        log(f"cleared (never happened, or the refresh reads it back): {line}")
    try:
        stack.refresh(
            config_file=str(config_file), on_output=lambda s: print(s, end="", flush=True), on_error=stderr
        )
    except auto.errors.CommandError:
        return 1
    log(
        f"recovered: {len(imported)} imported, {len(cleared)} cleared, state refreshed; "
        "now run `make preview`"
    )
    return 0
