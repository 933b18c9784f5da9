"""VolumeMigration phase by phase, under recording mocks: what each `pulumi up` registers, and how.

The options (protect, retainOnDelete, import, deleteBeforeReplace) are read from what the component passes
to Pulumi, via a spy on `components.storage.migration.register`.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pulumi
import pytest

import components.storage.migration as migration
from components.config import StackConfig, load
from components.storage.jobs import SCRIPT
from components.storage.migration import VolumeMigration
from components.storage.names import job_name, staging_claim_name, staging_pv_name, target_volume_name
from components.storage.phases import phase_objects
from rules.data_loss import Phase
from tests.conftest import TEST_TODAY

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")

DIGEST = "sha256:" + "cd" * 32
PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
JOB = "kubernetes:batch/v1:Job"
CM = "kubernetes:core/v1:ConfigMap"
VOLUME = "kubernetes:longhorn.io/v1beta2:Volume"
SRC_PV = "bazarr-config-pv"  # the repo's static NFS volume
NAME = "bazarr"


def staged(
    real_raw: dict, phase: str, loss: list[str] | None = None, name: str = "bazarr-pilot"
) -> StackConfig:
    """The real config with migration `name` advanced to `phase`, its records filled as an operator would."""
    raw = copy.deepcopy(real_raw)
    m = next(x for x in raw["storage"]["migrations"] if x["name"] == name)
    claims = [c["name"] for c in m["pvcs"]]
    rank = list(Phase).index(Phase(phase))
    m["phase"] = phase
    m["acceptDataLoss"] = loss or []
    moved = [c for c in claims if c not in (loss or [])]
    if rank >= 2:
        m["copied"] = {c: {"bytes": 1_234_567, "files": 42, "seconds": 3.5} for c in moved}
    if rank >= list(Phase).index(Phase.DETACH):
        m["verified"] = {c: DIGEST for c in moved}
    if rank >= list(Phase).index(Phase.CLEANUP):
        m["cutoverAt"] = "2025-06-15T10:00:00Z"
    return load(raw, today=TEST_TODAY)


@pytest.fixture
def seen(monkeypatch) -> dict[str, pulumi.ResourceOptions]:
    options: dict[str, pulumi.ResourceOptions] = {}
    real = migration._register

    def spy(rname: str, planned, opts: pulumi.ResourceOptions):
        options[rname] = opts
        return real(rname, planned, opts)

    monkeypatch.setattr(migration, "_register", spy)
    return options


def deps(seen: dict[str, pulumi.ResourceOptions], key: str) -> set[str]:
    """The keys (without the component prefix) that resource `key` was registered to wait for."""
    return {r._name.removeprefix(f"{NAME}-") for r in seen[f"{NAME}-{key}"].depends_on or []}


def build(record, config: StackConfig, name: str = "bazarr-pilot"):
    m = next(x for x in config.storage.migrations if x.name == name)
    holder: dict[str, Any] = {}

    def run() -> None:
        holder["mig"] = VolumeMigration(NAME, config, m)

    mocks = record(run)
    return mocks, holder["mig"], m


def by_k8s_name(mocks, typ: str) -> dict[str, Any]:
    return {r.inputs["metadata"]["name"]: r for r in mocks.of_type(typ)}


# ---- plan ------------------------------------------------------------------------------------------------


def test_plan_adopts_the_live_objects_unchanged_and_nothing_else(record, seen, real_raw) -> None:
    mocks, _mig, _ = build(record, staged(real_raw, "plan"))
    pvs, claims = by_k8s_name(mocks, PV), by_k8s_name(mocks, PVC)
    assert set(pvs) == {SRC_PV} and set(claims) == {"bazarr-config-pvc"}
    assert not mocks.of_type(JOB) and not mocks.of_type(VOLUME) and not mocks.of_type(CM)
    pv = pvs[SRC_PV]
    assert (
        pv.inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    )  # as live (the repo's static PV): the import must match
    # As the Flux repo wrote it: a static NFS volume, no node affinity.
    assert pv.inputs["spec"]["nfs"] == {"server": "192.168.10.100", "path": "/mnt/nvme_storage/bazarr"}
    assert "nodeAffinity" not in pv.inputs["spec"]
    assert pv.options.resource_id == SRC_PV  # import
    claim = claims["bazarr-config-pvc"]
    assert claim.options.resource_id == "media/bazarr-config-pvc"
    assert claim.inputs["spec"]["storageClassName"] == ""  # a static volume: no class
    assert claim.inputs["spec"]["volumeName"] == SRC_PV
    for rname in (f"{NAME}-source-pv-bazarr-config-pvc", f"{NAME}-claim-bazarr-config-pvc"):
        assert seen[rname].protect is True and seen[rname].retain_on_delete is True
    assert not [r for r in mocks.resources if r.type.endswith("Patch")]  # nothing held yet


def test_plan_summary_says_exactly_what_copy_will_do(record, real_raw) -> None:
    _, mig, m = build(record, staged(real_raw, "plan"))
    c = m.pvcs[0]
    s = mig.summary
    assert s["phase"] == "plan" and s["nextPhase"] == "copy"
    assert s["applies"] == [
        f"adopt PV {SRC_PV} and PVC media/bazarr-config-pvc unchanged (import, protected)"
    ]
    assert s["next"][0] == f"set PV {SRC_PV} reclaimPolicy Retain (first)"
    assert f"Job {job_name(m, c, 'copy')} copies media/bazarr-config-pvc" in s["next"][1]
    assert s["next"][-2] == (
        "suspend HelmRelease media/bazarr (patch spec.suspend: true, manager k3s-home-bazarr-pilot-suspend)"
    )
    assert s["next"][-1] == (
        "scale Deployment media/bazarr to 0 (patch spec.replicas, manager k3s-home-bazarr-pilot-scale)"
    )
    assert s["claims"]["bazarr-config-pvc"]["targetVolume"] == target_volume_name(m, c)
    assert s["claims"]["bazarr-config-pvc"]["targetSize"] == "2Gi"


# ---- copy ------------------------------------------------------------------------------------------------


def test_copy_sets_retain_and_stages_a_copy(record, seen, real_raw) -> None:
    config = staged(real_raw, "copy")
    mocks, _mig, m = build(record, config)
    c = m.pvcs[0]
    vol, spv = target_volume_name(m, c), staging_pv_name(m, c)
    pvs, claims = by_k8s_name(mocks, PV), by_k8s_name(mocks, PVC)
    assert set(pvs) == {SRC_PV, spv}
    assert pvs[SRC_PV].inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"  # as imported
    # Retain is a patch of its own (the provisioner owns the field live), never relinquished.
    retain = mocks.one("kubernetes:core/v1:PersistentVolumePatch").inputs
    assert retain["metadata"]["name"] == SRC_PV and retain["spec"] == {
        "persistentVolumeReclaimPolicy": "Retain"
    }
    assert retain["metadata"]["annotations"]["pulumi.com/patchFieldManager"] == "k3s-home-bazarr-pilot-retain"
    assert seen[f"{NAME}-retain-pv-bazarr-config-pvc"].retain_on_delete is True
    # The staging PV: Longhorn CSI on the new volume, Retain, pre-bound to the staging claim.
    tpv = pvs[spv].inputs["spec"]
    assert tpv["persistentVolumeReclaimPolicy"] == "Retain"
    assert tpv["csi"]["driver"] == "driver.longhorn.io" and tpv["csi"]["volumeHandle"] == vol
    assert tpv["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "media",
        "name": "bazarr-config-pvc-migrated",
    }
    assert tpv["storageClassName"] == "longhorn-replicated" and tpv["capacity"] == {"storage": "2Gi"}
    staging = claims[staging_claim_name(c)].inputs
    assert staging["spec"]["volumeName"] == spv
    assert "annotations" not in staging["metadata"]  # awaited until Bound to its pre-bound PV
    # The live claim is still the adopted one, untouched and protected.
    assert claims["bazarr-config-pvc"].inputs["spec"]["volumeName"] == SRC_PV
    assert seen[f"{NAME}-claim-bazarr-config-pvc"].protect is True
    # The data's home is the protected Longhorn volume; the staging PV object is only a pointer.
    assert seen[f"{NAME}-volume-bazarr-config-pvc"].protect is True
    assert seen[f"{NAME}-staging-pv-bazarr-config-pvc"].protect is False
    volume = mocks.one(VOLUME).inputs
    assert volume["spec"]["numberOfReplicas"] == 3 and volume["spec"]["size"] == str(2 * 2**30)
    assert volume["metadata"]["namespace"] == "longhorn-system"
    # Retain comes first; then the release is suspended, the owner scaled to 0, and only then the copy runs.
    assert deps(seen, "retain-pv-bazarr-config-pvc") == {"source-pv-bazarr-config-pvc"}
    # The object never fights its patch: a refreshed preview must not plan the policy back.
    assert "spec.persistentVolumeReclaimPolicy" in seen[f"{NAME}-source-pv-bazarr-config-pvc"].ignore_changes
    assert deps(seen, "suspend-media-bazarr") == {"retain-pv-bazarr-config-pvc"}
    assert deps(seen, "scale-bazarr") == {"suspend-media-bazarr"}
    assert {"scale-bazarr", "staging-bazarr-config-pvc"} <= deps(seen, "copy-bazarr-config-pvc")


def test_copy_suspends_the_release_and_scales_with_patches_of_its_own(record, real_raw) -> None:
    mocks, _, _ = build(record, staged(real_raw, "copy"))
    hr = mocks.one("kubernetes:helm.toolkit.fluxcd.io/v2:HelmReleasePatch").inputs
    assert (hr["metadata"]["namespace"], hr["metadata"]["name"]) == ("media", "bazarr")
    assert hr["spec"] == {"suspend": True}
    dep = mocks.one("kubernetes:apps/v1:DeploymentPatch").inputs
    assert dep["metadata"]["name"] == "bazarr" and dep["spec"] == {"replicas": 0}
    managers = {
        r.inputs["metadata"]["annotations"]["pulumi.com/patchFieldManager"]
        for r in mocks.resources
        if r.type.endswith("Patch")
    }
    # One manager per patch: an apply names every field its manager owns, so a shared one would drop fields.
    assert managers == {
        "k3s-home-bazarr-pilot-retain",
        "k3s-home-bazarr-pilot-suspend",
        "k3s-home-bazarr-pilot-scale",
    }
    for r in mocks.resources:
        if r.type.endswith("Patch"):
            assert r.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"
    assert not mocks.of_type("kubernetes:apps/v1:StatefulSetPatch")  # a Deployment has no claim retention


def test_monitoring_copy_neutralises_claim_retention_before_scaling(record, real_raw) -> None:
    config = staged(real_raw, "copy", name="monitoring")
    m = config.storage.migrations[0]
    objs = {p.key: p for p in phase_objects(config.storage, m)}
    for owner in ("loki", "prometheus-kube-prometheus-stack-prometheus"):
        # Retain in the very apply that scales: the controller never sees 0 replicas with Delete.
        scale = objs[f"scale-{owner}"]
        assert scale.patch and scale.obj["spec"] == {
            "replicas": 0,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        }
    assert objs["scale-kube-prometheus-stack-grafana"].obj["spec"] == {"replicas": 0}  # a Deployment
    assert not [k for k in objs if k.startswith("retain-") and not k.startswith("retain-pv-")]
    # prometheus-operator would scale its StatefulSets back: its resources are held at 0 as well.
    cr = objs["scale-cr-prometheus-kube-prometheus-stack-prometheus"].obj
    assert (cr["kind"], cr["metadata"]["name"], cr["spec"]) == (
        "Prometheus",
        "kube-prometheus-stack-prometheus",
        {"replicas": 0},
    )
    assert objs["scale-cr-alertmanager-kube-prometheus-stack-alertmanager"].obj["kind"] == "Alertmanager"
    assert "scale-cr-loki" not in objs
    suspended = {p.obj["metadata"]["name"] for p in objs.values() if p.key.startswith("suspend-")}
    assert suspended == {"kube-prometheus-stack", "loki"}
    mocks, _, _ = build(record, config, name="monitoring")
    assert len(mocks.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusPatch")) == 1
    assert len(mocks.of_type("kubernetes:apps/v1:StatefulSetPatch")) == 3  # one patch per StatefulSet


def test_copy_job_runs_the_tested_script_beside_no_owner_pod(record, seen, real_raw) -> None:
    mocks, _, m = build(record, staged(real_raw, "copy"))
    assert seen[f"{NAME}-copy-bazarr-config-pvc"].delete_before_replace is True  # fixed name
    c = m.pvcs[0]
    job = mocks.one(JOB).inputs
    assert job["metadata"]["name"] == job_name(m, c, "copy")
    notes = job["metadata"]["annotations"]
    assert "pulumi.com/skipAwait" not in notes  # up waits for the copy: a failed copy fails the up
    assert notes["pulumi.com/deletionPropagationPolicy"] == "foreground"  # gone only with its pods
    assert notes["pulumi.com/replaceUnready"] == "true"  # a failed copy is run again by the next up
    pod = job["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    assert ctr["image"] == "docker.io/library/python:3.12.11-alpine3.22"
    assert ctr["command"] == ["python3", "/scripts/copy_verify.py", "copy", "/src", "/dst", "--settle", "30"]
    assert ctr["securityContext"]["privileged"] is False
    assert ctr["securityContext"]["capabilities"]["drop"] == ["ALL"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["src"]["persistentVolumeClaim"] == {"claimName": "bazarr-config-pvc", "readOnly": True}
    assert vols["dst"]["persistentVolumeClaim"] == {"claimName": "bazarr-config-pvc-migrated"}
    term = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "bazarr"}
    assert term["topologyKey"] == "kubernetes.io/hostname"
    cm = mocks.one(CM).inputs
    assert cm["metadata"]["name"] == vols["scripts"]["configMap"]["name"]
    assert cm["data"]["copy_verify.py"] == SCRIPT.read_text()  # the same file the tests run


# ---- verify ----------------------------------------------------------------------------------------------


def test_verify_adds_the_verify_job_and_keeps_everything_else(record, seen, real_raw) -> None:
    mocks, mig, m = build(record, staged(real_raw, "verify"))
    c = m.pvcs[0]
    jobs = by_k8s_name(mocks, JOB)
    assert set(jobs) == {job_name(m, c, "copy"), job_name(m, c, "verify")}
    verify = jobs[job_name(m, c, "verify")].inputs["spec"]
    assert verify["backoffLimit"] == 0
    ctr = verify["template"]["spec"]["containers"][0]
    assert ctr["command"] == ["python3", "/scripts/copy_verify.py", "verify", "/src", "/dst"]
    assert all(v["readOnly"] for v in ctr["volumeMounts"])
    # Still the only verified-unrecorded copy: protected until detach.
    assert seen[f"{NAME}-claim-bazarr-config-pvc"].protect is True
    assert seen[f"{NAME}-source-pv-bazarr-config-pvc"].protect is True
    assert mig.summary["timings"] == {"bazarr-config-pvc": {"bytes": 1_234_567, "seconds": 3.5, "files": 42}}
    assert mocks.one("kubernetes:apps/v1:DeploymentPatch").inputs["spec"] == {"replicas": 0}


# ---- detach ----------------------------------------------------------------------------------------------


def test_detach_deletes_the_jobs_and_nothing_else(record, seen, real_raw) -> None:
    """An `up` of its own: the Jobs (and, by foreground deletion, their pods) go before claims change."""
    mocks, mig, m = build(record, staged(real_raw, "detach"))
    assert not mocks.of_type(JOB) and not mocks.of_type(CM)
    claims = by_k8s_name(mocks, PVC)
    assert set(claims) == {"bazarr-config-pvc", staging_claim_name(m.pvcs[0])}
    assert claims["bazarr-config-pvc"].inputs["spec"]["volumeName"] == SRC_PV  # not replaced yet
    # Unprotected now so that cutover may replace it; its PV is Retain and its copy verified and recorded.
    assert seen[f"{NAME}-claim-bazarr-config-pvc"].protect is False
    assert mocks.one("kubernetes:apps/v1:DeploymentPatch").inputs["spec"] == {"replicas": 0}
    assert mocks.one("kubernetes:helm.toolkit.fluxcd.io/v2:HelmReleasePatch").inputs["spec"] == {
        "suspend": True
    }
    assert any(a.startswith("delete Jobs") for a in mig.summary["applies"])


# ---- cutover ---------------------------------------------------------------------------------------------


def test_cutover_binds_the_original_name_to_the_new_volume(record, seen, real_raw) -> None:
    mocks, _mig, m = build(record, staged(real_raw, "cutover"))
    c = m.pvcs[0]
    vol = target_volume_name(m, c)
    pvs, claims = by_k8s_name(mocks, PV), by_k8s_name(mocks, PVC)
    assert set(claims) == {"bazarr-config-pvc"}  # staging claim gone
    claim = claims["bazarr-config-pvc"].inputs
    assert claim["spec"]["volumeName"] == vol
    assert claim["spec"]["storageClassName"] == "longhorn-replicated"
    assert claim["spec"]["resources"] == {"requests": {"storage": "2Gi"}}
    assert set(pvs) == {SRC_PV, vol}  # the staging PV object is gone, a fresh one carries the claimRef
    assert pvs[vol].inputs["spec"]["csi"]["volumeHandle"] == vol
    assert "uid" not in pvs[vol].inputs["spec"]["claimRef"]
    assert seen[f"{NAME}-target-pv-bazarr-config-pvc"].protect is True
    assert pvs[vol].inputs["spec"]["claimRef"]["name"] == "bazarr-config-pvc"
    assert pvs[vol].inputs["spec"]["claimRef"]["namespace"] == "media"
    assert pvs[SRC_PV].inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    # Whatever follows, the stack never deletes the old PV object: cleanup only lets go of it.
    assert seen[f"{NAME}-source-pv-bazarr-config-pvc"].retain_on_delete is True
    opts = seen[f"{NAME}-claim-bazarr-config-pvc"]
    assert opts.delete_before_replace is True and opts.protect is True and opts.retain_on_delete is True
    assert opts.import_ is None
    assert not mocks.of_type(JOB)
    # No pod may use the claim when it is replaced: a bounded check first, then the claim, then the owner.
    check = mocks.one("pulumi-python:dynamic/k3s-home:ClaimFree").inputs
    assert (check["namespace"], check["claim"]) == ("media", "bazarr-config-pvc")
    assert "free-bazarr-config-pvc" in deps(seen, "claim-bazarr-config-pvc")
    assert "claim-bazarr-config-pvc" in deps(seen, "scale-bazarr")
    assert mocks.one("kubernetes:apps/v1:DeploymentPatch").inputs["spec"] == {"replicas": 1}
    # The release is resumed only after the cutover is checked (cleanup).
    assert mocks.one("kubernetes:helm.toolkit.fluxcd.io/v2:HelmReleasePatch").inputs["spec"] == {
        "suspend": True
    }


def test_grafana_claim_keeps_helm_ownership_when_recreated(record, real_raw) -> None:
    mocks, _, _ = build(record, staged(real_raw, "cutover", name="monitoring"), name="monitoring")
    grafana = by_k8s_name(mocks, PVC)["kube-prometheus-stack-grafana"].inputs["metadata"]
    assert grafana["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert grafana["annotations"]["meta.helm.sh/release-name"] == "kube-prometheus-stack"
    assert grafana["annotations"]["meta.helm.sh/release-namespace"] == "monitoring"


# ---- cleanup ---------------------------------------------------------------------------------------------


def test_cleanup_drops_only_the_old_pv(record, seen, real_raw) -> None:
    mocks, _, m = build(record, staged(real_raw, "cleanup"))
    vol = target_volume_name(m, m.pvcs[0])
    assert set(by_k8s_name(mocks, PV)) == {vol}
    assert set(by_k8s_name(mocks, PVC)) == {"bazarr-config-pvc"}
    assert seen[f"{NAME}-target-pv-bazarr-config-pvc"].protect is True
    resume = mocks.one("kubernetes:helm.toolkit.fluxcd.io/v2:HelmReleasePatch").inputs
    assert resume["spec"] == {"suspend": False}
    assert "claim-bazarr-config-pvc" in deps(seen, "suspend-media-bazarr")
    assert mocks.one("kubernetes:apps/v1:DeploymentPatch").inputs["spec"] == {"replicas": 1}
    assert not mocks.of_type("pulumi-python:dynamic/k3s-home:ClaimFree")


# ---- across phases ---------------------------------------------------------------------------------------

DATA = ("source-pv-", "claim-", "volume-", "target-pv-", "staging-")


def _data_keys(config: StackConfig, phase: Phase) -> set[str]:
    m = config.storage.migrations[0]
    return {p.key for p in phase_objects(config.storage, m, phase) if p.key.startswith(DATA)}


def test_no_phase_before_cleanup_drops_data_bearing_objects_except_the_staging_claim(real_raw) -> None:
    config = staged(real_raw, "cleanup", name="monitoring")
    phases = list(Phase)
    for before, after in itertools.pairwise(phases):
        dropped = _data_keys(config, before) - _data_keys(config, after)
        if after is Phase.CUTOVER:
            # Staging claim and staging PV object are pointers; the Longhorn volume (protected) stays.
            assert dropped and all(k.startswith("staging-") for k in dropped), dropped
        elif after is Phase.CLEANUP:
            assert dropped and all(k.startswith("source-pv-") for k in dropped), dropped
        else:
            assert dropped == set(), (before, after, dropped)


def test_only_the_source_pvs_and_claims_are_imported(real_raw) -> None:
    config = staged(real_raw, "verify", name="monitoring")
    m = config.storage.migrations[0]
    imported = {p.key: p.import_id for p in phase_objects(config.storage, m) if p.import_id}
    assert imported == {
        **{f"source-pv-{c.name}": c.source.volume for c in m.pvcs},
        **{f"claim-{c.name}": c.key for c in m.pvcs},
    }


# ---- the directive's path, only when acknowledged --------------------------------------------------------


def test_accept_data_loss_is_loud_and_recreates_an_empty_claim(record, real_raw, monkeypatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    config = staged(real_raw, "cutover", loss=["storage-loki-0"], name="monitoring")
    mocks, mig, _ = build(record, config, name="monitoring")
    assert len(warnings) == 1 and warnings[0].startswith("DATA LOSS ACCEPTED in migration 'monitoring'")
    assert "storage-loki-0" in warnings[0]
    loki = by_k8s_name(mocks, PVC)["storage-loki-0"].inputs
    assert "volumeName" not in loki["spec"]  # dynamically provisioned: empty
    assert loki["spec"]["storageClassName"] == "longhorn-replicated"
    # Its old PV is kept (Retain) until cleanup even on this path; the others still moved their data.
    assert "pvc-5e92b1d8-6c0a-4e7f-b3d4-1a8c6f2e9b05" in by_k8s_name(mocks, PV)
    assert by_k8s_name(mocks, PVC)["kube-prometheus-stack-grafana"].inputs["spec"]["volumeName"]
    assert mig.summary["acceptDataLoss"] == ["storage-loki-0"]
    assert any(
        "DATA LOSS ACCEPTED: replace PVC monitoring/storage-loki-0" in a for a in mig.summary["applies"]
    )


def test_without_acknowledgement_nothing_warns(record, real_raw, monkeypatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warnings.append(msg))
    build(record, staged(real_raw, "cutover", name="monitoring"), name="monitoring")
    assert warnings == []
