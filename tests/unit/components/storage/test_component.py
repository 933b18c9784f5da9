"""MonitoringStorage under recording mocks: the class, the release values per phase, the alerts."""

from __future__ import annotations

import copy

import pytest

from components.config import StackConfig, load
from components.storage.alerts import RULE_NAME
from components.storage.component import MonitoringStorage
from components.storage.objects import helm_release, storage_values
from tests.conftest import TEST_TODAY

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")

HR = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
SC = "kubernetes:storage.k8s.io/v1:StorageClass"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
DIGEST = "sha256:" + "ef" * 32


def at(real_raw: dict, phase: str) -> StackConfig:
    raw = copy.deepcopy(real_raw)
    m = raw["storage"]["migrations"][0]
    names = [c["name"] for c in m["pvcs"]]
    m["phase"] = phase
    if phase in ("verify", "detach", "cutover", "cleanup"):
        m["copied"] = {n: {"bytes": 10, "seconds": 1.5} for n in names}
    if phase in ("detach", "cutover", "cleanup"):
        m["verified"] = {n: DIGEST for n in names}
    if phase == "cleanup":
        m["cutoverAt"] = "2025-06-15T12:00:00Z"
    return load(raw, today=TEST_TODAY)


def releases(record, config: StackConfig) -> dict[str, dict]:
    mocks = record(lambda: MonitoringStorage("monitoring-storage", config))
    return {
        f"{r.inputs['metadata']['namespace']}/{r.inputs['metadata']['name']}": r.inputs
        for r in mocks.of_type(HR)
    }


def test_storage_class_is_built_from_config(record, real_config) -> None:
    mocks = record(lambda: MonitoringStorage("monitoring-storage", real_config))
    sc = mocks.one(SC).inputs
    assert sc["metadata"]["name"] == "longhorn-replicated"
    assert sc["provisioner"] == "driver.longhorn.io"
    assert sc["parameters"] == {
        "numberOfReplicas": "3",
        "staleReplicaTimeout": "30",
        "dataLocality": "best-effort",
        "fsType": "ext4",
    }
    assert sc["reclaimPolicy"] == "Retain" and sc["allowVolumeExpansion"] is True


