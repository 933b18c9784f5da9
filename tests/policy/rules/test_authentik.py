"""Rules `authentik-mfa` and `authentik-blueprint-format`: compliant, non-compliant, missing, override."""

from __future__ import annotations

import base64
import copy
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rules.authentik as ra
from components.config import load
from components.sso.blueprint import render_blueprint
from rules import Severity
from rules.registry import BY_ID
from tests.authentik_facts import facts_file
from tests.conftest import TEST_TODAY

TODAY = TEST_TODAY  # a week after the real stability start (2026-11-16)

# The live Flux blueprint (authentik/authentik-blueprint-longhorn): the 2023.10 format the repo pins (a
# string of redirect URIs, no invalidation flow), but entries without identifiers, which 2023.10.7's
# importer refuses ("No or invalid identifiers", authentik/blueprints/v1/importer.py; ADR 0024).
LIVE_LONGHORN = """\
version: 1
metadata:
  name: Longhorn OAuth2 Setup
entries:
  - model: authentik_providers_oauth2.oauth2provider
    id: longhorn-provider
    attrs:
      name: longhorn-provider
      authorization_flow:
        !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
      client_type: confidential
      client_id: longhorn
      redirect_uris: |
        https://longhorn.fletcherlabs.net/oauth2/callback
      property_mappings:
        - !Find [authentik_providers_oauth2.scopemapping, [scope_name, openid]]
  - model: authentik_core.application
    id: longhorn-app
    attrs:
      name: Longhorn UI
      slug: longhorn
      provider: !KeyOf longhorn-provider
"""


def _mfa_blueprint(action: str | None) -> str:
    attrs = f"\n    attrs:\n      not_configured_action: {action}" if action else ""
    return f"""\
version: 1
metadata:
  name: mfa
entries:
  - model: {ra.MFA_STAGE_MODEL}
    identifiers:
      name: default-authentication-mfa-validation{attrs}
"""


def config_map(text: str, key: str = "blueprint.yaml") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bp", "namespace": "authentik"},
        "data": {key: text},
    }


def secret(text: str) -> dict:
    encoded = base64.b64encode(text.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "bp", "namespace": "authentik"},
        "data": {"bp.yaml": encoded},
    }


def with_since(real_raw: dict, since: str | None):
    raw = copy.deepcopy(real_raw)
    if since is None:
        raw["authentik"].pop("stability")
    else:
        raw["authentik"]["stability"]["since"] = since
    return load(raw, today=TEST_TODAY)


# --- authentik-mfa -------------------------------------------------------------------------------


def test_mfa_compliant_generated_blueprint(real_config):
    assert ra.check_mfa(config_map(render_blueprint(real_config.authentik)), real_config) == []


@pytest.mark.parametrize("action", ["configure", "deny"])
def test_mfa_non_compliant_before_window(real_config, action):
    (finding,) = ra.check_mfa(config_map(_mfa_blueprint(action)), real_config)
    assert finding.rule == "authentik-mfa"
    assert finding.severity is Severity.MANDATORY
    assert finding.path == "data.blueprint.yaml.entries[0].attrs.not_configured_action"
    assert finding.message.startswith("ConfigMap authentik/bp: not_configured_action: " + action)
    assert "before 2026-12-16" in finding.message and "prohibition 1" in finding.message


def test_mfa_found_in_a_base64_secret(real_config):
    assert [f.rule for f in ra.check_mfa(secret(_mfa_blueprint("configure")), real_config)] == [
        "authentik-mfa"
    ]


@pytest.mark.parametrize(
    "obj",
    [
        config_map(_mfa_blueprint(None)),  # attribute missing: authentik's default is skip
        config_map(_mfa_blueprint("skip")),
        {"kind": "ConfigMap", "metadata": {"name": "empty"}},  # no data at all
        config_map("key: value\n"),  # YAML, but not a blueprint
        config_map("entries: [unclosed\n"),  # broken YAML is not ours to judge
        {"kind": "Deployment", "metadata": {"name": "x"}, "data": {"a": _mfa_blueprint("deny")}},
    ],
    ids=["action-missing", "skip", "no-data", "not-a-blueprint", "broken-yaml", "other-kind"],
)
def test_mfa_missing_or_irrelevant(real_config, obj):
    assert ra.check_mfa(obj, real_config) == []


