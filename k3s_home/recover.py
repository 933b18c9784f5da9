"""`make recover`: settle what a killed update left behind, then refresh.

- clears the stale lock (a lock whose process is gone; a live one stops recover);
- each pending create or import whose object exists in the target (same kind, namespace and name) goes
  into the state with its id, so the refresh reads it and the next preview plans no duplicate;
- every other pending operation is cleared: a create that never reached the cluster is planned again,
  and a pending update or delete is read back by the refresh;
- refresh: the state then says what the cluster holds, and it is tied to this cluster (k3s_home/identity.py):
  also the way to take a state over to a wiped and rebuilt embedded cluster.
"""

from __future__ import annotations

import os
from typing import Any

from pulumi import automation as auto

from k3s_home import engine, identity, locks, target
from k3s_home.backend import Run
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


def recover(run: Run) -> int:
    kubeconfig = target.choose()
    stack, config_file = engine.open_stack(run)
    backend = os.environ["PULUMI_BACKEND_URL"]
    for lock in locks.locks(backend):
        if not lock.stale:
            raise Refusal(f"the stack is locked by {lock}, which is still running: wait for it to finish")
        lock.path.unlink(missing_ok=True)
        log(f"cleared the stale lock of {lock}")
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
