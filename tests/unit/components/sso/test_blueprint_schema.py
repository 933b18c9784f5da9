"""Every rendered blueprint, today's and the MFA-enforced one, against authentik's published blueprint
schema (the subset in authentik_blueprint.schema.json, source commit in the file) and against the
serializer rule authentik applies on top of it.

authentik resolves tags before its serializers see the data, so the test does the same: `!KeyOf id`
and `!Find [model, ...]` become a primary key of the referenced model's type (providers have integer
keys; groups, applications, flows, stages, mappings and key pairs have uuids), `!Env` a string.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import rules.authentik as ra
from components.config import load
from components.sso.blueprint import build_blueprint, render_blueprint
from rules import blueprint_yaml as ay
from rules.authentik_release import RELEASES, release_for

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Schema:
    """One release's blueprint schema and how its primary keys are typed."""

    file: str
    integer_keyed: frozenset[str] | None  # None: every reference is an integer (2023.10's generator)


# authentik 2023.10.7: goauthentik/authentik blueprints/schema.json at tag version/2023.10.7 (tag object
# bc8014c88cd04929f69272856f3799a4ee02b46f, commit e095e9f694d2a427940bc8616bc4025fef502a8b, blob
# 6fe11e20ad7599ad312aba11ad22524ac58e3db2), vendored byte for byte; 2023.10.0..7 publish the same file.
UPSTREAM_2023_10 = {
    "repository": "goauthentik/authentik",
    "tag": "version/2023.10.7",
    "commit": "e095e9f694d2a427940bc8616bc4025fef502a8b",
    "path": "blueprints/schema.json",
    "sha256": "5eaa0bb6523c67fec093dcedb0c045f0614b581c32757b97215ddd5b248a23ae",
}
SCHEMAS = {
    "2023.10": Schema("authentik-2023.10.7-blueprint-schema.json", None),
    # The test subset of 2025.12.0-rc1's schema (source in the file); Provider.pk is an AutoField.
    "2025.12": Schema(
        "authentik_blueprint.schema.json", frozenset({"authentik_providers_oauth2.oauth2provider"})
    ),
}


