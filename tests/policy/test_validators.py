"""The CrossGuard adapters, called with constructed validation args (never through the PolicyPack).

Each policy: a compliant object, a non-compliant one, a missing property and a config override.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, Secret, StackValidationPolicy
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from components.config import ConfigError
from policy import validators as v
from rules.registry import RULE_DOCS
from tests.policy.helpers import (
    APPROVED,
    UNKNOWN,
    configmap,
    container,
    deployment,
    flux_kustomization,
    helm_release,
    obj,
    resource_args,
    run_policy,
    secret,
    stack_args,
)

POLICIES = {p.name: p for p in v.policies()}
STACK_FILE = Path(__file__).resolve().parents[2] / "Pulumi.k3s-home.yaml"
USB = {"app.kubernetes.io/name": "usb-nic-monitor"}


def policy(name: str):
    return POLICIES[name]


def check(name: str, o: dict, **kw):
    p = policy(name)
    args = stack_args(o, **kw) if isinstance(p, StackValidationPolicy) else resource_args(o, **kw)
    return run_policy(p, args)


def pvc(storage_class: str | None, name="data", namespace="media") -> dict:
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return obj("PersistentVolumeClaim", name, namespace, spec=spec)


def gpu_deployment(namespace: str, priority_class: str | None) -> dict:
    c = container("ollama")
    c["resources"] = {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}}
    pod = {"priorityClassName": priority_class} if priority_class else {}
    return deployment(c, name="ollama", namespace=namespace, **pod)


def quota(namespace: str, hard: dict) -> dict:
    return obj("ResourceQuota", "gpu-quota", namespace, spec={"hard": hard})


def blueprint(entries: list[dict]) -> dict:
    text = yaml.safe_dump({"version": 1, "metadata": {"name": "bp"}, "entries": entries})
    return configmap("blueprints", "authentik", **{"bp.yaml": text})


MFA_ENTRY = {
    "model": "authentik_stages_authenticator_validate.authenticatorvalidatestage",
    "identifiers": {"name": "default-authentication-mfa-validation"},
    "attrs": {"not_configured_action": "configure"},
}
# The stack pins authentik 2023.10.7 (facts): redirect URIs are one string of regex lines, and providers
# have no invalidation flow. The 2024.10.3+ form is the defect there.
PINNED_PROVIDER = {
    "model": "authentik_providers_oauth2.oauth2provider",
    "identifiers": {"name": "grafana"},
    "attrs": {
        "name": "grafana",
        "authorization_flow": "flow-a",
        "redirect_uris": "https://grafana\\.fletcherlabs\\.net/login/generic_oauth",
    },
}
NEWER_PROVIDER = {
    **PINNED_PROVIDER,
    "attrs": {
        "name": "grafana",
        "authorization_flow": "flow-a",
        "invalidation_flow": "flow-b",
        "redirect_uris": [
            {"matching_mode": "strict", "url": "https://grafana.fletcherlabs.net/login/generic_oauth"}
        ],
    },
}


# --- the pack's shape ---------------------------------------------------------------------------------


def test_every_rule_has_a_mandatory_policy_and_an_advisory_twin():
    enforced = set(RULE_DOCS) - {"data-loss"}  # data loss is the review gate's, CrossGuard sees no operations
    assert set(POLICIES) == enforced | {f"{r}-advisory" for r in enforced}
    for name, p in POLICIES.items():
        want = EnforcementLevel.ADVISORY if name.endswith("-advisory") else EnforcementLevel.MANDATORY
        assert p.enforcement_level is want, name
        assert set(p.config_schema.properties) == {"stackConfig", "overrides"}


def test_stack_rules_are_stack_policies():
    assert isinstance(policy("gpu-oversubscription"), StackValidationPolicy)
    assert isinstance(policy("privileged-container"), ResourceValidationPolicy)


def test_non_kubernetes_resources_are_ignored():
    args = resource_args({"length": 32}, token="random:index/randomPassword:RandomPassword")
    assert run_policy(policy("secret-plaintext"), args).passed


def test_component_and_list_types_are_ignored():
    d = deployment(container(privileged=True))
    for token in (
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:helm.sh/v4:Chart",
        "kubernetes:apps/v1:DeploymentList",
    ):
        assert run_policy(policy("privileged-container"), resource_args(d, token=token)).passed


# --- privileged-container ----------------------------------------------------------------------------


def test_privileged_compliant():
    assert check("privileged-container", deployment(container(privileged=False))).passed


def test_privileged_non_compliant():
    result = check("privileged-container", deployment(container(privileged=True)))
    assert len(result.violations) == 1 and "containers[0].securityContext.privileged" in result.violations[0]


def test_privileged_missing_security_context():
    assert check("privileged-container", deployment(container())).passed


def test_privileged_with_named_approval():
    assert check("privileged-container", deployment(container(privileged=True), annotations=APPROVED)).passed


def test_privileged_unknown_during_preview_is_not_a_verdict():
    d = deployment(
        container(privileged=True), annotations={"k3s-home.fletcherlabs.net/cio-approval": "pending"}
    )
    result = check(
        "privileged-container",
        d,
        unknowns=[("metadata", "annotations", "k3s-home.fletcherlabs.net/cio-approval")],
    )
    assert result.unknown and not result.violations


def test_helm_sh_release_values_are_checked_like_a_helm_release():
    release = {"name": "agent", "namespace": "kube-system", "chart": "agent", "values": {"privileged": True}}
    result = run_policy(
        policy("privileged-container"), resource_args(release, token="kubernetes:helm.sh/v3:Release")
    )
    assert len(result.violations) == 1 and "spec.values.privileged" in result.violations[0]


def test_bad_stack_config_path_fails_loudly(tmp_path):
    with pytest.raises(FileNotFoundError):
        check("privileged-container", deployment(), config={"stackConfig": str(tmp_path / "missing.yaml")})


def test_invalid_override_fails_with_one_line():
    with pytest.raises(ConfigError, match=r"^k3s-home:cluster\.usbNicMonitoring\.matchLabels"):
        check(
            "privileged-container",
            deployment(),
            config={"overrides": {"cluster": {"usbNicMonitoring": {"matchLabels": {}}}}},
        )


# --- sops-untouchable --------------------------------------------------------------------------------


def test_sops_compliant():
    assert check("sops-untouchable", secret("github-token", "flux-system")).passed


def test_sops_age_key_non_compliant():
    assert check("sops-untouchable", secret("sops-age", "flux-system")).violations


def test_sops_kustomization_without_decryption_passes():
    assert check("sops-untouchable", flux_kustomization()).passed
    assert check("sops-untouchable", flux_kustomization(decryption={"provider": "sops"})).violations


def test_sops_override_via_stack_config_file(tmp_path):
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:cluster"]["sops"] = {"namespace": "secrets", "ageSecret": "age-key"}
    other = tmp_path / "Pulumi.other.yaml"
    other.write_text(yaml.safe_dump(doc))
    config = {"stackConfig": str(other)}
    assert check("sops-untouchable", secret("age-key", "secrets"), config=config).violations
    assert check("sops-untouchable", secret("sops-age", "flux-system"), config=config).passed


def test_the_pack_judges_the_variant_being_previewed(tmp_path, monkeypatch):
    """The driver exports K3S_HOME_STACK_CONFIG for a variant; the pack used to read the committed file."""
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:cluster"]["sops"] = {"namespace": "secrets", "ageSecret": "age-key"}
    variant = tmp_path / "Pulumi.variant.yaml"
    variant.write_text(yaml.safe_dump(doc))
    assert check("sops-untouchable", secret("age-key", "secrets")).passed
    monkeypatch.setenv("K3S_HOME_STACK_CONFIG", str(variant))
    assert check("sops-untouchable", secret("age-key", "secrets")).violations


# --- usb-nic-monitoring ------------------------------------------------------------------------------


def test_usb_nic_compliant():
    assert check(
        "usb-nic-monitoring", obj("ConfigMap", "grafana", "monitoring", labels={"app": "grafana"})
    ).passed


def test_usb_nic_non_compliant():
    assert check(
        "usb-nic-monitoring", obj("DaemonSet", "m", "monitoring", api="apps/v1", labels=USB)
    ).violations


def test_usb_nic_missing_metadata():
    assert check("usb-nic-monitoring", {"apiVersion": "v1", "kind": "ConfigMap"}).passed


def test_usb_nic_selector_override():
    config = {
        "overrides": {"cluster": {"usbNicMonitoring": {"namespace": "net", "matchLabels": {"app": "nic"}}}}
    }
    assert check(
        "usb-nic-monitoring",
        obj("DaemonSet", "m", "net", api="apps/v1", labels={"app": "nic"}),
        config=config,
    ).violations
    assert check(
        "usb-nic-monitoring", obj("DaemonSet", "m", "monitoring", api="apps/v1", labels=USB), config=config
    ).passed


# --- secret-plaintext ----------------------------------------------------------------------------------


def test_secret_values_as_pulumi_secrets_pass():
    s = secret(field_name="data", password="cHc=")
    assert check("secret-plaintext", s, secrets=["data.password"]).passed
    assert check("secret-plaintext", s, secrets=["data"]).passed  # the whole map marked secret


def test_secret_plaintext_value_is_mandatory():
    result = check(
        "secret-plaintext", secret(password="hunter2", user="admin"), secrets=["stringData.password"]
    )
    assert len(result.violations) == 1 and "stringData.user" in result.violations[0]


def test_secret_without_data_passes():
    assert check("secret-plaintext", obj("Secret", "empty", "media")).passed


def test_secret_unknown_secret_value_passes_during_preview():
    s = secret(password="will-be-generated")
    assert check(
        "secret-plaintext", s, unknowns=["stringData.password"], secrets=["stringData.password"]
    ).passed


def test_configmap_credentials_go_to_the_advisory_twin():
    cm = configmap(OAUTH_CLIENT_SECRET="abc")
    assert check("secret-plaintext", cm).passed
    assert check("secret-plaintext-advisory", cm).violations
    assert check("secret-plaintext-advisory", configmap(LOG_LEVEL="debug")).passed


# --- gpu-priority-class, directive-drift, gpu-oversubscription ----------------------------------------


def test_gpu_priority_class_compliant():
    assert check("gpu-priority-class", gpu_deployment("ai", "normal-gpu")).passed


def test_gpu_priority_class_non_compliant():
    assert check("gpu-priority-class", gpu_deployment("ai", None)).violations


def test_gpu_priority_class_missing_resources():
    assert check("gpu-priority-class", deployment(container(), namespace="ai")).passed


def test_gpu_priority_class_override_tenant_class():
    doc = yaml.safe_load(STACK_FILE.read_text())
    tenants = doc["config"]["k3s-home:gpu"]["tenants"]
    for t in tenants:
        if t["namespace"] == "ai":
            t["priorityClassName"] = "critical-gpu"
    config = {"overrides": {"gpu": {"tenants": tenants}}}
    try:
        result = check("gpu-priority-class", gpu_deployment("ai", "normal-gpu"), config=config)
    except (
        ConfigError
    ) as err:  # the model may refuse two tenants sharing a class: still a loud, one-line verdict
        assert str(err).startswith("k3s-home:gpu")
    else:
        assert result.violations


def test_directive_drift_is_advisory_only():
    drifted = obj(
        "PriorityClass",
        "normal-gpu",
        api="scheduling.k8s.io/v1",
        value=700,
        description="Normal GPU workloads (AI)",
    )
    assert check("directive-drift", drifted).passed
    assert check("directive-drift-advisory", drifted).violations
    right = {**drifted, "value": 100}
    assert check("directive-drift-advisory", right).passed


def test_directive_drift_missing_value():
    assert check(
        "directive-drift-advisory", obj("PriorityClass", "normal-gpu", api="scheduling.k8s.io/v1")
    ).violations


def test_gpu_oversubscription_compliant():
    args = stack_args(
        quota("ai", {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "0"}),
        quota("media", {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "10"}),
    )
    assert run_policy(policy("gpu-oversubscription"), args).passed


def test_gpu_oversubscription_untracked_limits_key():
    args = stack_args(
        quota("ai", {"limits.nvidia.com/gpu": "2"}), quota("media", {"requests.nvidia.com/gpu": "2"})
    )
    result = run_policy(policy("gpu-oversubscription"), args)
    assert any("limits.nvidia.com/gpu" in m for m in result.violations)


def test_gpu_oversubscription_missing_quotas():
    nothing_kept = {"overrides": {"cluster": {"fluxKeeps": []}}}
    assert run_policy(policy("gpu-oversubscription"), stack_args(config=nothing_kept)).violations


def test_gpu_oversubscription_counts_the_quotas_flux_keeps_at_the_values_its_file_is_edited_to():
    # ADR 0029: Flux keeps ai/gpu-quota and media/gpu-quota (cluster.fluxKeeps); the stack registers
    # neither, and the render edits Flux's file to the stack's values: the pool is bounded by them.
    assert run_policy(policy("gpu-oversubscription"), stack_args()).passed
    # A registered object of the same name is judged as registered, not replaced by the kept one.
    args = stack_args(quota("ai", {"limits.nvidia.com/gpu": "2"}))
    assert any(
        "limits.nvidia.com/gpu" in m for m in run_policy(policy("gpu-oversubscription"), args).violations
    )


def test_gpu_oversubscription_unknown_quota_is_not_a_verdict():
    args = stack_args(
        quota("ai", {"requests.nvidia.com/gpu": "2"}),
        quota("media", {"requests.nvidia.com/gpu": "9"}),
        unknowns=[("spec", "hard", "requests.nvidia.com/gpu")],
    )
    assert run_policy(policy("gpu-oversubscription"), args).unknown


# --- storage-class -------------------------------------------------------------------------------------


def test_storage_class_compliant():
    assert check("storage-class", pvc("longhorn-replicated")).passed


def test_storage_class_non_compliant():
    assert check("storage-class", pvc("local-path")).violations


def test_storage_class_in_helm_values():
    values = {"grafana": {"persistence": {"enabled": True, "storageClassName": "local-path"}}}
    assert check("storage-class", helm_release(values)).violations


def test_storage_class_approved_list_override():
    config = {
        "overrides": {"storage": {"approvedClasses": ["longhorn-nvme", "longhorn-optane", "nfs-archive"]}}
    }
    assert check("storage-class", pvc("nfs-archive")).violations
    assert check("storage-class", pvc("nfs-archive"), config=config).passed


# --- authentik ---------------------------------------------------------------------------------------------


def test_authentik_mfa_compliant():
    assert check(
        "authentik-mfa", blueprint([{**MFA_ENTRY, "attrs": {"not_configured_action": "skip"}}])
    ).passed


def test_authentik_mfa_non_compliant():
    assert check("authentik-mfa", blueprint([MFA_ENTRY])).violations


def test_authentik_mfa_configmap_without_blueprint():
    assert check("authentik-mfa", configmap("x", "authentik", **{"notes.txt": "hello"})).passed


def test_authentik_mfa_after_stability_window_override():
    config = {"overrides": {"authentik": {"stability": {"since": "2020-01-01"}}}}
    assert check("authentik-mfa", blueprint([MFA_ENTRY]), config=config).passed


def test_authentik_blueprint_format():
    assert check("authentik-blueprint-format", blueprint([PINNED_PROVIDER])).passed
    assert check("authentik-blueprint-format", blueprint([NEWER_PROVIDER])).violations
    assert check("authentik-blueprint-format", configmap("x", "authentik")).passed


# --- secret markers (the pack's shim over the SDK deserializer) --------------------------------------------


def test_deserializer_keeps_secret_markers_for_validations():
    wire = {"stringData": {"password": {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": "pw"}, "user": "admin"}}
    props = v.deserialize_marking_secrets(json.loads(json.dumps(wire)))
    assert isinstance(props["stringData"]["password"], Secret)
    assert props["stringData"]["user"] == "admin"


def test_install_secret_markers_replaces_the_sdk_deserializer(monkeypatch):
    monkeypatch.setattr(sdk, "deserialize_properties", sdk.deserialize_properties)
    v.install_secret_markers()
    assert sdk.deserialize_properties is v.deserialize_marking_secrets


def test_remediation_path_keeps_the_sdk_behaviour():
    wire = {"a": {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": "pw"}}
    assert v.deserialize_marking_secrets(wire, True)["a"] == "pw"  # the SDK's proxy unwraps on read


def test_unknown_sentinel_helper_matches_the_engine():
    assert UNKNOWN == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
