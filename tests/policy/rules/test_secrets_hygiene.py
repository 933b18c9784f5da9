"""secret-plaintext: Secret values must be secret outputs; credentials in ConfigMaps are advisories."""

from __future__ import annotations

import pytest

from rules.secrets_hygiene import credential_key, secret_plaintext
from tests.policy.helpers import configmap, helm_release, obj, run_rule, secret, verdict


def test_secret_with_plaintext_values_is_mandatory(real_config):
    found = run_rule(secret_plaintext, secret(password="hunter2"), real_config)
    assert verdict(found) == [("secret-plaintext", "mandatory")]
    assert found[0].path == "stringData.password"


def test_secret_values_marked_secret_pass(real_config):
    s = secret(field_name="data", password="aHVudGVyMg==", user="YWRtaW4=")
    assert secret_plaintext(s, real_config, is_secret=lambda path: path.startswith("data.")) == []


def test_only_unmarked_values_are_reported(real_config):
    s = secret(password="hunter2", username="admin")
    found = secret_plaintext(s, real_config, is_secret=lambda path: path == "stringData.password")
    assert [f.path for f in found] == ["stringData.username"]


def test_secret_without_data_or_with_empty_values_passes(real_config):
    assert run_rule(secret_plaintext, obj("Secret", "empty", "media"), real_config) == []
    assert run_rule(secret_plaintext, secret(token=""), real_config) == []


def test_configmap_credential_keys_are_advisory(real_config):
    cm = configmap(GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET="abc123", LOG_LEVEL="info")
    found = run_rule(secret_plaintext, cm, real_config)
    assert verdict(found) == [("secret-plaintext", "advisory")]
    assert found[0].path == "data.GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"


def test_configmap_references_and_plain_settings_pass(real_config):
    cm = configmap(existingSecret="grafana-admin", secretName="x", token_file="/run/t", api_key="${API_KEY}")
    assert run_rule(secret_plaintext, cm, real_config) == []


def test_helm_values_credentials_are_advisory(real_config):
    values = {"grafana": {"adminPassword": "prom-operator"}, "env": [{"name": "DB_PASSWORD", "value": "pw"}]}
    found = run_rule(secret_plaintext, helm_release(values), real_config)
    assert sorted(f.path for f in found) == ["spec.values.env[0].value", "spec.values.grafana.adminPassword"]
    assert {f.severity for f in found} == {"advisory"}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("password", True), ("OAUTH_CLIENT_SECRET", True), ("api-key", True), ("apiKey", True),
        ("accessToken", True), ("private_key", True), ("existingSecret", False), ("secretName", False),
        ("passwordFile", False), ("tokenPath", False), ("LOG_LEVEL", False), ("keyboard", False),
    ],
)  # fmt: skip
def test_credential_key(key, expected):
    assert credential_key(key) is expected
