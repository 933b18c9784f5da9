"""The migration's object graph against the real embedded kube-apiserver and kube-controller-manager.

The objects are the component's own (components.storage.phases.phase_objects over the real Bazarr pilot entry,
moved to a test namespace so nothing collides with a stack under test). They are applied in the order the
engine applies them, phase by phase, and the real PV controller does the binding: the claim recreated under
its original name must bind to the new PV, and the old PV must survive as Released with Retain.
There is no kubelet and no Longhorn: Jobs are created (schema check) but never run, volumes never attach.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim
from lightkube.resources.storage_v1 import StorageClass
from lightkube.types import CascadeType

from components.config import StackConfig, load
from components.config.migration import Migration
from components.storage.names import (
    job_name,
    script_config_map_name,
    staging_claim_name,
    staging_pv_name,
    target_volume_name,
)
from components.storage.objects import storage_class
from components.storage.phases import phase_objects
from rules.data_loss import Phase
from tests.conftest import TEST_TODAY
from tests.integration.lookup import get_or_none
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

NS = "k3s-home-migration-it"
SRC_PV = "pvc-k3s-home-migration-it-source"
MANAGER = "k3s-home-migration-test"
DIGEST = "sha256:" + "5" * 64


def at(real_raw: dict, phase: str) -> tuple[StackConfig, Migration]:
    """The real Bazarr pilot entry, in a test namespace, advanced to `phase` with its records filled in."""
    raw = copy.deepcopy(real_raw)
    m = next(x for x in raw["storage"]["migrations"] if x["name"] == "bazarr-pilot")
    m["name"] = "it-pilot"
    claim = m["pvcs"][0]
    claim["namespace"] = NS
    # A local-path source in the test namespace (the live pilot claim is NFS; its graph is the same).
    claim["name"] = "bazarr-config"
    claim["currentClass"] = "local-path"
    claim["accessModes"] = ["ReadWriteOnce"]
    claim["source"] = {
        "volume": SRC_PV,
        "reclaimPolicy": "Delete",
        "hostPath": f"/var/lib/rancher/k3s/storage/{SRC_PV}_{NS}_bazarr-config",
        "node": "k3s1",
    }
    rank = list(Phase).index(Phase(phase))
    m["phase"] = phase
    if rank >= 2:
        m["copied"] = {"bazarr-config": {"bytes": 1, "seconds": 1}}
    if rank >= 3:
        m["verified"] = {"bazarr-config": DIGEST}
    if rank >= 4:
        m["cutoverAt"] = "2025-06-15T10:00:00Z"
    config = load(raw, today=TEST_TODAY)
    return config, next(x for x in config.storage.migrations if x.name == "it-pilot")


def objects(config: StackConfig, m: Migration, kinds: tuple[str, ...]) -> list[dict]:
    return [p.obj for p in phase_objects(config.storage, m) if p.obj["kind"] in kinds and not p.patch]


def apply_patches(kube: Client, config: StackConfig, m: Migration, kinds: tuple[str, ...]) -> None:
    """The phase's patches of these kinds, each under its own field manager, as the provider applies them."""
    for p in phase_objects(config.storage, m):
        if p.patch and p.obj["kind"] in kinds:
            manager = p.obj["metadata"]["annotations"]["pulumi.com/patchFieldManager"]
            kube.apply(codecs.from_dict(p.obj), field_manager=manager, force=True)


def _gone(kube: Client, res: type, name: str, namespace: str | None = None) -> None:
    try:
        kube.delete(res, name, namespace=namespace) if namespace else kube.delete(res, name)
    except ApiError as err:
        if err.status.code != 404:
            raise
    until(f"{res.__name__} {name} to be deleted", lambda: get_or_none(kube, res, name, namespace) is None)


def _bound(kube: Client, name: str) -> Any:
    pvc = get_or_none(kube, PersistentVolumeClaim, name, NS)
    return pvc if pvc is not None and pvc.status and pvc.status.phase == "Bound" else None


