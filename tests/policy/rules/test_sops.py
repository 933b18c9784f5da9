"""sops-untouchable and usb-nic-monitoring: ownership rules, the selector comes from the stack config."""

from __future__ import annotations

from components.config import load
from rules.sops import sops_untouchable, usb_nic_monitoring
from tests.conftest import TEST_TODAY
from tests.policy.helpers import deployment, flux_kustomization, obj, run_rule, secret, verdict

USB = {"app.kubernetes.io/name": "usb-nic-monitor"}


def test_the_age_secret_is_untouchable(real_config):
    found = run_rule(sops_untouchable, secret("sops-age", "flux-system", **{"age.agekey": "x"}), real_config)
    assert verdict(found) == [("sops-untouchable", "mandatory")]


def test_other_secrets_in_flux_system_pass(real_config):
    assert run_rule(sops_untouchable, secret("github-token", "flux-system"), real_config) == []
    assert run_rule(sops_untouchable, secret("sops-age", "default"), real_config) == []


def test_flux_kustomization_decryption_is_untouchable(real_config):
    decryption = {"provider": "sops", "secretRef": {"name": "sops-age"}}
    found = run_rule(sops_untouchable, flux_kustomization(decryption=decryption), real_config)
    assert [f.path for f in found] == ["spec.decryption"]


def test_flux_kustomization_without_decryption_passes(real_config):
    assert run_rule(sops_untouchable, flux_kustomization(), real_config) == []


def test_kustomize_config_file_is_not_a_flux_kustomization(real_config):
    k = obj("Kustomization", "k", api="kustomize.config.k8s.io/v1beta1", spec={"decryption": {}})
    assert run_rule(sops_untouchable, k, real_config) == []


def test_age_secret_name_comes_from_config(real_raw):
    cfg = load(
        {**real_raw, "cluster": {**real_raw["cluster"], "sops": {"namespace": "sec", "ageSecret": "key"}}},
        today=TEST_TODAY,
    )
    assert verdict(run_rule(sops_untouchable, secret("key", "sec"), cfg)) == [
        ("sops-untouchable", "mandatory")
    ]
    assert run_rule(sops_untouchable, secret("sops-age", "flux-system"), cfg) == []


def test_object_with_the_monitor_labels_is_untouchable(real_config):
    monitor = obj("DaemonSet", "usb-nic-monitor", "monitoring", api="apps/v1", labels=USB)
    assert verdict(run_rule(usb_nic_monitoring, monitor, real_config)) == [
        ("usb-nic-monitoring", "mandatory")
    ]


def test_workload_whose_pods_look_like_the_monitor_is_untouchable(real_config):
    d = deployment(name="imposter", namespace="monitoring")
    d["spec"]["template"]["metadata"] = {"labels": {**USB, "extra": "1"}}
    assert [f.path for f in run_rule(usb_nic_monitoring, d, real_config)] == ["spec.template.metadata.labels"]


def test_network_policy_selecting_the_monitor_is_untouchable(real_config):
    deny_all = obj(
        "NetworkPolicy", "deny-all", "monitoring", api="networking.k8s.io/v1", spec={"podSelector": {}}
    )
    assert verdict(run_rule(usb_nic_monitoring, deny_all, real_config)) == [
        ("usb-nic-monitoring", "mandatory")
    ]
    grafana_only = obj(
        "NetworkPolicy", "g", "monitoring", api="networking.k8s.io/v1",
        spec={"podSelector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}}},
    )  # fmt: skip
    assert run_rule(usb_nic_monitoring, grafana_only, real_config) == []


def test_same_labels_in_another_namespace_pass(real_config):
    assert run_rule(usb_nic_monitoring, obj("ConfigMap", "c", "media", labels=USB), real_config) == []


def test_partial_label_match_and_missing_metadata_pass(real_config):
    partial = obj("ConfigMap", "c", "monitoring", labels={"app.kubernetes.io/name": "grafana"})
    assert run_rule(usb_nic_monitoring, partial, real_config) == []
    assert run_rule(usb_nic_monitoring, {"apiVersion": "v1", "kind": "ConfigMap"}, real_config) == []


def test_selector_comes_from_config(real_raw):
    usb = {"namespace": "netmon", "matchLabels": {"app": "nicwatch"}}
    cfg = load({**real_raw, "cluster": {**real_raw["cluster"], "usbNicMonitoring": usb}}, today=TEST_TODAY)
    watched = obj("Deployment", "w", "netmon", api="apps/v1", labels={"app": "nicwatch"})
    assert verdict(run_rule(usb_nic_monitoring, watched, cfg)) == [("usb-nic-monitoring", "mandatory")]
    old = obj("DaemonSet", "usb-nic-monitor", "monitoring", api="apps/v1", labels=USB)
    assert run_rule(usb_nic_monitoring, old, cfg) == []