def test_mfa_absent_stage_is_not_enforcement(real_config):
    text = _mfa_blueprint("deny").replace("  - model:", "  - state: absent\n    model:")
    assert ra.check_mfa(config_map(text), real_config) == []


def test_mfa_config_override_window_passed(real_raw):
    config = with_since(real_raw, (TODAY - timedelta(days=30)).isoformat())
    assert ra.check_mfa(config_map(_mfa_blueprint("configure")), config) == []


def test_mfa_config_override_no_stability_date(real_raw):
    config = with_since(real_raw, None)
    (finding,) = ra.check_mfa(config_map(_mfa_blueprint("configure")), config)
    assert "no stability start date" in finding.message


@given(
    offset=st.integers(min_value=-400, max_value=400),
    action=st.sampled_from(["skip", "configure", "deny", None]),
)
def test_mfa_block_reason_is_exactly_the_30_day_window(offset, action):
    since = date(2026, 11, 16)
    blocked = ra.mfa_block_reason(action, since, 30, on=since + timedelta(days=offset)) is not None
    assert blocked == (action in ("configure", "deny") and offset < 30)


# --- authentik-blueprint-format ------------------------------------------------------------------


def test_format_compliant_generated_blueprint(real_config):
    assert ra.check_blueprint_format(config_map(render_blueprint(real_config.authentik)), real_config) == []


NO_IDENTIFIERS = [
    "entries[0] (authentik_providers_oauth2.oauth2provider) has no identifiers; "
    "authentik cannot find or update it",
    "entries[1] (authentik_core.application) has no identifiers; authentik cannot find or update it",
]


def test_format_live_flux_blueprint_fits_the_pinned_2023_10_but_has_no_identifiers(real_config):
    assert real_config.authentik.pinned.version == "2023.10.7"
    findings = ra.check_blueprint_format(config_map(LIVE_LONGHORN, "longhorn.yaml"), real_config)
    assert {f.rule for f in findings} == {"authentik-blueprint-format"}
    assert [f.message.removeprefix("ConfigMap authentik/bp: ") for f in findings] == NO_IDENTIFIERS
    assert {f.path for f in findings} == {"data.longhorn.yaml"}


def test_format_a_2024_10_blueprint_is_a_finding_on_the_pinned_2023_10(real_config):
    text = LIVE_LONGHORN.replace(
        "redirect_uris: |\n        https://longhorn.fletcherlabs.net/oauth2/callback",
        "redirect_uris: [{matching_mode: strict, url: 'https://longhorn.fletcherlabs.net/oauth2/callback'}]\n"
        "      invalidation_flow: !Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]",
    )
    messages = [
        f.message.removeprefix("ConfigMap authentik/bp: ")
        for f in ra.check_blueprint_format(config_map(text), real_config)
    ]
    assert messages == [
        *NO_IDENTIFIERS,
        "entries[0].attrs.redirect_uris is a list (authentik 2024.10.3+); authentik 2023.10 wants one "
        "string, a regular expression per line",
        "entries[0].attrs.invalidation_flow does not exist in authentik 2023.10 (added in 2024.10)",
    ]


