"""rules.registry: every rule module is wired in, and every finding names a documented rule."""

from __future__ import annotations

import inspect

import pytest

from policy import validators
from review import gate as gate_module
from rules import Finding, authentik, gpu, registry, secrets_hygiene, security, sops, storage
from tests.policy.helpers import container, deployment, flux_kustomization


def _public_rule_functions(module) -> set:
    """Functions of a rule module that take a stack config: the rules (helpers take plain values)."""
    return {
        fn
        for name, fn in vars(module).items()
        if inspect.isfunction(fn)
        and fn.__module__ == module.__name__
        and not name.startswith("_")
        and list(inspect.signature(fn).parameters)[1:2] in (["config"], ["cfg"])
        # helpers over a config: the GPU resource names, and the clauses of gpu_priority_class its CEL holds
        and name not in ("gpu_resources", "admission_refusals")
    }


def test_every_rule_function_is_registered_once():
    checks = [r.check for r in registry.RULES]
    assert len(registry.BY_ID) == len(registry.RULES)  # ids are unique
    # A function may check two ids (privileged-container and its advisory sibling) but runs once.
    assert len(registry.ALL_OBJECT_RULES) == len(set(registry.ALL_OBJECT_RULES))
    assert set(registry.ALL_OBJECT_RULES) | set(registry.ALL_STACK_RULES) == {
        r.check for r in registry.RULES if r.scope != "gate"
    }
    for module in (security, gpu, storage, authentik, sops, secrets_hygiene):
        assert _public_rule_functions(module) <= set(checks), module.__name__
    assert registry.BY_ID["gpu-oversubscription"].check is gpu.gpu_oversubscription


def test_each_listed_id_maps_to_a_function_in_rules_and_to_a_policy_or_the_gate():
    # The pack's policies, as the pack module builds them (policy/__main__.py is not imported: it starts
    # the analyzer server). Stack and resource policies both carry a name.
    names = {p.name for p in validators.policies()}
    for rule in registry.RULES:
        assert callable(rule.check) and rule.check.__module__.startswith("rules."), rule.id
        assert registry.directive(rule.id) == rule.directive
        if rule.scope == "gate":
            # CrossGuard sees no operations: the review gate applies this one, through the same function.
            assert gate_module.data_loss is rule.check, rule.id
            assert rule.id not in names
        else:
            assert {rule.id, rule.id + registry.ADVISORY_SUFFIX} <= names, rule.id
    assert names == {
        n for r in registry.RULES if r.scope != "gate" for n in (r.id, r.id + registry.ADVISORY_SUFFIX)
    }


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
