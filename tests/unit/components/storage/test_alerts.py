"""The storage failure-condition alerts, checked by promtool, and the Flux metrics they read."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from components.config import StackConfig
from components.storage import flux_metrics
from components.storage.alerts import prometheus_rule
from components.storage.objects import helm_release
from tests.conftest import TEST_TODAY
from tests.unit import promtool

TESTS = Path(__file__).with_name("alerts.test.yaml")


def _rules(config: StackConfig) -> list[dict]:
    return prometheus_rule(config.storage)["spec"]["groups"][0]["rules"]


def test_promtool_accepts_the_rule(real_config, tmp_path) -> None:
    out = promtool.check_rules(prometheus_rule(real_config.storage)["spec"]["groups"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 6 rules found" in out.stdout


def test_every_alert_fires_when_it_should_and_only_then(real_config, tmp_path) -> None:
    out = promtool.test_rules(prometheus_rule(real_config.storage)["spec"]["groups"], TESTS, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_the_unit_tests_cover_every_alert(real_config) -> None:
    assert promtool.alerts_tested(TESTS) == {r["alert"] for r in _rules(real_config)}


@pytest.mark.usefixtures("longhorn_deployed")  # a migration past plan: Longhorn must run
def test_config_values_are_quoted_for_promql(real_raw, tmp_path) -> None:
    from components.config import load

    raw = copy.deepcopy(real_raw)
    raw["storage"]["monitoring"]["loki"]["pods"] = r"loki-\d+"  # a backslash, as a user would write it
    out = promtool.check_rules(
        prometheus_rule(load(raw, today=TEST_TODAY).storage)["spec"]["groups"], tmp_path
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_flux_alert_reads_what_the_kube_prometheus_stack_values_publish(real_config) -> None:
    """gotk_resource_info exists only when kube-state-metrics is given Flux's custom resource state."""
    storage = real_config.storage
    kps = storage.monitoring.prometheus.release
    values = helm_release(storage, storage.release(kps))["spec"]["values"]["kube-state-metrics"]
    state = values["customResourceState"]
    assert state["enabled"] is True
    resources = state["config"]["spec"]["resources"]
    kinds = {r["groupVersionKind"]["kind"] for r in resources}
    assert {"Kustomization", "HelmRelease", "GitRepository", "HelmRepository", "OCIRepository"} <= kinds
    labels = set()
    for r in resources:
        (metric,) = r["metrics"]
        assert f"{r['metricNamePrefix']}_{metric['name']}" == flux_metrics.METRIC
        assert metric["each"]["type"] == "Info"
        labels |= set(metric["labelsFromPath"]) | set(metric["each"]["info"]["labelsFromPath"])
    # kube-state-metrics adds customresource_{group,version,kind} to every custom resource metric.
    labels |= {"customresource_group", "customresource_version", "customresource_kind"}
    flux = next(r for r in _rules(real_config) if r["alert"] == "FluxReconciliationFailing")
    assert flux["expr"].startswith(f"max by ({flux_metrics.KIND_LABEL}, exported_namespace, name) ")
    assert f'{flux_metrics.METRIC}{{ready="False"}}' in flux["expr"]
    assert {"customresource_kind", "exported_namespace", "name", "ready"} <= labels
    # kube-state-metrics may list and watch them, and keeps its default collectors (the other alerts).
    (rule,) = values["rbac"]["extraRules"]
    assert set(rule["verbs"]) == {"list", "watch"}
    assert {r["groupVersionKind"]["group"] for r in resources} == set(rule["apiGroups"])
    assert {"kustomizations", "helmreleases", "ocirepositories"} <= set(rule["resources"])
    assert "collectors" not in values and "extraArgs" not in values


def test_without_monitoring_targets_no_flux_alert_is_shipped(real_raw) -> None:
    from components.config import load

    raw = copy.deepcopy(real_raw)
    raw["storage"].pop("monitoring")
    raw["storage"]["migrations"] = []
    names = [r["alert"] for r in _rules(load(raw, today=TEST_TODAY))]
    # No kube-prometheus-stack release of ours publishes gotk_resource_info then.
    assert names == ["LonghornVolumeDegraded", "LonghornVolumeFaulted", "PersistentVolumeClaimLost"]
