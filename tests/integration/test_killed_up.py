"""A real `make up` SIGKILLed at three points, then `make recover`, `make preview`, `make up`: the state
converges with no duplicate and no orphan (issue 17, Deliver 3).

The stack talks to the embedded kube-apiserver through tests/integration/holding_proxy.py, which holds
the first request of the chosen step. The test waits for that request, SIGKILLs the driver's whole
session (driver, pulumi CLI, language host, providers, policy pack: the CLI gives each plugin a process
group of its own), then lets the held request through, so the object reaches the cluster after the engine
that asked for it is gone. The kill lands inside the step every time:
no sleep, no race. The points:
- create: the create of a ConfigMap the stack owns (a server-side apply PATCH);
- import: the provider's read of an object the stack adopts from Flux (k3s-home:cluster.adopt);
- migration: the migration's plan phase (the phase the stack file configures), at the read of the source
  PersistentVolume it adopts.
Each time the state must hold the step as a pending operation, and the lock of a process that is gone.
The cutover kill point needs a migration at cutover, so it is in test_migration_end_to_end.py (same kill,
tests/integration/killing.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from k3s_home import locks
from tests.integration.conftest import run_driver
from tests.integration.holding_proxy import Hold, HoldingProxy
from tests.integration.killing import checkpoint, up_killed_at
from tests.integration.own_stack import env_for, exists, resource_class, teardown


def _out(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-3000:]}"


def _steps(events: Path) -> dict[str, dict]:
    """URN -> the preview's step metadata, for each Kubernetes object."""
    out = {}
    for line in events.read_text().splitlines():
        meta = json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
        if meta.get("type", "").startswith("kubernetes:") and meta.get("op") in ("create", "import"):
            out[meta["urn"]] = meta
    return out


def _object_path(obj: dict) -> str:
    meta = obj["metadata"]
    where = f"/namespaces/{re.escape(meta['namespace'])}" if meta.get("namespace") else ""
    return f"{where}/[a-z]+/{re.escape(meta['name'])}"


def _pick(point: str, steps: dict[str, dict]) -> tuple[str, dict, Hold, str]:
    """(URN, object, the request to hold, the pending operation the kill must leave)."""

    def first(op: str, want) -> tuple[str, dict]:
        for urn, meta in sorted(steps.items()):
            obj = meta["new"]["inputs"]
            if meta["op"] == op and want(urn, obj):
                return urn, obj
        raise AssertionError(f"the stack plans no {op} fit for the {point} kill point")

    in_migration = "k3s-home:storage:VolumeMigration"
    if point == "create":
        urn, obj = first("create", lambda u, o: o["kind"] == "ConfigMap" and in_migration not in u)
        # The provider creates with server-side apply: a PATCH of the named object (a preview's PATCH is a
        # dry run; `up` with a saved plan sends none).
        hold = Hold(method="PATCH", path=rf"^(?!.*dryRun)/api/v1{_object_path(obj)}\?")
        return urn, obj, hold, "creating"
    if point == "import":
        urn, obj = first("import", lambda u, o: in_migration not in u)
    else:
        urn, obj = first("import", lambda u, o: in_migration in u and o["kind"] == "PersistentVolume")
    return urn, obj, Hold(method="GET", path=rf"^/api[s]?/.*{_object_path(obj)}(\?|$)"), "importing"


def _lists(kube, objects: list[dict]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every object in the cluster of the kinds and namespaces given."""
    found = set()
    for kind, namespace in {(o["kind"], o["metadata"].get("namespace")) for o in objects}:
        cls = resource_class(next(o for o in objects if o["kind"] == kind))
        listed = kube.list(cls, namespace=namespace) if namespace else kube.list(cls)
        found |= {(kind, namespace or "", item.metadata.name) for item in listed}
    return found


@pytest.mark.parametrize("point", ["create", "import", "migration"])
def test_a_killed_up_converges(point, cluster_env, embedded_kubeconfig, recorded_stack_file, kube, tmp_path):
    proxy = HoldingProxy(embedded_kubeconfig)
    run_dir = tmp_path / "run"
    env = {
        **cluster_env,
        **env_for(run_dir),
        "KUBECONFIG": str(proxy.write_kubeconfig(tmp_path / "kubeconfig")),
        "PULUMI_CONFIG_PASSPHRASE": "integration-tests-only",
        "K3S_HOME_STACK_CONFIG": str(recorded_stack_file),
    }
    env.pop("K3S_HOME_TARGET", None)  # the configured kubeconfig (the proxy), as a real cluster's user has

    def stack(*args: str, env: dict[str, str] = env) -> subprocess.CompletedProcess:
        return run_driver(*args, env=env)

    preview = stack("preview")
    assert preview.returncode == 0, _out(preview)
    steps = _steps(run_dir / "preview-events.jsonl")
    planned = {urn: meta["new"]["inputs"] for urn, meta in steps.items()}
    objects = {urn: obj for urn, obj in planned.items() if steps[urn]["op"] == "create"}
    urn, obj, hold, pending_kind = _pick(point, steps)
    before = _lists(kube, list(planned.values()))
    try:
        proxy.hold(hold)
        up_killed_at(hold, env, tmp_path, point)
        proxy.disarm()

        # The kill landed inside the step: the state holds it as pending, under a dead process's lock.
        state = checkpoint(run_dir)
        pending = {(p["type"], p["resource"]["urn"]) for p in state.get("pending_operations") or []}
        assert (pending_kind, urn) in pending, (hold.request, pending)
        held = locks.locks(env["PULUMI_BACKEND_URL"])
        assert held and all(lock.stale for lock in held), held

        recover = stack("recover")
        assert recover.returncode == 0, _out(recover)
        assert "cleared the stale lock of pid" in recover.stderr, _out(recover)
        meta = obj["metadata"]
        where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        assert f"imported (it exists in the cluster): {pending_kind} " in recover.stderr, _out(recover)
        assert any(
            line.endswith(f" {where}")
            for line in recover.stderr.splitlines()
            if "imported (it exists" in line
        ), _out(recover)
        again = stack("preview")
        assert again.returncode == 0, _out(again)
        applied = stack("up", "--yes")
        assert applied.returncode == 0, _out(applied)
        settled = stack("preview", "--expect-no-changes")
        assert settled.returncode == 0, _out(settled)

        # The state against the cluster: each planned object once in the state, under its own id, present
        # in the cluster; and nothing of those kinds appeared in the cluster that the state does not hold.
        final = checkpoint(run_dir)
        assert not final.get("pending_operations"), final["pending_operations"]
        resources = [r for r in final["resources"] if r["type"].startswith("kubernetes:")]
        urns = [r["urn"] for r in resources if r.get("custom")]
        assert len(urns) == len(set(urns)), "the state holds a resource twice"
        ids = [(r["type"], r["id"]) for r in resources if r.get("custom")]
        assert len(ids) == len(set(ids)), "two resources of the state manage one object"
        assert set(planned) <= set(urns), set(planned) - set(urns)
        assert all(exists(kube, o) for o in planned.values())
        held_by_state = {
            (planned[r["urn"]]["kind"], *(r["id"].rpartition("/")[::2]))
            for r in resources
            if r["urn"] in planned
        }
        appeared = _lists(kube, list(planned.values())) - before
        assert appeared <= held_by_state, appeared - held_by_state  # no orphan
        if point == "create":  # the listing sees what the killed update created
            assert (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]) in appeared
    finally:
        (tmp_path / "requests.log").write_text("\n".join(proxy.requests) + "\n")  # for a failure's reader
        proxy.disarm()
        teardown(stack, env, kube, objects)
        proxy.close()
