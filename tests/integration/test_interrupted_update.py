"""An interrupted `make up`: the stale lock is one line, the gate says what happened, `make recover` settles.

What a SIGKILLed `up` leaves behind is put in place exactly, so that the test does not depend on where a
kill lands: the lock file of a process that is gone, and creates the state holds as pending operations,
some of which reached the cluster and one that did not. Then, through the driver as `make` runs it:
preview refuses with one line naming `make recover`; after `make cancel` the gate reports the interrupted
update instead of blaming Flux; `make recover` imports what exists and clears the rest; preview, up and
a no-change preview converge, and the state and the cluster agree (no duplicate, no orphan).
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from review.gate import COLLISION_HEADING
from tests.integration.own_stack import created, delete, env_for, exists, teardown

STACK = "k3s-home"


def _out(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-5000:]}\n--- stderr\n{result.stderr[-3000:]}"


def _pulumi(env: dict[str, str], run_dir: Path, *args: str) -> str:
    """The pulumi CLI itself, in the driver's project directory (the state is checked with its own tool)."""
    done = subprocess.run(
        ["pulumi", "--non-interactive", *args, "--stack", STACK],
        cwd=run_dir / "stack",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _leaves(resources: list[dict], candidates: set[str]) -> list[dict]:
    """Created resources nothing else depends on or is parented to: a kill can leave any of them pending
    without leaving a dependent behind in the state."""
    referenced: set[str] = set()
    for res in resources:
        referenced.add(res.get("parent", ""))
        referenced.update(res.get("dependencies") or [])
        for deps in (res.get("propertyDependencies") or {}).values():
            referenced.update(deps)
    return [r for r in resources if r["urn"] in candidates and r["urn"] not in referenced]


def _dead_pid() -> int:
    # Above pid_max: no process can ever hold it (a reaped child's pid could be reused).
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1


def test_an_interrupted_up_is_named_then_recovered(stack, cluster_env, kube, tmp_path):
    run_dir = tmp_path / "run"
    env = env_for(run_dir)
    cli_env = {**cluster_env, **env, "PULUMI_CONFIG_PASSPHRASE": "integration-tests-only"}
    preview = stack("preview", env=env)
    assert preview.returncode == 0, _out(preview)
    objects = created(run_dir / "preview-events.jsonl")
    up = stack("up", "--yes", env=env)
    assert up.returncode == 0, _out(up)
    pending: list[dict] = []
    try:
        # What `up`, killed during its creates, leaves: three creates pending, one of which never reached
        # the cluster, and the lock of the process that is gone.
        deployment = json.loads(_pulumi(cli_env, run_dir, "stack", "export"))["deployment"]
        pending = _leaves(deployment["resources"], set(objects))[:3]
        assert len(pending) == 3, "the stack creates fewer than three leaf objects"
        deployment["resources"] = [r for r in deployment["resources"] if r not in pending]
        deployment["pending_operations"] = [
            {"resource": {k: v for k, v in r.items() if k not in ("id", "outputs")}, "type": "creating"}
            for r in pending
        ]
        delete(kube, pending[0]["inputs"])
        # Written where the killed engine left it: `pulumi stack import` would drop the pending operations.
        checkpoint_file = run_dir / "state" / ".pulumi" / "stacks" / STACK / f"{STACK}.json"
        checkpoint = json.loads(checkpoint_file.read_text())
        checkpoint["checkpoint"]["latest"] = deployment
        checkpoint_file.write_text(json.dumps(checkpoint))
        lock_dir = run_dir / "state" / ".pulumi" / "locks" / "organization" / STACK / STACK
        lock_dir.mkdir(parents=True, exist_ok=True)  # the CLI keeps the directory
        lock = {"pid": _dead_pid(), "username": "k3s", "hostname": socket.gethostname(), "timestamp": "t"}
        (lock_dir / "killed-up.json").write_text(json.dumps(lock))

        # The stale lock: one line, saying the process is gone and what clears it.
        locked = stack("preview", env=env)
        assert locked.returncode == 1, _out(locked)
        assert (
            locked.stderr.strip()
            .splitlines()[-1]
            .startswith(f"[k3s-home] the stack is locked by pid {lock['pid']} on {socket.gethostname()}")
        ), _out(locked)
        assert "that process is gone (a killed update): run `make recover`" in locked.stderr, _out(locked)
        assert locked.stdout == "" and "Traceback" not in locked.stderr

        # With the lock cleared, the gate names the interruption, not Flux.
        cancel = stack("cancel", env=env)
        assert cancel.returncode == 0, _out(cancel)
        gated = stack("preview", env=env)
        assert gated.returncode == 1, _out(gated)
        verdict = gated.stdout.strip().splitlines()[-1]
        assert "the last update was interrupted; 3 create(s) may have happened" in verdict, _out(gated)
        assert "already exist in the cluster" not in verdict, _out(gated)
        collisions = gated.stdout.split(COLLISION_HEADING, 1)[1].split("\n\n", 1)[0]
        assert collisions.startswith(" (0):"), _out(gated)
        assert not (run_dir / "plan.json").exists()

        # recover: the two that exist are imported, the one that never happened is cleared.
        lock_dir.joinpath("killed-up.json").write_text(json.dumps(lock))  # recover clears a lock too
        recover = stack("recover", env=env)
        assert recover.returncode == 0, _out(recover)
        assert "cleared the stale lock of pid" in recover.stderr, _out(recover)
        assert recover.stderr.count("imported (it exists in the cluster)") == 2, _out(recover)
        assert "recovered: 2 imported, 1 cleared, state refreshed" in recover.stderr, _out(recover)

        again = stack("preview", env=env)
        assert again.returncode == 0, _out(again)
        steps = {
            m["urn"]: m["op"]
            for m in (
                json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
                for line in (run_dir / "preview-events.jsonl").read_text().splitlines()
            )
            if m.get("urn")
        }
        assert steps[pending[0]["urn"]] == "create", steps[pending[0]["urn"]]
        assert {steps[p["urn"]] for p in pending[1:]} == {"same"}, _out(again)
        assert stack("up", "--yes", env=env).returncode == 0
        noop = stack("preview", "--expect-no-changes", env=env)
        assert noop.returncode == 0, _out(noop)

        # The state and the cluster agree: each stack object once in the state, and present in the cluster.
        final = json.loads(_pulumi(cli_env, run_dir, "stack", "export"))["deployment"]
        assert not final.get("pending_operations")
        urns = [r["urn"] for r in final["resources"]]
        assert len(urns) == len(set(urns)), "the state holds a resource twice"
        assert all(p["urn"] in urns for p in pending)
        assert all(exists(kube, p["inputs"]) for p in pending)
    finally:
        teardown(stack, env, kube, objects)
