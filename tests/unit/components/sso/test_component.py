"""AuthentikSso under recording mocks: every resource, exact app-side keys, and no secret leaks."""

from __future__ import annotations

import base64
import copy
import json
import logging
from datetime import date, timedelta

import pytest

import rules.authentik as ra
from components.config import load
from components.sso.common import BLUEPRINT_KEY
from components.sso.component import AuthentikSso
from components.sso.docs import render_setup_doc
from components.sso.jellyfin_job import SCRIPT
from rules import blueprint_yaml as ay
from rules.data_loss import PYTHON_SECRET_TYPE
from tests.conftest import TEST_TODAY
from tests.unit.components.sso.keys import GRAFANA_KEYS, JELLYFIN_FIELDS, OPEN_WEBUI_KEYS

SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
JOB = "kubernetes:batch/v1:Job"
# The generator the committed stack config chooses (secrets.generator: python).
RANDOM = PYTHON_SECRET_TYPE

# The Jellyfin SSO plugin's OidConfig (body of POST /sso/OID/Add/<provider>).


@pytest.fixture
def built(record, real_config, caplog):
    holder = {}

    def build():
        holder["sso"] = AuthentikSso("authentik-sso", real_config)

    with caplog.at_level(logging.DEBUG):
        mocks = record(build)
    # Records of the build (fixture setup phase), for the leak check.
    logs = "\n".join(r.getMessage() for r in caplog.get_records("setup"))
    return mocks, holder["sso"], logs


# How the mocks see a secret Output: wrapped in Pulumi's secret signature.
_SIG, _SECRET_SIG = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value) -> bool:
    return isinstance(value, dict) and value.get(_SIG) == _SECRET_SIG


def _reveal(value):
    """The plain value under any secret wrappers."""
    if _is_secret(value):
        return _reveal(value["value"])
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


class _Plain:
    def __init__(self, recorded):
        self.name, self.raw, self.inputs, self.options = (
            recorded.name,
            recorded.inputs,
            _reveal(recorded.inputs),
            recorded.options,
        )
        # Secrets carry base64 `data` (components.resources.secret_data); tests read it decoded.
        if "data" in self.inputs and recorded.inputs.get("kind", "Secret") == "Secret":
            self.inputs["stringData"] = {
                k: base64.b64decode(v).decode() for k, v in self.inputs["data"].items()
            }


def _secret(mocks, name):
    return next(_Plain(r) for r in mocks.of_type(SECRET) if _reveal(r.inputs)["metadata"]["name"] == name)


def _secrets(mocks):
    return [_Plain(r) for r in mocks.of_type(SECRET)]