def _closed(schema: dict) -> dict:
    """The published schema with every model's attrs closed (additionalProperties: false): authentik's
    serializers drop unknown attributes without a word, so a misspelt one must fail here."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.get("$defs", {}).items():
        if name.startswith("model_") and definition.get("type") == "object":
            definition.setdefault("additionalProperties", False)
    return schema


@functools.cache
def load_schema(release: str) -> dict:
    return _closed(json.loads((HERE / SCHEMAS[release].file).read_text()))


def resolve(doc: dict, release: str) -> dict:
    """A copy of `doc` with every tag replaced by what authentik would put there."""
    models = {e["id"]: e["model"] for e in doc.get("entries", []) if isinstance(e, dict) and "id" in e}
    integer_keyed = SCHEMAS[release].integer_keyed

    def key(model: str, ref: str) -> Any:
        if integer_keyed is None or model in integer_keyed:
            return 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{ref}"))

    def walk(value: Any) -> Any:
        if isinstance(value, ay.Tag):
            if value.name == "KeyOf":
                assert value.value in models, f"!KeyOf {value.value} names no entry"
                return key(models[value.value], value.value)
            if value.name == "Find":
                return key(value.value[0], json.dumps(value.value[1:]))
            if value.name == "Env":
                return f"value-of-{value.value}"
            raise AssertionError(f"tag !{value.name} is not resolved by this test")
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(doc)


def _leaves(error: jsonschema.ValidationError, path: list) -> list[str]:
    """`path: message` of the errors that explain `error`. For `anyOf`/`oneOf` only the branch that fits
    the instance's shape (its type, or the entry's model) is followed: the other branches just say
    "wrong type" or "wrong model". An entry whose model no branch has is reported at its model field."""
    here = path + list(error.relative_path)
    if error.validator not in ("anyOf", "oneOf"):
        return [f"{'/'.join(map(str, here))}: {error.message}"]
    branches: dict = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0], []).append(sub)
    wrong_shape = {"type", "const"}
    fitting = [
        subs
        for subs in branches.values()
        if not any(e.validator in wrong_shape and list(e.relative_path) in ([], ["model"]) for e in subs)
    ]
    if not fitting:
        models = [e for subs in branches.values() for e in subs if list(e.relative_path) == ["model"]]
        return (
            [f"{'/'.join(map(str, [*here, 'model']))}: no blueprint model {models[0].instance!r}"]
            if models
            else [f"{'/'.join(map(str, here))}: {error.message}"]
        )
    return [leaf for subs in fitting for e in subs for leaf in _leaves(e, here)]


def schema_errors(doc: dict, release: str) -> list[str]:
    validator = jsonschema.Draft7Validator(load_schema(release), format_checker=jsonschema.FormatChecker())
    return [leaf for error in validator.iter_errors(resolve(doc, release)) for leaf in _leaves(error, [])]


PINNED = "2023.10"  # what facts/k3s-home.yaml pins: chart 2023.10.7


@pytest.fixture(params=[r.name for r in RELEASES])
def release(request) -> str:
    return request.param


@pytest.fixture
def blueprint(real_config, release) -> dict:
    return ay.loads(render_blueprint(real_config.authentik, release_for(release)))


@pytest.fixture
def enforced(real_raw, release) -> dict:
    raw = copy.deepcopy(real_raw)
    raw["authentik"]["mfa"]["enforced"] = True
    cfg = load(raw, today=date(2027, 1, 10)).authentik  # after since + 30 days
    return build_blueprint(cfg, release_for(release))


def _entry(doc: dict, entry_id: str) -> dict:
    return next(e for e in doc["entries"] if e.get("id") == entry_id)


def test_the_vendored_2023_10_7_schema_is_upstreams_file():
    raw = (HERE / SCHEMAS["2023.10"].file).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == UPSTREAM_2023_10["sha256"]
    schema = json.loads(raw)
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "authentik Blueprint schema"  # 2023.10 did not yet put the version in it
    provider = schema["$defs"]["model_authentik_providers_oauth2.oauth2provider"]["properties"]
    assert provider["redirect_uris"]["type"] == "string" and "invalidation_flow" not in provider


def test_the_2025_12_subset_is_valid_and_names_its_source():
    schema = json.loads((HERE / SCHEMAS["2025.12"].file).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    source = schema["x-source"]
    assert source["repository"] == "goauthentik/authentik" and source["path"] == "blueprints/schema.json"
    assert len(source["commit"]) == 40 and "2025.12.0-rc1" in source["title"]


def test_the_real_config_generates_for_the_pinned_release(real_config):
    assert real_config.authentik.pinned.version == "2023.10.7"
    assert real_config.authentik.release.name == PINNED
    doc = ay.loads(render_blueprint(real_config.authentik))
    assert schema_errors(doc, PINNED) == []
    provider = _entry(doc, "provider-open-webui")["attrs"]
    assert provider["redirect_uris"] == r"https://ai\.fletcherlabs\.net/oauth/oidc/callback"
    assert "invalidation_flow" not in provider
    assert "email" not in _entry(doc, "mfa-validation")["attrs"]["device_classes"]


def test_todays_blueprint_matches_the_schema(blueprint, release):
    assert schema_errors(blueprint, release) == []
    assert ra.serializer_problems(blueprint) == []


def test_the_enforced_blueprint_matches_the_schema_and_the_serializer_rule(enforced, release):
    stage = _entry(enforced, "mfa-validation")
    assert stage["attrs"]["not_configured_action"] == "configure"
    assert schema_errors(enforced, release) == []
    assert ra.serializer_problems(enforced) == []


def test_the_enforced_blueprint_without_configuration_stages_is_refused(enforced, release):
    del _entry(enforced, "mfa-validation")["attrs"]["configuration_stages"]
    assert schema_errors(enforced, release) == []  # the schema alone cannot see it ...
    (problem,) = ra.serializer_problems(enforced)  # ... authentik's serializer does
    assert "configure but no configuration_stages" in problem
    if release == PINNED:
        obj = {"kind": "ConfigMap", "metadata": {"name": "sso"}, "data": {"bp.yaml": ay.dumps(enforced)}}
        findings = [f.rule for f in ra.check_blueprint_format(obj, None)]
        assert findings == [ra.RULE_FORMAT]


def test_a_2023_10_blueprint_with_the_list_form_of_redirect_uris_fails(real_config):
    """The list form is 2024.10.3+: 2023.10.7's schema (and its model, a TextField) want one string."""
    listed = build_blueprint(real_config.authentik, release_for("2025.12.0"))
    doc = build_blueprint(real_config.authentik, release_for(PINNED))
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"] = _entry(listed, "provider-grafana")["attrs"][
        "redirect_uris"
    ]
    errors = schema_errors(doc, PINNED)
    assert errors and all("redirect_uris" in e for e in errors), errors
    assert any("is not of type 'string'" in e for e in errors)