def _cleanup(kube: Client, config: StackConfig, m: Migration) -> None:
    c = m.pvcs[0]
    for name in (job_name(m, c, "copy"), job_name(m, c, "verify")):
        try:
            kube.delete(Job, name, namespace=NS, cascade=CascadeType.FOREGROUND, grace_period=0)
        except ApiError as err:
            if err.status.code != 404:
                raise
    for name in (c.name, staging_claim_name(c)):
        _gone(kube, PersistentVolumeClaim, name, NS)
    for name in (SRC_PV, staging_pv_name(m, c), target_volume_name(m, c)):
        _gone(kube, PersistentVolume, name)
    _gone(kube, ConfigMap, script_config_map_name(m), NS)


@pytest.fixture(scope="module")
def migrated(kube: Client, real_raw_module: dict, longhorn_facts: str) -> Any:
    """Run plan -> copy -> cutover -> cleanup on the API server; record what each step left behind."""
    seen: dict[str, Any] = {}
    config, m = at(real_raw_module, "plan")
    c = m.pvcs[0]
    kube.apply(Namespace(metadata=ObjectMeta(name=NS)), field_manager=MANAGER)
    _cleanup(kube, config, m)
    sc = storage_class(config.storage)
    created_sc = get_or_none(kube, StorageClass, sc["metadata"]["name"]) is None
    if created_sc:
        kube.create(codecs.from_dict(sc))
    try:
        # plan: what local-path made, live; the plan phase adopts it unchanged.
        for obj in objects(config, m, ("PersistentVolume", "PersistentVolumeClaim")):
            kube.create(codecs.from_dict(obj))
        until("the live claim to bind its local-path PV", lambda: _bound(kube, c.name))
        seen["plan"] = kube.get(PersistentVolume, SRC_PV)

        # copy: the engine updates the source PV (Retain) and creates the staging objects and the Job.
        config, m = at(real_raw_module, "copy")
        apply_patches(kube, config, m, ("PersistentVolume",))  # Retain first
        for obj in objects(config, m, ("PersistentVolume", "PersistentVolumeClaim", "ConfigMap", "Job")):
            if obj["metadata"]["name"] == SRC_PV:
                continue  # the live PV is never changed itself (ignore_changes): only its Retain patch
            kube.apply(codecs.from_dict(obj), field_manager=MANAGER, force=True)
        seen["copy-staging"] = until("the staging claim to bind", lambda: _bound(kube, staging_claim_name(c)))
        seen["copy-source"] = kube.get(PersistentVolume, SRC_PV)
        seen["copy-job"] = kube.get(Job, job_name(m, c, "copy"), namespace=NS)
        kube.delete(Job, job_name(m, c, "copy"), namespace=NS, cascade=CascadeType.FOREGROUND, grace_period=0)
        until("the copy Job to go", lambda: get_or_none(kube, Job, job_name(m, c, "copy"), NS) is None)

        # cutover, in the engine's order: creates/updates (the claim with deleteBeforeReplace), then deletes.
        # (The Jobs went in detach; the source PV is unchanged, its Retain patch holds.)
        config, m = at(real_raw_module, "cutover")
        planned = {p.key: p.obj for p in phase_objects(config.storage, m)}
        kube.create(codecs.from_dict(planned[f"target-pv-{c.name}"]))
        seen["old-claim-uid"] = kube.get(PersistentVolumeClaim, c.name, namespace=NS).metadata.uid
        _gone(kube, PersistentVolumeClaim, c.name, NS)
        kube.create(codecs.from_dict(planned[f"claim-{c.name}"]))
        _gone(kube, PersistentVolumeClaim, staging_claim_name(c), NS)
        _gone(kube, PersistentVolume, staging_pv_name(m, c))
        seen["cutover-claim"] = until("the recreated claim to bind the new PV", lambda: _bound(kube, c.name))
        seen["cutover-target"] = until(
            "the new PV to be Bound",
            lambda: (
                (pv := kube.get(PersistentVolume, target_volume_name(m, c))).status.phase == "Bound" and pv
            ),
        )
        seen["cutover-source"] = until(
            "the old PV to be Released",
            lambda: (pv := kube.get(PersistentVolume, SRC_PV)).status.phase == "Released" and pv,
        )

        # cleanup: the source PV is no longer in the program; the engine deletes the object.
        config, m = at(real_raw_module, "cleanup")
        seen["cleanup-keys"] = {p.key for p in phase_objects(config.storage, m)}
        # The engine only forgets it (retainOnDelete): the PV object stays, Released, Retain.
        seen["cleanup-source"] = kube.get(PersistentVolume, SRC_PV)
        seen["cleanup-claim"] = _bound(kube, c.name)
        seen["m"] = m
        yield seen
    finally:
        _cleanup(kube, config, m)
        if created_sc:
            _gone(kube, StorageClass, sc["metadata"]["name"])
        kube.delete(Namespace, NS)