def test_every_resource(built):
    mocks, _, _ = built
    assert sorted(r.name for r in mocks.of_type(RANDOM)) == [
        "authentik-sso-bootstrap-password",
        "authentik-sso-bootstrap-token",
        "authentik-sso-grafana-client-secret",
        "authentik-sso-jellyfin-client-secret",
        "authentik-sso-open-webui-client-secret",
    ]
    assert sorted(
        (r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in _secrets(mocks)
    ) == [
        ("ai", "open-webui-sso"),
        ("authentik", "authentik-bootstrap"),
        ("authentik", "authentik-sso-client-secrets"),
        ("media", "jellyfin-sso"),
        ("monitoring", "grafana-sso"),
    ]
    cm = mocks.one(CONFIG_MAP, "authentik-sso-blueprint")
    assert (cm.inputs["metadata"]["namespace"], cm.inputs["metadata"]["name"]) == (
        "authentik",
        "authentik-blueprints-sso",
    )
    assert cm.options.resource_id == ""  # not adopted unless cluster.adopt lists it
    job = mocks.one(JOB)
    assert (job.inputs["metadata"]["namespace"], job.inputs["metadata"]["name"]) == (
        "media",
        "jellyfin-sso-configure",
    )
    script = mocks.one(CONFIG_MAP, "authentik-sso-jellyfin-configure-script")
    assert script.inputs["metadata"]["name"] == "jellyfin-sso-configure-script"
    assert len(mocks.of_type("k3s-home:authentik:AuthentikSso")) == 1
    # Nothing else: a new resource kind here must be a conscious change to this test.
    assert len(mocks.resources) == 1 + 5 + 5 + 2 + 1


def test_each_app_secret_holds_exactly_the_keys_its_app_reads(built):
    mocks, _, _ = built
    assert set(_secret(mocks, "grafana-sso").inputs["stringData"]) == GRAFANA_KEYS
    assert set(_secret(mocks, "open-webui-sso").inputs["stringData"]) == OPEN_WEBUI_KEYS
    jellyfin = _secret(mocks, "jellyfin-sso").inputs["stringData"]
    assert set(jellyfin) == {"oid-config.json"}
    assert set(json.loads(jellyfin["oid-config.json"])) == JELLYFIN_FIELDS


def test_generated_values_reach_kubernetes_as_secrets(built):
    mocks, _, _ = built
    for name, key in [
        ("authentik-sso-client-secrets", "SSO_CLIENT_SECRET_GRAFANA"),
        ("grafana-sso", "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"),
        ("open-webui-sso", "OAUTH_CLIENT_SECRET"),
        ("jellyfin-sso", "oid-config.json"),
        ("authentik-bootstrap", "AUTHENTIK_BOOTSTRAP_PASSWORD"),
    ]:
        data = _secret(mocks, name).raw["data"]
        assert _is_secret(data) or _is_secret(data[key]), f"{name}.{key} is not a secret output"


def test_both_sides_get_the_same_generated_secret(built):
    mocks, _, _ = built
    authentik_side = _secret(mocks, "authentik-sso-client-secrets").inputs["stringData"]
    assert authentik_side == {
        "SSO_CLIENT_SECRET_GRAFANA": "mock-authentik-sso-grafana-client-secret",
        "SSO_CLIENT_SECRET_OPEN_WEBUI": "mock-authentik-sso-open-webui-client-secret",
        "SSO_CLIENT_SECRET_JELLYFIN": "mock-authentik-sso-jellyfin-client-secret",
    }
    grafana = _secret(mocks, "grafana-sso").inputs["stringData"]
    assert grafana["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] == authentik_side["SSO_CLIENT_SECRET_GRAFANA"]
    webui = _secret(mocks, "open-webui-sso").inputs["stringData"]
    assert webui["OAUTH_CLIENT_SECRET"] == authentik_side["SSO_CLIENT_SECRET_OPEN_WEBUI"]
    oid = json.loads(_secret(mocks, "jellyfin-sso").inputs["stringData"]["oid-config.json"])
    assert oid["OidSecret"] == authentik_side["SSO_CLIENT_SECRET_JELLYFIN"]


def test_app_values_point_at_authentik(built):
    mocks, _, _ = built
    base = "https://authentik.fletcherlabs.net/application/o"
    grafana = _secret(mocks, "grafana-sso").inputs["stringData"]
    assert grafana["GF_AUTH_GENERIC_OAUTH_AUTH_URL"] == f"{base}/authorize/"
    assert grafana["GF_AUTH_GENERIC_OAUTH_TOKEN_URL"] == f"{base}/token/"
    assert grafana["GF_AUTH_GENERIC_OAUTH_API_URL"] == f"{base}/userinfo/"
    assert grafana["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"] == (
        "contains(groups[*], 'Grafana Admins') && 'Admin' || "
        "contains(groups[*], 'Grafana Editors') && 'Editor' || 'Viewer'"
    )
    webui = _secret(mocks, "open-webui-sso").inputs["stringData"]
    assert webui["OPENID_PROVIDER_URL"] == f"{base}/open-webui/.well-known/openid-configuration"
    assert webui["OAUTH_ADMIN_ROLES"] == "Open WebUI Admins"
    assert webui["OAUTH_ALLOWED_ROLES"] == "Open WebUI Users,Open WebUI Admins"
    assert grafana["GF_SERVER_ROOT_URL"] == "https://grafana.fletcherlabs.net/"
    assert webui["OAUTH_MERGE_ACCOUNTS_BY_EMAIL"] == "true"
    assert webui["DEFAULT_USER_ROLE"] == "pending"
    oid = json.loads(_secret(mocks, "jellyfin-sso").inputs["stringData"]["oid-config.json"])
    assert oid["OidEndpoint"] == f"{base}/jellyfin/.well-known/openid-configuration"
    assert oid["AdminRoles"] == ["Jellyfin Admins"]
    assert oid["RoleClaim"] == "groups"
    assert oid["SchemeOverride"] == "https" and oid["NewPath"] is True
    assert oid["DoNotValidateEndpoints"] is False  # plugin 3.5.2.4 validates authentik's endpoints fine


def test_bootstrap_secret(built):
    mocks, _, _ = built
    assert _secret(mocks, "authentik-bootstrap").inputs["stringData"] == {
        "AUTHENTIK_BOOTSTRAP_PASSWORD": "mock-authentik-sso-bootstrap-password",
        "AUTHENTIK_BOOTSTRAP_EMAIL": "admin@fletcherlabs.net",
        "AUTHENTIK_BOOTSTRAP_TOKEN": "mock-authentik-sso-bootstrap-token",
    }


def test_blueprint_config_map_is_valid_and_in_the_pinned_format(built, real_config):
    mocks, _, _ = built
    cm = mocks.one(CONFIG_MAP, "authentik-sso-blueprint")
    assert set(cm.inputs["data"]) == {BLUEPRINT_KEY} and BLUEPRINT_KEY.endswith(".yaml")
    doc = ra.parse_blueprint(cm.inputs["data"][BLUEPRINT_KEY])
    assert ra.validate_blueprint(doc) == []
    assert ra.pinned_format_problems(doc, ra.pinned_release(real_config)) == []
    assert cm.inputs["data"][BLUEPRINT_KEY].startswith(
        "# Generated by k3s-home (components/sso/blueprint.py) for authentik 2023.10.x"
    )
    obj = {"kind": "ConfigMap", **cm.inputs}
    assert [f for rule in (ra.check_mfa, ra.check_blueprint_format) for f in rule(obj, real_config)] == []

    by_id = {e["id"]: e for e in doc["entries"]}
    provider = by_id["provider-grafana"]
    assert provider["model"] == "authentik_providers_oauth2.oauth2provider"
    assert provider["identifiers"] == {"name": "grafana-oauth2"}
    attrs = provider["attrs"]
    assert attrs["authorization_flow"] == ay.find(
        "authentik_flows.flow", ("slug", "default-provider-authorization-implicit-consent")
    )
    assert "invalidation_flow" not in attrs  # chart 2023.10.7: providers have none before 2024.10
    assert attrs["client_secret"] == ay.env("SSO_CLIENT_SECRET_GRAFANA")
    # One regex per line on 2023.10 (re.fullmatch): the strict URI is escaped, so it matches only itself.
    assert attrs["redirect_uris"] == r"https://grafana\.fletcherlabs\.net/login/generic_oauth"
    assert attrs["signing_key"] == ay.find(
        "authentik_crypto.certificatekeypair", ("name", "authentik Self-signed Certificate")
    )
    assert "encryption_key" not in attrs  # Open WebUI cannot read encrypted tokens
    assert [m.value[1][1] for m in attrs["property_mappings"]] == [
        f"goauthentik.io/providers/oauth2/scope-{s}" for s in ("openid", "email", "profile")
    ]
    app = by_id["app-grafana"]
    assert app["model"] == "authentik_core.application"
    assert app["identifiers"] == {"slug": "grafana"}
    assert app["attrs"]["provider"] == ay.key_of("provider-grafana")
    groups = [e["identifiers"]["name"] for e in doc["entries"] if e["model"] == "authentik_core.group"]
    assert "Grafana Admins" in groups and "Grafana Editors" in groups
    # Every !Env the blueprint reads is a key of the authentik-side Secret.
    envs = {
        e["attrs"]["client_secret"].value for e in doc["entries"] if "client_secret" in e.get("attrs", {})
    }
    assert envs == set(_secret(mocks, "authentik-sso-client-secrets").inputs["stringData"])
    # Prohibition 1: the MFA stage is pinned to skip.
    assert by_id["mfa-validation"]["attrs"]["not_configured_action"] == "skip"


def test_jellyfin_job_runs_the_shipped_merge_script(built):
    mocks, _, _ = built
    job = mocks.one(JOB)
    # Awaited: a refused configuration fails the update.
    assert "pulumi.com/skipAwait" not in job.inputs["metadata"].get("annotations", {})
    pod = job.inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "docker.io/library/python:3.12.11-alpine3.22"
    assert container["command"] == ["python3", "/scripts/jellyfin_sso.py", "/sso/oid-config.json"]
    # The script the Job mounts is the file the tests run against the fake Jellyfin.
    script = mocks.one(CONFIG_MAP, "authentik-sso-jellyfin-configure-script").inputs
    assert script["data"] == {"jellyfin_sso.py": SCRIPT.read_text()}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["scripts"]["configMap"]["name"] == script["metadata"]["name"]
    assert volumes["sso"]["secret"]["secretName"] == "jellyfin-sso"
    env = {e["name"]: e for e in container["env"]}
    assert env["JELLYFIN_URL"]["value"] == "http://jellyfin.media.svc.cluster.local:8096"
    assert env["PROVIDER"]["value"] == "authentik"
    assert env["JELLYFIN_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "jellyfin-api-key",
        "key": "api-key",
    }
    assert container["securityContext"]["privileged"] is False
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_no_secret_value_in_config_maps_jobs_doc_summary_or_logs(built, real_config):
    mocks, sso, logs = built
    secrets = {f"mock-{r.name}" for r in mocks.of_type(RANDOM)}
    assert len(secrets) == 5
    # The values do reach the Secrets (so the search below looks for something real) ...
    in_secrets = json.dumps([r.inputs for r in _secrets(mocks)])
    assert all(s in in_secrets for s in secrets)
    # ... and nowhere else.
    places = {
        "configmaps": json.dumps([r.inputs for r in mocks.of_type(CONFIG_MAP)]),
        "jobs": json.dumps([r.inputs for r in mocks.of_type(JOB)]),
        "doc": render_setup_doc(real_config),
        "summary": json.dumps(sso.summary),
        "logs": logs,
    }
    assert "SSO clients" in logs  # the log line exists, so the check below can fail
    for place, text in places.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"secret value in {place}: {leaked}"


def test_summary_is_plain_and_names_locations(built):
    _, sso, _ = built
    summary = sso.summary
    assert json.loads(json.dumps(summary)) == summary  # plain values only
    assert summary["mfa"] == {"enforced": False, "allowedFrom": "2026-12-16"}
    # Chart 2023.10.7's keys: top-level envFrom, blueprints as a list of ConfigMap names.
    assert (
        summary["authentik"]
        == "authentik 2023.10.7 (clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16)"
    )
    assert summary["helmValues"]["blueprints"] == ["authentik-blueprints-sso"]
    assert {"secretRef": {"name": "authentik-sso-client-secrets"}} in summary["helmValues"]["envFrom"]
    assert "global" not in summary["helmValues"]
    assert [c["appSecret"] for c in summary["clients"]] == [
        "monitoring/grafana-sso",
        "ai/open-webui-sso",
        "media/jellyfin-sso",
    ]


def _with(real_raw, change, today=TEST_TODAY):
    raw = copy.deepcopy(real_raw)
    change(raw)
    return load(raw, today=today)


def test_blueprint_config_map_adopted_when_listed(record, real_raw):
    def adopt(raw: dict) -> None:
        # Not an object of the Flux repo (created by hand, say): adopting it is a reviewed departure.
        raw["cluster"]["adopt"].append("ConfigMap/authentik/authentik-blueprints-sso")
        at = len(raw["cluster"]["adopt"]) - 1
        raw["cluster"]["departures"].append({"key": f"cluster.adopt[{at}]", "reason": "made by hand"})

    config = _with(real_raw, adopt)
    mocks = record(lambda: AuthentikSso("authentik-sso", config))
    assert mocks.one(CONFIG_MAP, "authentik-sso-blueprint").options.resource_id == (
        "authentik/authentik-blueprints-sso"
    )


def test_mfa_enforced_once_the_window_has_passed(record, real_raw):
    def change(raw):
        raw["authentik"]["mfa"]["enforced"] = True

    config = _with(real_raw, change, today=date(2027, 1, 10))
    mocks = record(lambda: AuthentikSso("authentik-sso", config))
    cm = mocks.one(CONFIG_MAP, "authentik-sso-blueprint")
    doc = ra.parse_blueprint(cm.inputs["data"][BLUEPRINT_KEY])
    (stage,) = [e for e in doc["entries"] if e["model"] == ra.MFA_STAGE_MODEL]
    assert stage["attrs"]["not_configured_action"] == "configure"
    assert stage["attrs"]["configuration_stages"] == [
        ay.key_of("mfa-setup-totp"),
        ay.key_of("mfa-setup-webauthn"),
    ]
    assert ra.serializer_problems(doc) == []
    assert ra.check_mfa({"kind": "ConfigMap", **cm.inputs}, config) == []
    # The same object a week before the window opens is a violation.
    early = config.authentik.mfa_allowed_from() - timedelta(days=7)
    assert [f.rule for f in ra.check_mfa({"kind": "ConfigMap", **cm.inputs}, config, on=early)] == [
        "authentik-mfa"
    ]


def test_public_grafana_client_has_no_secret_anywhere(record, real_raw):
    def change(raw):
        raw["authentik"]["clients"][0]["clientType"] = "public"

    config = _with(real_raw, change)
    mocks = record(lambda: AuthentikSso("authentik-sso", config))
    assert "authentik-sso-grafana-client-secret" not in [r.name for r in mocks.of_type(RANDOM)]
    assert set(_secret(mocks, "grafana-sso").inputs["stringData"]) == GRAFANA_KEYS - {
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"
    }
    assert (
        "SSO_CLIENT_SECRET_GRAFANA" not in _secret(mocks, "authentik-sso-client-secrets").inputs["stringData"]
    )
    doc = ra.parse_blueprint(mocks.one(CONFIG_MAP, "authentik-sso-blueprint").inputs["data"][BLUEPRINT_KEY])
    (provider,) = [e for e in doc["entries"] if e.get("id") == "provider-grafana"]
    assert provider["attrs"]["client_type"] == "public" and "client_secret" not in provider["attrs"]
