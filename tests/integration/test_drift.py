"""Previews tell the truth about the target (issue 17): an out-of-band delete and a `kubectl edit` each show
as drift, named per object, before anything is applied; a wiped embedded cluster is refused as not the
cluster the state was written for, until `make recover` re-reads the state from it.

Only objects the stack creates are touched: an adopted object (k3s-home:cluster.adopt) belongs to Flux
until the handover. The wipe runs on a control plane of its own (the aux ports), since it re-seeds the
live volumes with new uids, which the session's recorded stack file would no longer match.
"""

from __future__ import annotations

import json
from pathlib import Path

from review.gate import DRIFT_HEADING
from tests.integration.conftest import ROOT, aux_plane, cluster_sh
from tests.integration.own_stack import created, delete, env_for, resource_class, teardown


def _out(result) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"


def _drift(stdout: str) -> list[str]:
    """The gate's drift lines."""
    assert DRIFT_HEADING in stdout, stdout[-3000:]
    return [
        line for line in stdout.split(DRIFT_HEADING, 1)[1].split("\n\n", 1)[0].splitlines() if "~~" in line
    ]


def _ops(run_dir: Path) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = {}
    for line in (run_dir / "preview-events.jsonl").read_text().splitlines():
        meta = json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
        if meta.get("urn"):
            ops.setdefault(meta["urn"], set()).add(meta["op"])
    return ops


def _where(obj: dict) -> str:
    meta = obj["metadata"]
    return (
        f"{obj['kind']} {meta['namespace']}/{meta['name']}"
        if meta.get("namespace")
        else f"{obj['kind']} {meta['name']}"
    )


def test_an_out_of_band_delete_and_edit_show_as_drift(stack, kube, tmp_path):
    run_dir = tmp_path / "run"
    env = env_for(run_dir)
    preview = stack("preview", env=env)
    assert preview.returncode == 0, _out(preview)
    assert DRIFT_HEADING not in preview.stdout  # a fresh stack: nothing in the state to refresh
    objects = created(run_dir / "preview-events.jsonl")
    try:
        assert stack("up", "--yes", env=env).returncode == 0
        configmaps = [(u, o) for u, o in objects.items() if o["kind"] == "ConfigMap" and o.get("data")]
        assert len(configmaps) >= 2, "the stack creates fewer than two ConfigMaps with data"
        (gone_urn, gone), (edited_urn, edited) = configmaps[:2]
        delete(kube, gone)
        key = sorted(edited["data"])[0]
        kube.patch(
            resource_class(edited),
            edited["metadata"]["name"],
            {"data": {key: "edited by hand"}},
            namespace=edited["metadata"].get("namespace"),
        )

        drift = stack("preview", env=env)
        assert drift.returncode == 0, _out(drift)
        assert sorted(_drift(drift.stdout)) == [
            f"~~ deleted  {_where(gone)}",
            f'~~ edited   {_where(edited)}: data["{key}"]',
        ], _out(drift)
        ops = _ops(run_dir)
        assert "create" in ops[gone_urn], ops[gone_urn]  # the plan puts back what was deleted...
        assert ops[edited_urn] & {"update", "replace"}, ops[edited_urn]  # ...and what was edited
        assert "object(s) changed outside Pulumi" in drift.stdout.strip().splitlines()[-1]

        assert stack("up", "--yes", env=env).returncode == 0
        settled = stack("preview", "--expect-no-changes", env=env)
        assert settled.returncode == 0, _out(settled)
        assert _drift(settled.stdout) == []
    finally:
        teardown(stack, env, kube, objects)


def test_a_wiped_embedded_cluster_previews_every_create_again(stack, cluster_env, tmp_path):
    aux = aux_plane(cluster_env, tmp_path)

    def cluster(command: str) -> None:
        done = cluster_sh(aux, command)
        assert done.returncode == 0, done.stderr[-2000:]

    run_dir = tmp_path / "run"
    stack_file = tmp_path / "Pulumi.k3s-home.yaml"
    stack_file.write_text((ROOT / "Pulumi.k3s-home.yaml").read_text())
    env = {**aux, **env_for(run_dir), "K3S_HOME_STACK_CONFIG": str(stack_file)}
    try:
        # The driver starts this control plane on demand; its live volumes' facts go into the stack file.
        recorded = stack("record-migration-sources", env=env)
        assert recorded.returncode == 0, _out(recorded)
        preview = stack("preview", env=env)
        assert preview.returncode == 0, _out(preview)
        objects = created(run_dir / "preview-events.jsonl")
        assert stack("up", "--yes", env=env).returncode == 0

        cluster("down")  # `make cluster-down`: the etcd data goes, the state in the run dir stays

        # The state was written for the cluster that is gone: a preview against the new one refuses.
        wiped = stack("preview", env=env)  # starts the control plane again, empty but for the seed
        assert wiped.returncode == 1 and wiped.stdout == "", _out(wiped)
        refusal = wiped.stderr.strip().splitlines()[-1]
        assert "(another or a wiped and rebuilt cluster)" in refusal, _out(wiped)
        assert refusal.endswith("or run `make recover` to re-read the state from this one"), _out(wiped)
        assert "Traceback" not in wiped.stderr

        # `make recover` re-reads the state from this cluster and ties it to it...
        recover = stack("recover", env=env)
        assert recover.returncode == 0, _out(recover)
        assert "the state is now tied to the cluster whose kube-system uid is" in recover.stderr, _out(
            recover
        )
        # ...and the preview shows every create again, never "unchanged" against a wiped cluster.
        stack("preview", env=env)  # the re-seeded live volumes have new uids: the migration may refuse
        ops = _ops(run_dir)
        assert all("create" in ops[u] for u in objects), ops
        changes = next(
            json.loads(line)["summaryEvent"]["resourceChanges"]
            for line in (run_dir / "preview-events.jsonl").read_text().splitlines()
            if "summaryEvent" in line
        )
        assert changes.get("create", 0) >= len(objects), changes
    finally:
        cluster("down")