@pytest.fixture(scope="module")
def real_raw_module() -> dict:
    import yaml

    from tests.conftest import STACK_FILE

    doc = yaml.safe_load(STACK_FILE.read_text())
    return {k.removeprefix("k3s-home:"): v for k, v in doc["config"].items()}


def test_plan_objects_are_the_live_shape_and_bind(migrated) -> None:
    pv = migrated["plan"]
    assert pv.spec.persistentVolumeReclaimPolicy == "Delete"  # as the provisioner made it
    assert pv.spec.claimRef.name == "bazarr-config" and pv.spec.claimRef.namespace == NS
    assert pv.spec.storageClassName == "local-path"


def test_copy_sets_the_source_to_retain_and_binds_the_staging_claim(migrated) -> None:
    m = migrated["m"]
    c = m.pvcs[0]
    assert migrated["copy-source"].spec.persistentVolumeReclaimPolicy == "Retain"
    staging = migrated["copy-staging"]
    assert staging.spec.volumeName == staging_pv_name(m, c)
    assert staging.spec.storageClassName == "longhorn-replicated"
    job = migrated["copy-job"]
    pod = job.spec.template.spec
    assert pod.containers[0].securityContext.privileged is False
    assert pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey == (
        "kubernetes.io/hostname"
    )


def test_cutover_binds_the_original_name_to_the_new_pv(migrated) -> None:
    m = migrated["m"]
    c = m.pvcs[0]
    claim, pv = migrated["cutover-claim"], migrated["cutover-target"]
    assert claim.metadata.name == "bazarr-config"
    assert claim.metadata.uid != migrated["old-claim-uid"]
    assert claim.spec.volumeName == target_volume_name(m, c)
    assert claim.spec.storageClassName == "longhorn-replicated"
    assert pv.metadata.name == target_volume_name(m, c)
    assert pv.spec.claimRef.name == "bazarr-config" and pv.spec.claimRef.namespace == NS
    assert pv.spec.claimRef.uid == claim.metadata.uid  # the PV controller completed the pre-binding
    assert pv.spec.persistentVolumeReclaimPolicy == "Retain"
    assert pv.spec.csi.driver == "driver.longhorn.io" and pv.spec.csi.volumeHandle == target_volume_name(m, c)


def test_cutover_keeps_the_old_pv_released_with_retain(migrated) -> None:
    old = migrated["cutover-source"]
    assert old.status.phase == "Released"
    assert old.spec.persistentVolumeReclaimPolicy == "Retain"
    assert old.spec.claimRef.uid == migrated["old-claim-uid"]


def test_cleanup_lets_go_of_the_old_pv_only(migrated) -> None:
    c = migrated["m"].pvcs[0]
    assert f"source-pv-{c.name}" not in migrated["cleanup-keys"]
    old = migrated["cleanup-source"]
    assert old.status.phase == "Released" and old.spec.persistentVolumeReclaimPolicy == "Retain"
    assert {f"claim-{c.name}", f"target-pv-{c.name}", f"volume-{c.name}"} <= migrated["cleanup-keys"]
    claim = migrated["cleanup-claim"]
    assert claim is not None and claim.spec.volumeName == target_volume_name(migrated["m"], c)
