"""Both migrations, monitoring and bazarr-pilot, from plan to cleanup on running (simulated) workloads.

A control plane of this module's own (it changes the seeded claims for good): etcd, kube-apiserver,
kube-controller-manager (pvc-protection, StatefulSet, Deployment, Job, garbage collector), kube-scheduler
and KWOK nodes, seeded from the Flux repo with Running pods. One `preview` (with the review gate) and one
`up` per phase, through the same runner as `make preview` / `make up` (tests/integration/conftest.py).

What an operator copies into the stack file between phases comes from `operator_records`. KWOK runs no
container, so a Job here has no log: the helper checks that the Job really completed in the cluster, then
runs the Job's own command (copy_verify.py, the file the ConfigMap ships) on stand-in directories and
parses its result lines with components.storage.records, as an operator parses the log. The bytes, files
and digests are therefore those of the stand-in data, not of the (never attached) volumes: 90 MiB for
bazarr's claim (BAZARR_CONFIG), so the pilot report generated from the records at the end has figures.

After every phase: every source PV exists with reclaim policy Retain (the live policy at plan), no claim is
Terminating, and every owner is at the replicas the phase intends, with that many Running pods.

Faults on the way: the monitoring copy Jobs fail (their node cordoned, then their deadline cut to 1 s);
the kube-apiserver restarts while the next copy `up` waits for its Jobs (held Pending on the cordoned node
until the server is back); one verify mismatches (its stand-in target altered), so no digest can be
recorded and the config refuses detach and cutover; at cutover a pod still holds bazarr's claim, so the
bounded check stops the `up` naming it; the re-run is SIGKILLed after bazarr's old claim was deleted
(through tests/integration/holding_proxy.py), then `recover`, a preview that names what is left, and the
`up` that converges; one claim is under acceptDataLoss. Longhorn is absent:
the test installs its Volume kind (schema-less) and, at cutover, plays its CSI provisioner for the one
EMPTY claim.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lightkube import Client, KubeConfig, codecs
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Node, PersistentVolume, PersistentVolumeClaim, Pod
from ruamel.yaml import YAML

from components.config import load_stack_file
from components.config.migration import Migration
from components.storage import records
from components.storage.jobs import SCRIPT
from components.storage.names import job_name, target_volume_name
from tests.conftest import TEST_TODAY
from tests.integration.conftest import ROOT, cluster_sh, driver_env, own_plane, run_driver, stack_runner
from tests.integration.holding_proxy import Hold, HoldingProxy
from tests.integration.killing import checkpoint, up_killed_at
from tests.integration.waiting import until

HelmRelease = create_namespaced_resource("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases")
LonghornVolume = create_namespaced_resource("longhorn.io", "v1beta2", "Volume", "volumes")
LOST = "alertmanager-kube-prometheus-stack-alertmanager-db-alertmanager-kube-prometheus-stack-alertmanager-0"
MIGRATIONS = ("monitoring", "bazarr-pilot")
PHASES = ("plan", "copy", "verify", "detach", "cutover", "cleanup")
# Fixed, not read from a clock: the downtime window an operator notes (T0 at the copy up, T1 when ready).
T0, T1 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC), datetime(2026, 11, 29, 9, 12, tzinfo=UTC)
UP_TIMEOUT = 600


def ok(result, what: str) -> None:
    """Fail with the engine's diagnostics first (the summary that follows them is long)."""
    if result.returncode != 0:
        text = result.stdout + result.stderr
        marks = ("error", "blocked", "!! ", "refus")
        diagnostics = [
            ln for ln in text.splitlines() if any(k in ln.lower() for k in marks) or ln.startswith("    * ")
        ]
        pytest.fail(f"{what}: exit {result.returncode}\n" + "\n".join(diagnostics)[-8000:], pytrace=False)


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-12000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


