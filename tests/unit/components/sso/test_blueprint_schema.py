"""Every rendered blueprint, today's and the MFA-enforced one, against authentik's published blueprint
schema (the subset in authentik_blueprint.schema.json, source commit in the file) and against the
serializer rule authentik applies on top of it.

authentik resolves tags before its serializers see the data, so the test does the same: `!KeyOf id`
and `!Find [model, ...]` become a primary key of the referenced model's type (providers have integer
keys; groups, applications, flows, stages, mappings and key pairs have uuids), `!Env` a string.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import rules.authentik as ra
from components.config import load
from components.sso.blueprint import build_blueprint, render_blueprint
from rules import blueprint_yaml as ay

SCHEMA = json.loads((Path(__file__).parent / "authentik_blueprint.schema.json").read_text())
INTEGER_KEYED = {"authentik_providers_oauth2.oauth2provider"}  # Provider.pk is an AutoField


def resolve(doc: dict) -> dict:
    """A copy of `doc` with every tag replaced by what authentik would put there."""
    models = {e["id"]: e["model"] for e in doc.get("entries", []) if isinstance(e, dict) and "id" in e}

    def key(model: str, ref: str) -> Any:
        return 1 if model in INTEGER_KEYED else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model}/{ref}"))

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


def schema_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    return [leaf for error in validator.iter_errors(resolve(doc)) for leaf in _leaves(error, [])]


@pytest.fixture
def blueprint(real_config) -> dict:
    return ay.loads(render_blueprint(real_config.authentik))


@pytest.fixture
def enforced(real_raw) -> dict:
    raw = copy.deepcopy(real_raw)
    raw["authentik"]["mfa"]["enforced"] = True
    return build_blueprint(load(raw, today=date(2027, 1, 10)).authentik)  # after since + 30 days


def _entry(doc: dict, entry_id: str) -> dict:
    return next(e for e in doc["entries"] if e.get("id") == entry_id)


def test_the_test_schema_is_valid_and_names_its_source():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    source = SCHEMA["x-source"]
    assert source["repository"] == "goauthentik/authentik" and source["path"] == "blueprints/schema.json"
    assert len(source["commit"]) == 40 and "2025.12.0-rc1" in source["title"]


def test_todays_blueprint_matches_the_schema(blueprint):
    assert schema_errors(blueprint) == []
    assert ra.serializer_problems(blueprint) == []


def test_the_enforced_blueprint_matches_the_schema_and_the_serializer_rule(enforced):
    stage = _entry(enforced, "mfa-validation")
    assert stage["attrs"]["not_configured_action"] == "configure"
    assert schema_errors(enforced) == []
    assert ra.serializer_problems(enforced) == []


def test_the_enforced_blueprint_without_configuration_stages_is_refused(enforced):
    del _entry(enforced, "mfa-validation")["attrs"]["configuration_stages"]
    assert schema_errors(enforced) == []  # the schema alone cannot see it ...
    (problem,) = ra.serializer_problems(enforced)  # ... authentik's serializer does
    assert "configure but no configuration_stages" in problem
    obj = {"kind": "ConfigMap", "metadata": {"name": "sso"}, "data": {"bp.yaml": ay.dumps(enforced)}}
    findings = [f.rule for f in ra.check_blueprint_format(obj, None)]
    assert findings == [ra.RULE_FORMAT]


def _string_redirect_uris(doc):
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"] = (
        "https://grafana.fletcherlabs.net/login/generic_oauth"
    )


def _bad_matching_mode(doc):
    _entry(doc, "provider-grafana")["attrs"]["redirect_uris"][0]["matching_mode"] = "prefix"


def _bad_not_configured_action(doc):
    _entry(doc, "mfa-validation")["attrs"]["not_configured_action"] = "enforce"


def _bad_device_class(doc):
    _entry(doc, "mfa-validation")["attrs"]["device_classes"].append("passkey")


def _bad_state(doc):
    _entry(doc, "mfa-setup-totp")["state"] = "exists"


def _unknown_model(doc):
    _entry(doc, "app-grafana")["model"] = "authentik_core.applicationn"


def _missing_identifiers(doc):
    del _entry(doc, "provider-jellyfin")["identifiers"]


def _misspelled_attribute(doc):
    attrs = _entry(doc, "provider-grafana")["attrs"]
    attrs["invalidation_flows"] = attrs.pop("invalidation_flow")


def _provider_pointing_at_an_application(doc):
    _entry(doc, "app-grafana")["attrs"]["provider"] = ay.key_of("app-open-webui")


def _totp_digits_as_number(doc):
    _entry(doc, "mfa-setup-totp")["attrs"]["digits"] = 6


@pytest.mark.parametrize(
    "break_it, where",
    [
        (_string_redirect_uris, "redirect_uris"),
        (_bad_matching_mode, "matching_mode"),
        (_bad_not_configured_action, "not_configured_action"),
        (_bad_device_class, "device_classes"),
        (_bad_state, "state"),
        (_unknown_model, "model"),
        (_missing_identifiers, "identifiers"),
        (_misspelled_attribute, "invalidation_flows"),
        (_provider_pointing_at_an_application, "provider"),
        (_totp_digits_as_number, "digits"),
    ],
)
def test_each_broken_blueprint_fails_the_schema(blueprint, break_it, where):
    broken = copy.deepcopy(blueprint)
    break_it(broken)
    errors = schema_errors(broken)
    assert errors, f"{break_it.__name__} passed the schema"
    assert all(where in error for error in errors), errors