def test_plan_leaves_release_storage_on_the_live_class(record, real_config) -> None:
    """Before cutover the values keep local-path: a premature change fails the Flux upgrade (immutable)."""
    got = releases(record, real_config)
    kps = got["monitoring/kube-prometheus-stack"]["spec"]
    assert "suspend" not in kps  # the migration's own patch holds it (components/storage/patches.py)
    vct = kps["values"]["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert vct["storageClassName"] == "local-path" and vct["resources"]["requests"]["storage"] == "50Gi"
    assert "replicas" not in kps["values"]["prometheus"]["prometheusSpec"]
    assert (
        got["monitoring/loki"]["spec"]["values"]["singleBinary"]["persistence"]["storageClass"]
        == "local-path"
    )
    assert kps["chart"]["spec"]["sourceRef"] == {
        "kind": "HelmRepository",
        "name": "prometheus-community",
        "namespace": "flux-system",
    }


@pytest.mark.parametrize("phase", ["copy", "verify", "detach"])
def test_release_values_never_scale_or_suspend(record, real_raw, phase) -> None:
    """Scaling and suspending are patches of their own: the release object carries neither, in any phase
    (loki 5.42.0 cannot render 0 replicas, and a suspended release ignores its values anyway)."""
    got = releases(record, at(real_raw, phase))
    before = releases(record, at(real_raw, "plan"))
    assert got == before  # the phase changes nothing in any release object
    kps, loki = got["monitoring/kube-prometheus-stack"], got["monitoring/loki"]
    assert "suspend" not in kps["spec"] and "suspend" not in loki["spec"]
    v = kps["spec"]["values"]
    assert "replicas" not in v["prometheus"]["prometheusSpec"] and "replicas" not in v["grafana"]
    assert loki["spec"]["values"]["singleBinary"]["replicas"] == 1  # the Flux repo's value, untouched
    assert "annotations" not in kps["metadata"]
    # Bazarr's pilot is still at plan: its release is untouched.
    assert got["media/bazarr"]["spec"]["values"] == real_raw["storage"]["releases"][2]["values"]


@pytest.mark.parametrize("phase", ["cutover", "cleanup"])
def test_cutover_moves_the_values_to_the_new_class_but_not_lokis_template(record, real_raw, phase) -> None:
    got = releases(record, at(real_raw, phase))
    kps = got["monitoring/kube-prometheus-stack"]["spec"]
    assert "suspend" not in kps
    v = kps["values"]
    assert "replicas" not in v["prometheus"]["prometheusSpec"]
    # prometheus-operator recreates its StatefulSets for a new template; grafana's claim is no template.
    vct = v["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert vct["storageClassName"] == "longhorn-replicated"
    am = v["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert (am["storageClassName"], am["resources"]["requests"]["storage"]) == ("longhorn-replicated", "5Gi")
    assert v["grafana"]["persistence"] == {
        "enabled": True,
        "type": "pvc",
        "storageClassName": "longhorn-replicated",
        "size": "10Gi",
        "accessModes": ["ReadWriteOnce"],
    }
    # Loki's StatefulSet is Helm's own: its volumeClaimTemplates are immutable, so they stay as live and
    # storage-loki-0, recreated on the new volume under the template's name, is used as it is.
    assert got["monitoring/loki"]["spec"]["values"]["singleBinary"] == {
        "persistence": {"enabled": True, "storageClass": "local-path", "size": "10Gi"},
        "replicas": 1,
        # kept from the live values (clusters/k3s-home/apps/monitoring/loki/helm-release.yaml)
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
    }


def test_flux_repo_values_are_kept_under_ours(real_raw, real_config) -> None:
    raw = copy.deepcopy(real_raw)
    raw["storage"]["releases"][1]["values"] = {"loki": {"auth_enabled": False}, "singleBinary": {"foo": 1}}
    vals = storage_values(load(raw, today=TEST_TODAY).storage)["monitoring/loki"]
    assert vals["singleBinary"]["persistence"]["storageClass"] == "local-path"

    cfg = load(raw, today=TEST_TODAY).storage
    hr = helm_release(cfg, cfg.release("monitoring/loki"))
    assert hr["spec"]["values"]["loki"] == {"auth_enabled": False}
    assert hr["spec"]["values"]["singleBinary"]["foo"] == 1


def test_alerts_cover_the_directive_failure_conditions(record, real_config) -> None:
    mocks = record(lambda: MonitoringStorage("monitoring-storage", real_config))
    rule = mocks.one(RULE).inputs
    assert rule["metadata"] == {
        "name": RULE_NAME,
        "namespace": "monitoring",
        "labels": {"release": "kube-prometheus-stack"},
    }
    alerts = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    flux = alerts["FluxReconciliationFailing"]
    assert flux["for"] == "15m" and 'gotk_resource_info{ready="False"}' in flux["expr"]
    # Both Longhorn forms: the numeric one (< 1.11) and the per-state one (1.11+); promtool tests both.
    assert 'longhorn_volume_robustness{state=""} == 2' in alerts["LonghornVolumeDegraded"]["expr"]
    assert 'longhorn_volume_robustness{state="faulted"} == 1' in alerts["LonghornVolumeFaulted"]["expr"]
    assert (
        alerts["PersistentVolumeClaimLost"]["expr"]
        == 'kube_persistentvolumeclaim_status_phase{phase="Lost"} == 1'
    )
    bare = alerts["MonitoringWithoutPersistentStorage"]["expr"]
    assert "unless on (namespace, pod) kube_pod_spec_volumes_persistentvolumeclaims_info" in bare
    assert "(?:prometheus-kube-prometheus-stack-prometheus-[0-9]+)" in bare and "(?:loki-[0-9]+)" in bare
    assert (
        'storageclass!~"longhorn-replicated|longhorn-nvme|longhorn-optane"'
        in (alerts["MonitoringStorageNotApproved"]["expr"])
    )
    assert {a["labels"]["severity"] for a in alerts.values()} <= {"warning", "critical"}


def test_summary_exports_targets_and_timings(record, real_raw) -> None:
    holder = {}

    def run() -> None:
        holder["ms"] = MonitoringStorage("monitoring-storage", at(real_raw, "verify"))

    record(run)
    s = holder["ms"].summary
    assert s["targets"]["prometheus"] == {"storageClass": "local-path", "size": "50Gi"}
    assert s["timings"]["monitoring"]["storage-loki-0"] == {"bytes": 10, "seconds": 1.5, "files": 0}
    assert s["timings"]["bazarr-pilot"] == {}
    assert s["migrations"]["monitoring"]["phase"] == "verify"


def test_empty_storage_section_still_builds_the_class_and_alerts(record, real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    raw["storage"] = {}
    mocks = record(lambda: MonitoringStorage("monitoring-storage", load(raw, today=TEST_TODAY)))
    assert mocks.one(SC).inputs["reclaimPolicy"] == "Retain"
    assert mocks.of_type(HR) == []
    alerts = [r["alert"] for r in mocks.one(RULE).inputs["spec"]["groups"][0]["rules"]]
    # No kube-prometheus-stack release of ours, so nothing publishes gotk_resource_info: no Flux alert.
    assert alerts == [
        "LonghornVolumeDegraded",
        "LonghornVolumeFaulted",
        "PersistentVolumeClaimLost",
    ]


def test_releases_that_own_claims_are_protected(record, real_config, monkeypatch) -> None:
    """A delete of loki's release takes its claim along: the engine refuses it unless unprotected."""
    from components.storage import component

    seen: dict[str, bool] = {}
    real = component.register

    def spy(rname, obj, opts):
        if obj["kind"] == "HelmRelease":
            seen[f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"] = bool(opts.protect)
        return real(rname, obj, opts)

    monkeypatch.setattr(component, "register", spy)
    record(lambda: MonitoringStorage("monitoring-storage", real_config))
    assert {ref for ref, protected in seen.items() if protected} == set(real_config.storage.data_releases)
    assert {"monitoring/loki", "monitoring/kube-prometheus-stack", "media/bazarr"} <= set(seen)