def test_format_the_same_live_blueprint_on_a_cluster_that_pins_2025_12(real_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("K3S_HOME_FACTS", str(facts_file(tmp_path, authentik="2025.12.4")))
    config = load(real_raw, today=TEST_TODAY)
    messages = [
        f.message.removeprefix("ConfigMap authentik/bp: ")
        for f in ra.check_blueprint_format(config_map(LIVE_LONGHORN), config)
    ]
    assert messages == [
        *NO_IDENTIFIERS,
        "entries[0].attrs.redirect_uris is a string (authentik before 2024.10.3); authentik 2025.12 wants "
        "a list of {matching_mode: strict, url: ...}",
        "entries[0] (authentik_providers_oauth2.oauth2provider) has authorization_flow but no "
        "invalidation_flow (required since 2024.10; default-provider-invalidation-flow)",
    ]
    # ... and the blueprint the stack generates there is in that format.
    assert ra.check_blueprint_format(config_map(render_blueprint(config.authentik)), config) == []


def test_format_without_a_config_judges_by_the_facts(real_config):
    assert ra.pinned_release(None)[1:] == (
        "2023.10.7",
        "clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16",
    )
    assert ra.check_blueprint_format(config_map(render_blueprint(real_config.authentik)), None) == []


@pytest.mark.parametrize(
    "action, stages, refused",
    [
        ("configure", None, True),
        ("configure", "[]", True),
        ("configure", "[abc]", False),
        ("deny", None, False),
    ],
)
def test_format_refuses_configure_without_configuration_stages(real_config, action, stages, refused):
    text = _mfa_blueprint(action) + (f"      configuration_stages: {stages}\n" if stages else "")
    findings = ra.check_blueprint_format(config_map(text), real_config)
    expected = (
        [
            f"ConfigMap authentik/bp: entries[0] ({ra.MFA_STAGE_MODEL}) has not_configured_action: configure "
            "but no configuration_stages; authentik refuses it and reverts the whole blueprint"
        ]
        if refused
        else []
    )
    assert [f.message for f in findings] == expected


def test_format_missing_data_is_no_finding(real_config):
    assert ra.check_blueprint_format({"kind": "ConfigMap", "metadata": {"name": "x"}}, real_config) == []
    assert (
        ra.check_blueprint_format(
            {"kind": "Secret", "metadata": {"name": "x"}, "data": {"k": "%%%"}}, real_config
        )
        == []
    )


def test_format_config_override_does_not_excuse_old_format(real_raw):
    # The format rule does not depend on the MFA window: any config gives the same verdict.
    config = with_since(real_raw, "2020-01-01")
    assert len(ra.check_blueprint_format(config_map(LIVE_LONGHORN), config)) == 2


def test_registry_lists_both():
    assert BY_ID["authentik-mfa"].check is ra.check_mfa
    assert BY_ID["authentik-blueprint-format"].check is ra.check_blueprint_format


# --- structural validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc, problem",
    [
        ([], "blueprint is not a mapping"),
        (
            {"version": 2, "metadata": {"name": "x"}, "entries": [{"model": "a.b", "identifiers": {"k": 1}}]},
            "version must be 1, got 2",
        ),
        (
            {"version": 1, "entries": [{"model": "a.b", "identifiers": {"k": 1}}]},
            "metadata.name is required (authentik names the blueprint instance after it)",
        ),
        ({"version": 1, "metadata": {"name": "x"}, "entries": []}, "entries must be a non-empty list"),
        (
            {"version": 1, "metadata": {"name": "x"}, "entries": [{"identifiers": {"k": 1}}]},
            "entries[0].model must be 'app_label.model', got None",
        ),
        (
            {"version": 1, "metadata": {"name": "x"}, "entries": [{"model": "a.b", "identifiers": {}}]},
            "entries[0] (a.b) has no identifiers; authentik cannot find or update it",
        ),
        (
            {
                "version": 1,
                "metadata": {"name": "x"},
                "entries": [
                    {"model": "a.b", "identifiers": {"k": 1}, "attrs": {"p": ra.Tag("KeyOf", "later")}},
                    {"model": "a.c", "id": "later", "identifiers": {"k": 2}},
                ],
            },
            "entries[0]: !KeyOf later does not name an earlier entry id",
        ),
        (
            {
                "version": 1,
                "metadata": {"name": "x"},
                "entries": [
                    {"model": "a.b", "id": "d", "identifiers": {"k": 1}},
                    {"model": "a.b", "id": "d", "identifiers": {"k": 2}},
                ],
            },
            "entries[1]: duplicate id d",
        ),
    ],
    ids=[
        "not-mapping",
        "version",
        "metadata",
        "no-entries",
        "no-model",
        "no-identifiers",
        "keyof-forward",
        "dup-id",
    ],
)
def test_validate_blueprint_reports(doc, problem):
    assert ra.validate_blueprint(doc) == [problem]


def test_parse_blueprint_keeps_tags():
    doc = ra.parse_blueprint(LIVE_LONGHORN)
    assert doc["entries"][1]["attrs"]["provider"] == ra.Tag("KeyOf", "longhorn-provider")
    assert ra.parse_blueprint("just: config") is None
    assert ra.parse_blueprint(": : :") is None