def _string_redirect_uris(doc):
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"] = (
        "https://grafana.fletcherlabs.net/login/generic_oauth"
    )


def _list_redirect_uris(doc):
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"] = [
        {"matching_mode": "strict", "url": "https://grafana.fletcherlabs.net/login/generic_oauth"}
    ]


def _bad_matching_mode(doc):
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"][0]["matching_mode"] = "prefix"


def _invalidation_flow(doc):
    _entry(doc, "provider-grafana")["attrs"]["invalidation_flow"] = ay.find(
        "authentik_flows.flow", ("slug", "default-provider-invalidation-flow")
    )


def _bad_not_configured_action(doc):
    _entry(doc, "mfa-validation")["attrs"]["not_configured_action"] = "enforce"


def _bad_device_class(doc):
    _entry(doc, "mfa-validation")["attrs"]["device_classes"].append("passkey")


def _email_device_class(doc):
    _entry(doc, "mfa-validation")["attrs"]["device_classes"].append("email")


def _bad_state(doc):
    _entry(doc, "mfa-setup-totp")["state"] = "exists"


def _unknown_model(doc):
    _entry(doc, "app-grafana")["model"] = "authentik_core.applicationn"


def _renamed_webauthn_stage(doc):
    _entry(doc, "mfa-setup-webauthn")["model"] = (
        "authentik_stages_authenticator_webauthn.authenticatorwebauthnstage"
    )


def _missing_identifiers(doc):
    del _entry(doc, "provider-jellyfin")["identifiers"]


def _misspelled_attribute(doc):
    attrs = _entry(doc, "provider-grafana")["attrs"]
    attrs["authorization_flows"] = attrs.pop("authorization_flow")


def _provider_pointing_at_an_application(doc):
    _entry(doc, "app-grafana")["attrs"]["provider"] = ay.key_of("app-open-webui")


def _totp_digits_as_number(doc):
    _entry(doc, "mfa-setup-totp")["attrs"]["digits"] = 6


def _totp_digits_as_string(doc):
    _entry(doc, "mfa-setup-totp")["attrs"]["digits"] = "6"


COMMON = [
    (_bad_not_configured_action, "not_configured_action"),
    (_bad_device_class, "device_classes"),
    (_bad_state, "state"),
    (_unknown_model, "model"),
    (_missing_identifiers, "identifiers"),
    (_misspelled_attribute, "authorization_flows"),
]
BROKEN = [
    *[("2023.10", *case) for case in COMMON],
    ("2023.10", _list_redirect_uris, "redirect_uris"),
    ("2023.10", _invalidation_flow, "invalidation_flow"),
    ("2023.10", _email_device_class, "device_classes"),
    ("2023.10", _renamed_webauthn_stage, "model"),
    ("2023.10", _totp_digits_as_string, "digits"),
    *[("2025.12", *case) for case in COMMON],
    ("2025.12", _string_redirect_uris, "redirect_uris"),
    ("2025.12", _bad_matching_mode, "matching_mode"),
    ("2025.12", _provider_pointing_at_an_application, "provider"),
    ("2025.12", _totp_digits_as_number, "digits"),
]


@pytest.mark.parametrize(
    "for_release, break_it, where", BROKEN, ids=[f"{r}-{f.__name__.strip('_')}" for r, f, _ in BROKEN]
)
def test_each_broken_blueprint_fails_the_schema(real_config, for_release, break_it, where):
    broken = build_blueprint(real_config.authentik, release_for(for_release))
    break_it(broken)
    errors = schema_errors(broken, for_release)
    assert errors, f"{break_it.__name__} passed the {for_release} schema"
    assert all(where in error for error in errors), errors