LONGHORN_VOLUME_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "volumes.longhorn.io"},
    "spec": {
        "group": "longhorn.io",
        "scope": "Namespaced",
        "names": {"kind": "Volume", "plural": "volumes", "singular": "volume", "listKind": "VolumeList"},
        "versions": [
            {
                "name": "v1beta2",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


def _served(kube: Client) -> bool:
    from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

    crd = kube.get(CustomResourceDefinition, "volumes.longhorn.io")
    return any(c.type == "Established" and c.status == "True" for c in (crd.status.conditions or []))


@pytest.fixture(scope="module")
def own_cluster(toolchain_env, tmp_path_factory, longhorn_facts):
    """A fresh seeded control plane on this checkout's aux ports, stopped at the end of the module. Its
    migrations pass `plan`, so the stack runs against facts with a stand-in Longhorn (ADR 0028)."""
    base = tmp_path_factory.mktemp("e2e-cluster")
    with own_plane({**toolchain_env, "K3S_HOME_FACTS": longhorn_facts}, base) as (env, stack_file):
        kube = Client(KubeConfig.from_file(env["K3S_HOME_CLUSTER_KUBECONFIG"]), timeout=15)
        # Longhorn is not part of the embedded cluster: its Volume kind only, schema-less, so the migration's
        # Volume objects are stored. No Longhorn controller runs, so no volume is ever attached or written.
        kube.create(codecs.from_dict(LONGHORN_VOLUME_CRD))
        until("the Longhorn Volume kind to be served", lambda: _served(kube), 60)
        yield env, kube, stack_file, base


@pytest.fixture(autouse=True)
def api_alive(own_cluster) -> None:
    """This module checks its own control plane (and does not start the session's)."""
    import api_check

    reason = api_check.check(own_cluster[0]["K3S_HOME_CLUSTER_KUBECONFIG"])
    if reason:
        pytest.fail(f"embedded control plane: {reason}", pytrace=False)


def write_stack(recorded: Path, dest: Path, phase: str, notes: dict[str, dict]) -> Path:
    """The recorded stack file with both migrations at `phase` and the operator's records so far."""
    yaml = YAML()
    doc = yaml.load(recorded.read_text())
    for m in doc["config"]["k3s-home:storage"]["migrations"]:
        m["phase"] = phase
        for key, value in notes.get(m["name"], {}).items():
            m[key] = copy.deepcopy(value)
    with dest.open("w") as out:
        yaml.dump(doc, out)
    return dest


MIB = 2**20
# The pilot's claim at a realistic size: the live claim requests 100Mi (flux-k3s
# clusters/k3s-home/apps/media/persistent-volume-claims.yaml), so the stand-in fills 90 MiB of it, the most
# the live volume can hold less 10 %, in Bazarr's own /config layout (linuxserver image): its SQLite
# database, the weekly backups it keeps, rotated logs, the subliminal cache, its config. The content is
# seeded pseudo-random (incompressible, no zero runs the copy would turn into holes), so every run copies
# the same bytes. How full the live volume really is, nobody here knows: this is its upper bound.
BAZARR_CONFIG = {
    "db/bazarr.db": 48 * MIB,
    "backup/bazarr_backup.2026.11.15.zip": 12 * MIB,
    "backup/bazarr_backup.2026.11.22.zip": 12 * MIB,
    "backup/bazarr_backup.2026.11.29.zip": 12 * MIB,
    "cache/subliminal.dbm": 3 * MIB,
    "log/bazarr.log": 1 * MIB,
    "log/bazarr.log.2026-11-28": 1 * MIB,
    "log/bazarr.log.2026-11-27": 1 * MIB,
    "config/config.yaml": 6 * 1024,
}
BAZARR_CLAIM = "bazarr-config-pvc"


def stand_in_data(root: Path, claim: str) -> tuple[Path, Path]:
    src, dst = root / claim / "src", root / claim / "dst"
    src.mkdir(parents=True), dst.mkdir(parents=True)
    if claim == BAZARR_CLAIM:
        rng = random.Random(claim)
        for rel, size in BAZARR_CONFIG.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(rng.randbytes(size))
        return src, dst
    (src / "chunks").mkdir()
    (src / "chunks" / "000001").write_bytes(claim.encode() * 300)
    (src / "meta.json").write_text(json.dumps({"claim": claim}) + "\n")
    return src, dst


def job_completed(kube: Client, m: Migration, claim, action: str) -> bool:
    job = kube.get(Job, job_name(m, claim, action), namespace=claim.namespace)
    return bool(job.status and job.status.succeeded == 1)


def operator_records(kube: Client, m: Migration, action: str, data: Path, tamper: str | None = None) -> dict:
    """What the operator copies from each Job's result line (see the module docstring for what is real)."""
    out: dict = {}
    for c in m.pvcs:
        if m.loses(c):
            continue
        assert job_completed(kube, m, c, action), f"Job {job_name(m, c, action)} did not complete"
        src, dst = (data / c.name / "src", data / c.name / "dst")
        if action == "copy":
            src, dst = stand_in_data(data, c.name)
        elif c.name == tamper:
            (dst / "meta.json").write_text("changed after the copy\n")
        line = subprocess.run(
            [sys.executable, str(SCRIPT), action, str(src), str(dst)],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
        out[c.name] = records.copied(line) if action == "copy" else records.verified(line)
    return out


def owner_state(kube: Client, m: Migration) -> dict[str, tuple[int, int]]:
    """owner -> (spec.replicas, Running pods carrying its pod labels)."""
    out = {}
    for owner in m.owners:
        ns = m.namespace_of(owner)
        kind = StatefulSet if owner.kind == "StatefulSet" else Deployment
        spec = kube.get(kind, owner.name, namespace=ns).spec.replicas
        pods = kube.list(Pod, namespace=ns, labels=dict(owner.pod_labels))
        running = [
            p for p in pods if p.status and p.status.phase == "Running" and not p.metadata.deletionTimestamp
        ]
        out[owner.name] = (spec, len(running))
    return out


def check_invariants(kube: Client, config, phase: str) -> None:
    """The three things that hold after every phase."""
    for m in config.storage.migrations:
        for c in m.pvcs:
            pv = kube.get(PersistentVolume, c.source.volume)
            want = c.source.reclaim_policy if phase == "plan" else "Retain"
            assert pv.spec.persistentVolumeReclaimPolicy == want, (phase, c.source.volume)
        for ns in {c.namespace for c in m.pvcs}:
            stuck = [
                p.metadata.name
                for p in kube.list(PersistentVolumeClaim, namespace=ns)
                if p.metadata.deletionTimestamp
            ]
            assert stuck == [], f"{phase}: claims Terminating in {ns}: {stuck}"
        held = phase in ("copy", "verify", "detach")
        want = {o.name: (0, 0) if held else (o.replicas, o.replicas) for o in m.owners}
        until(
            f"{m.name} owners at {want} after {phase}",
            lambda m=m, want=want: owner_state(kube, m) == want,
            90,
        )


def suspended(kube: Client, ref: str) -> bool:
    ns, name = ref.split("/")
    return bool(kube.get(HelmRelease, name, namespace=ns).spec.get("suspend"))


def phase_up(stack, path: Path, what: str):
    """`make preview` (the gate must let it through) then `make up`, as the operator runs a phase."""
    preview = stack("preview", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT)
    ok(preview, f"preview of {what}")
    assert "Verdict: ok to apply" in preview.stdout, (what, _out(preview))
    up = stack("up", "--yes", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT)
    ok(up, f"up of {what}")


def claims_untouched(kube: Client, config, before: dict[str, str]) -> None:
    for m in config.storage.migrations:
        for c in m.pvcs:
            claim = kube.get(PersistentVolumeClaim, c.name, namespace=c.namespace)
            assert claim.metadata.uid == before[c.key] and claim.status.phase == "Bound", c.key
            assert claim.spec.volumeName == c.source.volume and not claim.metadata.deletionTimestamp


@contextmanager
def up_beside_cordoned_k3s1(kube: Client, stack, path: Path, what: str):
    """`make preview` (it must pass), then `make up` started in the background with k3s1 cordoned, so the
    copy Jobs of the monitoring volumes (local-path, on k3s1) stay Pending. Yields the running up (a
    Future); k3s1 is uncordoned when the block ends, before the up is waited for."""
    env = {"K3S_HOME_STACK_CONFIG": str(path)}
    kube.patch(Node, "k3s1", {"spec": {"unschedulable": True}})
    with ThreadPoolExecutor(1) as pool:
        try:
            ok(stack("preview", env=env, timeout=UP_TIMEOUT), f"preview of {what}")
            yield pool.submit(stack, "up", "--yes", env=env, timeout=UP_TIMEOUT)
        finally:
            kube.patch(Node, "k3s1", {"spec": {"unschedulable": False}})


def copy_fails_first(kube: Client, stack, path: Path, config, before: dict[str, str]) -> None:
    """Fault: the monitoring copy Jobs cannot run (their volumes' node k3s1 is cordoned) and reach their
    deadline. The `up` fails and says which Jobs; nothing is deleted; the phase stays `copy`."""
    m = next(x for x in config.storage.migrations if x.name == "monitoring")
    names = [job_name(m, c, "copy") for c in m.pvcs if not m.loses(c)]
    with up_beside_cordoned_k3s1(kube, stack, path, "copy (fault)") as running:
        for name in names:
            until(f"copy Job {name}", lambda name=name: _exists(kube, Job, name, "monitoring"), 300)
            # Pending on the cordoned node; a deadline of 1 s makes the Job controller fail it.
            kube.patch(Job, name, {"spec": {"activeDeadlineSeconds": 1}}, namespace="monitoring")
    up = running.result()
    assert up.returncode != 0, _out(up)
    text = up.stdout + up.stderr
    failed = [n for n in names if f"monitoring-copy-{n.rsplit('-', 1)[-1]}" in text or n in text]
    assert failed, _out(up)
    assert "DeadlineExceeded" in text or "deadline" in text.lower(), _out(up)
    claims_untouched(kube, config, before)
    check_invariants(kube, config, "copy")  # Retain came first; the owners are held at 0


def _uid(kube: Client, res, name: str, namespace: str) -> str | None:
    try:
        return kube.get(res, name, namespace=namespace).metadata.uid
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise


def apiserver_restarts_while_copy_waits(kube: Client, stack, env: dict[str, str], path: Path, config) -> None:
    """Fault: the kube-apiserver restarts (`cluster.sh restart-apiserver`: stopped, started, ready) while
    `up` waits for the copy Jobs. The barrier: this up's monitoring copy Jobs exist (new ones: the failed
    runs are replaced) and cannot finish, their node k3s1 cordoned, so the up is inside the copy phase,
    waiting on them, when the server goes; the node is uncordoned only once the server is back. The up
    either fails naming the step it was in, or its waits re-list and it completes (what the provider has
    done in every run so far); the next preview and up converge either way (checked by the caller)."""
    m = next(x for x in config.storage.migrations if x.name == "monitoring")
    names = [job_name(m, c, "copy") for c in m.pvcs if not m.loses(c)]
    failed = {name: _uid(kube, Job, name, "monitoring") for name in names}
    with up_beside_cordoned_k3s1(kube, stack, path, "copy (API server restart)") as running:
        for name in names:
            until(
                f"a new copy Job {name}",
                lambda name=name: _uid(kube, Job, name, "monitoring") not in (None, failed[name]),
                300,
            )
        restarted = cluster_sh(env, "restart-apiserver")
        assert restarted.returncode == 0, restarted.stderr[-2000:]
        assert "kube-apiserver restarted" in restarted.stderr
    up = running.result()
    (path.parent / "up-across-apiserver-restart.txt").write_text(_out(up))  # which way it went, to read
    if up.returncode == 0:  # the provider's waits re-listed after the restart (so far, every run)
        assert all(job_completed(kube, m, c, "copy") for c in m.pvcs if not m.loses(c)), _out(up)
    else:  # a clear failure names the step it was in, and is the engine's, not a crash of the driver
        assert any(name in up.stdout + up.stderr for name in names), _out(up)
        assert "Traceback" not in up.stderr, _out(up)


@contextmanager
def csi_provisioner(kubeconfig: str, storage_class: str):
    """Plays Longhorn's CSI provisioner (absent here): binds a new PV to every Pending claim of the class
    that names no volume, as the provisioner does for the EMPTY claim of acceptDataLoss."""
    kube = Client(KubeConfig.from_file(kubeconfig), timeout=15)
    stop, made = threading.Event(), []

    def loop() -> None:
        while not stop.is_set():
            for pvc in kube.list(PersistentVolumeClaim, namespace="*"):
                pending = pvc.status is None or pvc.status.phase == "Pending"
                if pvc.spec.storageClassName != storage_class or pvc.spec.volumeName or not pending:
                    continue
                name = f"pvc-{pvc.metadata.uid}"
                if name in made or pvc.metadata.deletionTimestamp:
                    continue
                kube.create(codecs.from_dict(provisioned_pv(pvc, name)))
                made.append(name)
            stop.wait(0.5)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield made
    finally:
        stop.set()
        thread.join(10)


def provisioned_pv(pvc, name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": {
            "accessModes": list(pvc.spec.accessModes),
            "capacity": {"storage": pvc.spec.resources.requests["storage"]},
            "csi": {"driver": "driver.longhorn.io", "volumeHandle": name, "fsType": "ext4"},
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": pvc.spec.storageClassName,
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": pvc.metadata.namespace,
                "name": pvc.metadata.name,
                "uid": pvc.metadata.uid,
            },
        },
    }


def refused_without_digest(
    kube: Client, stack, recorded: Path, base: Path, notes: dict, data: Path, before
) -> None:
    """Fault: the verify of one claim mismatches. Its log has no digest, so the operator has none to
    record, and the config refuses detach and cutover with one line; the cluster is not touched."""
    config = load_stack_file(
        write_stack(recorded, base / "Pulumi.verify-check.yaml", "verify", notes), today=TEST_TODAY
    )
    m = next(x for x in config.storage.migrations if x.name == "monitoring")
    bad = next(c for c in m.pvcs if not m.loses(c))
    with pytest.raises(records.NoResult, match="verify failed"):
        operator_records(kube, m, "verify", data / "monitoring", tamper=bad.name)
    partial = copy.deepcopy(notes)
    del partial["monitoring"]["verified"][bad.name]
    for phase in ("detach", "cutover"):
        path = write_stack(recorded, base / f"Pulumi.{phase}-refused.yaml", phase, partial)
        refused = stack("preview", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT)
        assert refused.returncode != 0, _out(refused)
        assert f"before a successful verify of {bad.name}" in refused.stdout + refused.stderr, _out(refused)
    claims_untouched(kube, config, before)
    assert job_completed(kube, m, bad, "verify")  # its Job (and log) still there to look at


HOLDER = "holds-bazarr-config"


def cutover_waits_for_a_pod_that_holds_a_claim(
    kube: Client, stack, path: Path, before: dict[str, str]
) -> None:
    """Fault: a pod (here one started by hand) still mounts bazarr's claim at cutover. The ClaimFree check
    waits its bound, then stops the `up` naming the pod; that claim is not touched. The claims that were
    free are cut over in the same `up`; the re-run after the pod is gone does the rest."""
    volume = {"name": "config", "persistentVolumeClaim": {"claimName": "bazarr-config-pvc"}}
    pod = {"name": "shell", "image": "docker.io/library/python:3.12.11-alpine3.22"}
    kube.create(
        codecs.from_dict(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": HOLDER, "namespace": "media"},
                "spec": {"containers": [pod], "volumes": [volume]},
            }
        )
    )
    until(
        "the holder pod to run",
        lambda: kube.get(Pod, HOLDER, namespace="media").status.phase == "Running",
    )
    preview = stack("preview", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT)
    ok(preview, "preview of cutover (claim held)")
    up = stack("up", "--yes", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT)
    assert up.returncode != 0, _out(up)
    assert (
        f"claim media/bazarr-config-pvc is still used by pod {HOLDER} (Running) after 120 s"
        in up.stdout + up.stderr
    ), _out(up)
    claim = kube.get(PersistentVolumeClaim, "bazarr-config-pvc", namespace="media")
    assert claim.metadata.uid == before["media/bazarr-config-pvc"] and not claim.metadata.deletionTimestamp
    assert claim.spec.volumeName == "bazarr-config-pv" and claim.status.phase == "Bound"
    kube.delete(Pod, HOLDER, namespace="media", grace_period=0)
    until("the holder pod to go", lambda: not _exists(kube, Pod, HOLDER, "media"), 60)


def killed_while_bazarr_claim_is_recreated(
    kube: Client, env: dict[str, str], run_dir: Path, path: Path, logs: Path
) -> None:
    """Fault: `make up` SIGKILLed during cutover (tests/integration/killing.py), after bazarr's old claim
    was deleted, while the create of its replacement is held by the proxy in front of the kube-apiserver;
    the held create is dropped (it never reaches the server). Bazarr is then at 0 with no claim, and its
    data on the old PV (Retain, Released) and the new one (bound by name). The next preview refuses on the
    dead update's lock and names `make recover`; recover clears the lock and the pending create; the
    preview then names what is left; the caller's re-run converges."""
    proxy = HoldingProxy(env["K3S_HOME_CLUSTER_KUBECONFIG"])
    try:
        via_proxy = {
            "K3S_HOME_TARGET": "",  # the configured kubeconfig (the proxy), as a real cluster's user has
            "KUBECONFIG": str(proxy.write_kubeconfig(logs / "proxy-kubeconfig")),
            "K3S_HOME_STACK_CONFIG": str(path),
        }
        full_env = driver_env(env, run_dir, path, via_proxy)

        def stack(*args: str):
            return run_driver(*args, env=full_env, timeout=UP_TIMEOUT)

        ok(stack("preview"), "preview of cutover (kill)")
        claim = f"/api/v1/namespaces/media/persistentvolumeclaims/{BAZARR_CLAIM}"
        # The provider creates with server-side apply: a PATCH of the named claim (not a dry run). Deleting
        # the old claim first (deleteBeforeReplace), it waits until the claim is gone: the hold is after it.
        hold = proxy.hold(Hold(method="PATCH", path=rf"^(?!.*dryRun){claim}\?", forward=False))
        up_killed_at(hold, full_env, logs, "cutover claim recreate")
        proxy.disarm()
        assert any(r.startswith(f"DELETE {claim}") for r in proxy.requests), proxy.requests[-40:]
        assert not _exists(kube, PersistentVolumeClaim, BAZARR_CLAIM, "media")

        pending = [
            (p["type"], p["resource"]["urn"]) for p in checkpoint(run_dir).get("pending_operations") or []
        ]
        assert [kind for kind, urn in pending if urn.endswith(f"-claim-{BAZARR_CLAIM}")] == ["creating"], (
            pending
        )
        locked = stack("preview")
        assert locked.returncode != 0, _out(locked)
        assert (
            locked.stderr.strip()
            .splitlines()[-1]
            .endswith("run `make recover` to clear the lock and settle what the update left pending")
        ), _out(locked)

        recover = stack("recover")
        ok(recover, "recover after the killed cutover")
        assert "cleared the stale lock of pid" in recover.stderr, _out(recover)
        cleared = [ln for ln in recover.stderr.splitlines() if "cleared (never happened" in ln]
        assert any(ln.endswith(f"media/{BAZARR_CLAIM}") for ln in cleared), _out(recover)

        left = stack("preview")
        (logs / "preview-after-kill.txt").write_text(left.stdout + "\n--- stderr\n" + left.stderr)
        shutil.copy(run_dir / "preview-events.jsonl", logs / "preview-after-kill-events.jsonl")
        ok(left, "preview of what the killed cutover left")
        assert "Verdict: ok to apply" in left.stdout, _out(left)
        # What is left, named: the claim (the old one awaits its replacement in the state), bazarr's
        # scale-up, and the staging objects cutover drops (their deletes run last in an update).
        claim_step, scale_step = f"bazarr-pilot-claim-{BAZARR_CLAIM}", "bazarr-pilot-scale-bazarr"
        assert (
            f"replace  kubernetes:core/v1:PersistentVolumeClaim monitoring-storage-{claim_step}"
            in left.stdout
        )
        assert f"update   kubernetes:apps/v1:DeploymentPatch monitoring-storage-{scale_step}" in left.stdout
        steps = _preview_steps(run_dir)
        assert {s for s in steps if s[0] != "delete"} == {
            ("replace", f"monitoring-storage-{claim_step}"),
            ("create-replacement", f"monitoring-storage-{claim_step}"),
            ("update", f"monitoring-storage-{scale_step}"),
        }, steps
        assert all("-staging-" in name for op, name in steps if op == "delete"), steps
    finally:
        (logs / "requests.log").write_text("\n".join(proxy.requests) + "\n")  # for a failure's reader
        proxy.close()


def _preview_steps(run_dir: Path) -> list[tuple[str, str]]:
    """(op, resource name) of every step the last preview planned, from its event log."""
    out = []
    for line in (run_dir / "preview-events.jsonl").read_text().splitlines():
        meta = json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
        if meta.get("op") not in (None, "same", "refresh"):
            out.append((meta["op"], meta["urn"].rsplit("::", 1)[-1]))
    return out


@pytest.mark.timeout(1800)  # fifteen previews and ups of the whole stack, and one bounded 120 s wait
def test_both_migrations_plan_to_cleanup_one_up_per_phase(own_cluster) -> None:
    env, kube, recorded, base = own_cluster
    run_dir = base / "run"
    run_dir.mkdir()
    stack = stack_runner(env, run_dir, recorded)
    # acceptDataLoss for one claim of monitoring: only that claim comes back empty.
    notes: dict[str, dict] = {"monitoring": {"acceptDataLoss": [LOST]}, "bazarr-pilot": {}}
    data = base / "stand-in-data"
    recorded_config = load_stack_file(recorded, today=TEST_TODAY)
    before = {c.key: kube.get(PersistentVolumeClaim, c.name, namespace=c.namespace).metadata.uid
              for m in recorded_config.storage.migrations for c in m.pvcs}  # fmt: skip
    for phase in PHASES:
        path = write_stack(recorded, base / f"Pulumi.{phase}.yaml", phase, notes)
        config = load_stack_file(path, today=TEST_TODAY)
        if phase == "copy":
            copy_fails_first(kube, stack, path, config, before)
            apiserver_restarts_while_copy_waits(kube, stack, env, path, config)
        if phase == "cutover":
            with csi_provisioner(env["K3S_HOME_CLUSTER_KUBECONFIG"], "longhorn-replicated") as provisioned:
                cutover_waits_for_a_pod_that_holds_a_claim(kube, stack, path, before)
                killed_while_bazarr_claim_is_recreated(kube, env, run_dir, path, base)
                phase_up(stack, path, phase)  # what the stopped and the killed cutover left converges
        else:
            phase_up(stack, path, phase)
        check_invariants(kube, config, phase)
        by_name = {m.name: m for m in config.storage.migrations}
        releases = sorted({c.owner.release for m in by_name.values() for c in m.pvcs})
        if phase == "copy":
            assert all(suspended(kube, r) for r in releases)
            # Loki's retention said Delete: its claim would have gone with the scale-down.
            loki = kube.get(StatefulSet, "loki", namespace="monitoring")
            assert loki.spec.persistentVolumeClaimRetentionPolicy.whenScaled == "Retain"
            storage = kube.get(PersistentVolumeClaim, "storage-loki-0", namespace="monitoring")
            assert (
                storage.status.phase == "Bound"
                and storage.metadata.uid == before["monitoring/storage-loki-0"]
            )
            for name, m in by_name.items():
                notes[name]["copied"] = operator_records(kube, m, "copy", data / name)
                notes[name]["scaledDownAt"] = T0.isoformat()
            assert LOST not in notes["monitoring"]["copied"]
            assert not _exists(
                kube,
                Job,
                job_name(by_name["monitoring"], by_name["monitoring"].claim(LOST), "copy"),
                "monitoring",
            )
        elif phase == "verify":
            for name, m in by_name.items():
                notes[name]["verified"] = operator_records(kube, m, "verify", data / name)
            refused_without_digest(kube, stack, recorded, base, notes, data, before)
        elif phase == "detach":
            for m in by_name.values():
                for ns in {c.namespace for c in m.pvcs}:
                    selector = {"k3s-home.fletcherlabs.net/migration": m.name}
                    jobs, pods = (
                        kube.list(Job, namespace=ns, labels=selector),
                        kube.list(Pod, namespace=ns, labels=selector),
                    )
                    assert list(jobs) == [] and list(pods) == [], phase
            assert all(suspended(kube, r) for r in releases)
        elif phase == "cutover":
            for m in by_name.values():
                for c in m.pvcs:
                    claim = kube.get(PersistentVolumeClaim, c.name, namespace=c.namespace)
                    assert claim.metadata.uid != before[c.key] and claim.status.phase == "Bound"
                    assert claim.spec.storageClassName == m.target_class
                    if m.loses(c):  # the accepted loss: a new, EMPTY volume from the provisioner
                        assert claim.spec.volumeName in provisioned
                        assert not _exists(kube, LonghornVolume, target_volume_name(m, c), "longhorn-system")
                    else:
                        assert claim.spec.volumeName == target_volume_name(m, c)
                        assert _exists(kube, LonghornVolume, target_volume_name(m, c), "longhorn-system")
                    old = kube.get(PersistentVolume, c.source.volume)
                    assert (
                        old.status.phase == "Released" and old.spec.persistentVolumeReclaimPolicy == "Retain"
                    )
            assert provisioned and len(provisioned) == 1  # only the accepted claim was provisioned empty
            assert all(suspended(kube, r) for r in releases)  # resumed only once the cutover is checked
            for name in MIGRATIONS:
                notes[name]["cutoverAt"] = T1.isoformat()
        elif phase == "cleanup":
            assert not any(suspended(kube, r) for r in releases)
            for m in by_name.values():
                for c in m.pvcs:
                    # The stack let go of the old PV; the object and its data stay.
                    assert kube.get(PersistentVolume, c.source.volume).status.phase == "Released"
    noop = stack(
        "preview", "--expect-no-changes", env={"K3S_HOME_STACK_CONFIG": str(path)}, timeout=UP_TIMEOUT
    )
    ok(noop, "the preview after cleanup")
    pilot_report_from_the_records(recorded, base, notes)


SIMULATED = (
    "Figures simulated: recorded on the embedded test cluster (KWOK nodes, no volume attached), from the "
    "copy script run on 90 MiB of stand-in data; the downtime window is the test's fixed T0 and T1"
)


def pilot_report_from_the_records(recorded: Path, base: Path, notes: dict[str, dict]) -> None:
    """`make pilot-report` (the module the Makefile runs, on this run's stack file) from the records the
    operator helper took: the copy's bytes, files and seconds, the window, the go/no-go result."""
    pilot = {**notes["bazarr-pilot"], "lessons": [SIMULATED]}
    path = write_stack(recorded, base / "Pulumi.report.yaml", "cleanup", {**notes, "bazarr-pilot": pilot})
    done = subprocess.run(
        [sys.executable, "-m", "components.storage.pilot_report", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    copied = notes["bazarr-pilot"]["copied"][BAZARR_CLAIM]
    assert (copied["bytes"], copied["files"]) == (sum(BAZARR_CONFIG.values()), len(BAZARR_CONFIG))
    assert copied["seconds"] > 0, copied
    (base / "pilot-report.md").write_text(done.stdout)
    report = done.stdout
    row = (
        f"| media/{BAZARR_CLAIM} | (static) 100Mi → longhorn-replicated 2Gi "
        f"| {copied['bytes']} | {copied['files']} | {copied['seconds']} | sha256:"
    )
    assert row in report, report
    assert f"Copy throughput: {copied['bytes'] / copied['seconds'] / MIB:.2f} MiB/s" in report, report
    assert "Downtime window (scale-down at copy → owners Ready after cutover): 12 min 00 s" in report
    assert "**Decision: GO** for the remaining migrations." in report, report
    assert f"- {SIMULATED}" in report


def _exists(kube: Client, res, name: str, namespace: str | None = None) -> bool:
    try:
        kube.get(res, name, namespace=namespace) if namespace else kube.get(res, name)
        return True
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
