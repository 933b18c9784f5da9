"""The pack's shared evaluation, through the SDK's own analyzer servicer (no server, no engine).

Analyze runs each resource policy over the same request; with `install_shared_evaluation` the request is
converted (MessageToDict), deserialized and checked by the rules once, and every policy reports exactly
what it did before.
"""

from __future__ import annotations

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy import policy as sdk

from components.config import ConfigError
from policy import validators as v
from tests.policy.helpers import (
    APPROVED,
    configmap,
    container,
    deployment,
    helm_release,
    resource_args,
    run_policy,
    secret,
    type_token,
)

SERVICER = sdk._PolicyAnalyzerServicer

OBJECTS = [
    deployment(container(privileged=True, allowPrivilegeEscalation=True)),
    deployment(container(privileged=True), annotations=APPROVED),
    helm_release({"persistence": {"storageClass": "local-path"}, "admin": {"password": "hunter2hunter2"}}),
    secret(token="plain"),
    configmap(LOG_LEVEL="info"),
]


def request(o: dict) -> proto.AnalyzeRequest:
    props = struct_pb2.Struct()
    props.update(o)
    token = type_token(o)
    name = o["metadata"]["name"]
    provider = proto.AnalyzerProviderResource(
        type="pulumi:providers:kubernetes", urn="urn:provider", name="default", properties=struct_pb2.Struct()
    )
    provider.properties.update({"kubeconfig": "apiVersion: v1\nkind: Config\n", "renderYamlToDirectory": ""})
    return proto.AnalyzeRequest(
        type=token, properties=props, urn=f"urn:pulumi:s::p::{token}::{name}", name=name, provider=provider
    )


def diagnostics(servicer, o: dict) -> list[tuple[str, str]]:
    response = servicer.Analyze(request(o), None)
    return sorted((d.policyName, d.message) for d in response.diagnostics)


@pytest.fixture
def sdk_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """The installs patch the SDK module; put it back after the test."""
    for name in ("deserialize_properties", "json_format", "unknown_checking_proxy"):
        monkeypatch.setattr(sdk, name, getattr(sdk, name))
    monkeypatch.setattr(SERVICER, "Analyze", SERVICER.Analyze)
    v.install_secret_markers()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"rules": 0, "deserialize": 0, "to_dict": 0}
    check, mark, to_dict = v.check_object, v._marking, json_format.MessageToDict

    def counting_check(*args, **kwargs):
        calls["rules"] += 1
        return check(*args, **kwargs)

    def counting_mark(value):
        calls["deserialize"] += 1
        return mark(value)

    def counting_to_dict(*args, **kwargs):
        calls["to_dict"] += 1
        return to_dict(*args, **kwargs)

    monkeypatch.setattr(json_format, "MessageToDict", counting_to_dict)
    monkeypatch.setattr(v, "check_object", counting_check)
    monkeypatch.setattr(v, "_marking", counting_mark)
    return calls


def servicer():
    return SERVICER("k3s-home-directive", "0.0.1", v.policies(), EnforcementLevel.MANDATORY)


@pytest.mark.parametrize("o", OBJECTS, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_policy_reports_what_it_did_without_sharing(sdk_restored, o):
    alone = diagnostics(servicer(), o)
    v.install_shared_evaluation()
    assert diagnostics(servicer(), o) == alone


def test_the_example_objects_do_have_findings(sdk_restored):
    names = {name for o in OBJECTS for name, _ in diagnostics(servicer(), o)}
    assert {"privileged-container", "privilege-escalation-advisory", "storage-class"} <= names
    assert {"secret-plaintext", "secret-plaintext-advisory"} <= names


def test_rules_and_deserialization_run_once_per_request(sdk_restored, counted):
    resource_policies = sum(isinstance(p, sdk.ResourceValidationPolicy) for p in v.policies())
    assert resource_policies >= 20
    s = servicer()
    diagnostics(s, OBJECTS[0])
    before = dict(counted)
    assert before["rules"] == resource_policies  # unshared: every policy runs every rule

    v.install_shared_evaluation()
    v.install_shared_evaluation()  # idempotent: still one wrapper
    counted.update(rules=0, deserialize=0, to_dict=0)
    diagnostics(s, OBJECTS[0])
    diagnostics(s, OBJECTS[2])
    assert counted["rules"] == 2  # one evaluation per request
    # The request's props and the provider's: each converted and deserialized once per request.
    assert before["to_dict"] == 2 * resource_policies
    assert counted["to_dict"] == 2 * 2
    assert counted["deserialize"] < before["deserialize"] / 5


def test_nothing_is_shared_outside_analyze(sdk_restored, counted):
    v.install_shared_evaluation()
    args = resource_args(OBJECTS[0])
    for name in ("privileged-container", "privilege-escalation-advisory"):
        policy = next(p for p in v.policies() if p.name == name)
        assert run_policy(policy, args).violations
    assert counted["rules"] == 2


def test_warm_up_loads_the_config_before_the_first_request(monkeypatch):
    monkeypatch.delenv(v.STACK_CONFIG_ENV, raising=False)
    v._load_config.cache_clear()
    v.warm_up().join(timeout=60)
    assert v._load_config.cache_info().currsize == 1
    hits = v._load_config.cache_info().hits
    v.stack_config({})
    assert v._load_config.cache_info().hits == hits + 1  # the first validation found it loaded


def test_warm_up_leaves_a_bad_config_to_the_first_validation(monkeypatch, tmp_path, capsys):
    bad = tmp_path / "Pulumi.k3s-home.yaml"
    bad.write_text("config:\n  k3s-home:gpu: {pools: nope}\n")
    monkeypatch.setenv(v.STACK_CONFIG_ENV, str(bad))
    v._load_config.cache_clear()
    v.warm_up().join(timeout=60)
    assert capsys.readouterr().err == ""  # nothing printed from the thread
    with pytest.raises(ConfigError, match="k3s-home:"):  # the one-line form, naming the key
        v.stack_config({})
