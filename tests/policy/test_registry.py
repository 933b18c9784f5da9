"""rules.registry: every rule module is wired in, and every finding names a documented rule."""

from __future__ import annotations

import pytest

from rules import Finding, authentik, gpu, registry, secrets_hygiene, security, sops, storage
from tests.policy.helpers import container, deployment, flux_kustomization


def test_every_rule_module_is_registered():
    for module in (security, gpu, storage, authentik, sops, secrets_hygiene):
        assert set(module.OBJECT_RULES) <= set(registry.ALL_OBJECT_RULES), module.__name__
    assert gpu.gpu_oversubscription in registry.ALL_STACK_RULES


def test_check_object_runs_every_rule(real_config):
    findings = registry.check_object(deployment(container(privileged=True)), real_config)
    assert [f.rule for f in findings] == ["privileged-container"]


def test_skip_drops_ownership_rules(real_config):
    k = flux_kustomization(decryption={"provider": "sops"})
    assert [f.rule for f in registry.check_object(k, real_config)] == ["sops-untouchable"]
    assert registry.check_object(k, real_config, skip=registry.OWNERSHIP_RULES) == []


def test_undocumented_rule_id_fails_loudly(real_config, monkeypatch):
    rogue = [lambda obj, cfg: [Finding("made-up-rule", "x")]]
    monkeypatch.setattr(registry, "ALL_OBJECT_RULES", rogue)
    with pytest.raises(registry.UnknownRuleError, match="made-up-rule"):
        registry.check_object({}, real_config)


def test_policy_names_map_back_to_rule_ids():
    assert registry.rule_id_of("secret-plaintext-advisory") == "secret-plaintext"
    assert registry.rule_id_of("storage-class") == "storage-class"
    assert registry.directive("someone-elses-policy") == "someone-elses-policy"
