"""rules.storage: compliant, non-compliant, missing property and config override; data-bearing kinds."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from components.storage.objects import helm_release as component_release
from components.storage.phases import phase_objects
from rules.registry import BY_ID
from rules.storage import class_problem, storage_class_rule
from tests.conftest import TEST_TODAY
from tests.policy.helpers import helm_release, obj, run_rule, verdict

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")

MANDATORY = [("storage-class", "mandatory")]
ADVISORY = [("storage-class", "advisory")]


def pvc(cls: str | None, name: str = "data", namespace: str = "media") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return obj("PersistentVolumeClaim", name, namespace, spec=spec)


def statefulset(*classes: str | None) -> dict:
    templates = [
        {"metadata": {"name": f"vol{i}"}, "spec": {**({"storageClassName": c} if c is not None else {})}}
        for i, c in enumerate(classes)
    ]
    return obj("StatefulSet", "db", "media", api="apps/v1", spec={"volumeClaimTemplates": templates})


def test_rule_is_registered() -> None:
    assert BY_ID["storage-class"].check is storage_class_rule


def test_class_problem_is_the_one_wording() -> None:
    approved = ["longhorn-replicated", "longhorn-nvme"]
    assert class_problem("longhorn-nvme", approved) is None
    assert class_problem("local-path", approved) == (
        "uses storage class 'local-path'; use longhorn-replicated or an approved alternative (longhorn-nvme)"
    )
    assert class_problem("", ["longhorn-replicated"]) == (
        "names no storage class, so it gets the cluster default (local-path); "
        "use longhorn-replicated or an approved alternative (none)"
    )


@pytest.mark.parametrize("cls", ["longhorn-replicated", "longhorn-nvme", "longhorn-optane"])
def test_claim_on_an_approved_class_passes(real_config, cls: str) -> None:
    assert run_rule(storage_class_rule, pvc(cls), real_config) == []


def test_claim_on_local_path_is_mandatory(real_config) -> None:
    [finding] = run_rule(storage_class_rule, pvc("local-path"), real_config)
    assert verdict([finding]) == MANDATORY
    assert finding.message == (
        "PersistentVolumeClaim media/data: the claim uses storage class 'local-path'; "
        "use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
    )
    assert finding.path == "spec.storageClassName"


def test_claim_without_a_class_gets_the_default_and_is_reported(real_config) -> None:
    [finding] = run_rule(storage_class_rule, pvc(None), real_config)
    assert verdict([finding]) == MANDATORY
    assert "names no storage class, so it gets the cluster default (local-path)" in finding.message


def test_statefulset_templates_each_checked(real_config) -> None:
    findings = run_rule(
        storage_class_rule, statefulset("longhorn-replicated", "local-path", None), real_config
    )
    assert [f.path for f in findings] == [
        "spec.volumeClaimTemplates[1].spec.storageClassName",
        "spec.volumeClaimTemplates[2].spec.storageClassName",
    ]
    assert "volumeClaimTemplate vol1 uses storage class 'local-path'" in findings[0].message


def test_helm_values_at_any_depth_and_both_key_spellings(real_config) -> None:
    values = {
        "grafana": {"persistence": {"enabled": True, "storageClassName": "local-path"}},
        "singleBinary": {"persistence": {"storageClass": "longhorn-replicated"}},
        "deep": {"a": [{"b": {"storageClass": "nfs"}}]},
        "empty": {"storageClass": ""},
        "notAClass": {"storageClass": {"name": "x"}},  # a mapping, not a class name
    }
    findings = run_rule(storage_class_rule, helm_release(values, name="kps", namespace="apps"), real_config)
    assert sorted(f.path for f in findings) == [
        "spec.values.deep.a[0].b.storageClass",
        "spec.values.empty.storageClass",
        "spec.values.grafana.persistence.storageClassName",
    ]
    assert verdict(findings) == MANDATORY * 3


def test_other_kinds_are_ignored(real_config) -> None:
    cm = obj("ConfigMap", "x", "media", data={"storageClassName": "local-path"})
    assert run_rule(storage_class_rule, cm, real_config) == []


def test_config_override_adds_an_approved_class(real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    raw["storage"]["approvedClasses"] = ["longhorn-nvme", "longhorn-optane", "longhorn-archive"]
    assert run_rule(storage_class_rule, pvc("longhorn-archive"), load(raw, today=TEST_TODAY)) == []
    assert (
        verdict(run_rule(storage_class_rule, pvc("longhorn-archive"), load(real_raw, today=TEST_TODAY)))
        == MANDATORY
    )


def test_claims_and_releases_under_a_pending_migration_are_advisory(real_config, real_raw) -> None:
    """Known and planned: visible in review, but they must not block the migration that fixes them."""
    [finding] = run_rule(storage_class_rule, pvc("local-path", "bazarr-config-pvc"), real_config)
    assert verdict([finding]) == ADVISORY
    assert finding.message.endswith("; migration bazarr-pilot (phase plan)")
    storage = real_config.storage
    release = component_release(storage, storage.release("monitoring/kube-prometheus-stack"))
    findings = run_rule(storage_class_rule, release, real_config)
    assert len(findings) == 3 and verdict(findings) == ADVISORY * 3
    # After cutover the same local-path claim is mandatory again.
    raw = copy.deepcopy(real_raw)
    b = raw["storage"]["migrations"][1]
    b.update(
        phase="cutover",
        copied={"bazarr-config-pvc": {"bytes": 1, "seconds": 1}},
        verified={"bazarr-config-pvc": "sha256:" + "0" * 64},
    )
    assert (
        verdict(
            run_rule(storage_class_rule, pvc("local-path", "bazarr-config-pvc"), load(raw, today=TEST_TODAY))
        )
        == MANDATORY
    )


def test_the_migration_objects_pass_the_rule(real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    m = raw["storage"]["migrations"][0]
    names = [c["name"] for c in m["pvcs"]]
    m.update(
        phase="cutover",
        copied={n: {"bytes": 1, "seconds": 1} for n in names},
        verified={n: "sha256:" + "1" * 64 for n in names},
    )
    config = load(raw, today=TEST_TODAY)
    objs = [p.obj for p in phase_objects(config.storage, config.storage.migrations[0])]
    claims = [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert len(claims) == 4
    for o in claims:
        assert run_rule(storage_class_rule, o, config) == []
    for release in config.storage.releases:
        found = run_rule(storage_class_rule, component_release(config.storage, release), config)
        if release.ref == "monitoring/loki":
            # Loki's own StatefulSet template stays as live (immutable); only said, never blocking.
            (f,) = found
            assert f.severity == "advisory" and f.path == "spec.values.singleBinary.persistence.storageClass"
            assert "template of StatefulSet loki kept, claim storage-loki-0 moved" in f.message
        elif release.ref.startswith("monitoring/"):
            assert found == []
