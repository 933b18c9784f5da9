"""The authentik section: the real config loads, and each bad input fails with one clear line."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from components.config import ConfigError, load
from tests.authentik_facts import facts_file
from tests.conftest import TEST_TODAY

TODAY = TEST_TODAY  # the MFA window depends on the day; the messages below are exact for this one


def _err(raw: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        load(raw, today=TEST_TODAY)
    message = str(exc.value)
    assert "\n" not in message, "a config error is exactly one line"
    return message


def _variant(real_raw: dict, change) -> dict:
    raw = copy.deepcopy(real_raw)
    change(raw["authentik"])
    return raw


def test_real_config_has_the_three_clients(real_config):
    cfg = real_config.authentik
    assert cfg.url == "https://authentik.fletcherlabs.net"
    assert [(c.slug, c.app) for c in cfg.clients] == [
        ("grafana", "grafana"),
        ("open-webui", "open-webui"),
        ("jellyfin", "jellyfin"),
    ]
    assert cfg.mfa.enforced is False
    assert cfg.mfa_allowed_from() == cfg.stability.since + timedelta(days=30)
    assert cfg.blueprint.authorization_flow == "default-provider-authorization-implicit-consent"
    assert cfg.blueprint.invalidation_flow == "default-provider-invalidation-flow"
    assert cfg.blueprint.signing_key == "authentik Self-signed Certificate"


def test_empty_section_is_refused_the_directive_names_three_apps(real_raw):
    assert _err({**real_raw, "authentik": {}}) == (
        "k3s-home:authentik.clients: no client for grafana, jellyfin, open-webui; the directive (Phase 3) "
        "puts Grafana, Jellyfin and Open WebUI behind authentik, so list one client for each"
    )


def test_the_jellyfin_plugin_version_decides_endpoint_validation(real_raw):
    def version(v):
        return load(
            _variant(real_raw, _set(("clients", 2, "jellyfin", "pluginVersion"), v)), today=TEST_TODAY
        ).authentik.clients[2]

    # 3.5.1.0 to 3.5.2.2 validate endpoints against the issuer path; 3.5.2.3 also allows its host.
    assert [
        version(v).jellyfin.do_not_validate_endpoints for v in ("3.5.2.0", "3.5.2.2", "3.5.2.3", "4.0.0.4")
    ] == [
        True,
        True,
        False,
        False,
    ]


def test_mfa_offers_every_device_class_the_pinned_authentik_has(real_config):
    cfg = real_config.authentik
    assert cfg.mfa.device_classes is None  # unset: every class of the pinned release
    assert cfg.mfa.accepted_classes(cfg.release) == ["static", "totp", "webauthn", "duo", "sms"]
    assert cfg.mfa.narrowed_classes(cfg.release) == []


def test_a_device_class_the_pinned_release_lacks_is_refused(real_raw):
    assert _err(_variant(real_raw, _set(("mfa", "deviceClasses"), ["totp", "webauthn", "email"]))) == (
        "k3s-home:authentik.mfa.deviceClasses: email is not a device class of authentik 2023.10.7 "
        "(clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16); it has static, totp, webauthn, duo, sms"
    )


def test_an_invalidation_flow_is_refused_on_2023_10(real_raw):
    raw = _variant(real_raw, lambda a: a.setdefault("blueprint", {}).update(invalidationFlow="x"))
    assert _err(raw) == (
        "k3s-home:authentik.blueprint.invalidationFlow: authentik 2023.10.7 "
        "(clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16) has no provider invalidation flow "
        "(added in 2024.10); remove the key"
    )


def test_a_regex_with_whitespace_cannot_be_written_for_2023_10(real_raw):
    def regex(a):
        a["clients"][0]["allowRegex"] = True
        a["clients"][0]["redirectUris"].append(
            {"url": "https://grafana\\.x\\.net/( a)", "matchingMode": "regex"}
        )

    assert _err(_variant(real_raw, regex)) == (
        "k3s-home:authentik.clients[0].redirectUris[1].url: regex redirect URI "
        "'https://grafana\\\\.x\\\\.net/( a)' contains whitespace, and authentik 2023.10 splits "
        "redirect_uris on whitespace (one regex per line); "
        "write \\s instead (version pinned at clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16)"
    )


def test_open_webui_redirects_to_the_host_its_route_serves(real_config):
    (client,) = [c for c in real_config.authentik.clients if c.app == "open-webui"]
    assert client.callback_url() == "https://ai.fletcherlabs.net/oauth/oidc/callback"
    assert client.launch_url == "https://ai.fletcherlabs.net"


def test_a_redirect_host_no_deployed_route_serves_is_refused_in_one_line(real_raw):
    def old_host(a):
        a["clients"][1]["redirectUris"][0]["url"] = "https://openwebui.fletcherlabs.net/oauth/oidc/callback"

    assert _err(_variant(real_raw, old_host)) == (
        "k3s-home:authentik.clients[1].redirectUris[0].url: host openwebui.fletcherlabs.net is served by no "
        "deployed HTTPRoute or Ingress of sudoflux/flux-k3s@9c35c94 (facts/k3s-home.yaml hosts; wildcard and "
        "redirect-only routes do not count); ai.fletcherlabs.net is routed by HTTPRoute "
        "ai/open-webui-http-route (clusters/k3s-home/apps/ai/open-webui/httproute.yaml:14)"
    )


@pytest.mark.parametrize(
    "host",
    [
        "fletcherlabs.net",  # only the http -> https redirect route names it
        "anything.fletcherlabs.net",  # matched by that route's wildcard only
        "longhorn.fletcherlabs.net",  # its routes are not deployed (facts: deployed: false)
    ],
)
def test_wildcard_redirect_and_undeployed_routes_do_not_serve_a_redirect_host(real_raw, host):
    def to(a):
        a["clients"][0]["redirectUris"][0]["url"] = f"https://{host}/login/generic_oauth"

    assert _err(_variant(real_raw, to)).startswith(
        f"k3s-home:authentik.clients[0].redirectUris[0].url: host {host} is served by no deployed"
    )


def test_a_cluster_whose_route_is_gone_refuses_the_redirect(real_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("K3S_HOME_FACTS", str(facts_file(tmp_path, drop_hosts=("jellyfin.fletcherlabs.net",))))
    message = _err(real_raw)
    assert message.startswith(
        "k3s-home:authentik.clients[2].redirectUris[0].url: host jellyfin.fletcherlabs.net is served by no "
        f"deployed HTTPRoute or Ingress of sudoflux/flux-k3s@9c35c94 ({tmp_path / 'facts.yaml'} hosts"
    )


def test_a_version_without_a_format_is_refused(real_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("K3S_HOME_FACTS", str(facts_file(tmp_path, authentik="2024.2.0")))
    assert _err(real_raw) == (
        "k3s-home:authentik: authentik 2024.2.0 (pinned at "
        "clusters/k3s-home/apps/auth/authentik/helmrelease.yaml:16) has no blueprint format in "
        "rules/authentik_release.py (known: 2023.10.x, 2025.12.x); add one, checked against that "
        "release's blueprint schema, before generating for it (ADR 0024)"
    )


def _set(path: tuple, value):
    def change(section: dict):
        node = section
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _redirect(url: str, mode: str = "strict"):
    return _set(("clients", 0, "redirectUris"), [{"url": url, "matchingMode": mode}])


BAD = {
    "duplicate slug": (
        _set(("clients", 1, "slug"), "grafana"),
        "k3s-home:authentik.clients[1].slug: "
        "duplicate slug 'grafana'; slugs are client ids and must be unique",
    ),
    "http redirect": (
        _redirect("http://grafana.fletcherlabs.net/login/generic_oauth"),
        "k3s-home:authentik.clients[0].redirectUris[0]: redirect URI "
        "'http://grafana.fletcherlabs.net/login/generic_oauth' must use https "
        "(tokens and codes travel in it)",
    ),
    "no host": (
        _redirect("https:///login/generic_oauth"),
        "k3s-home:authentik.clients[0].redirectUris[0]: redirect URI 'https:///login/generic_oauth' "
        "has no fully qualified host",
    ),
    "bad port": (
        _redirect("https://grafana.fletcherlabs.net:99999/login/generic_oauth"),
        "k3s-home:authentik.clients[0].redirectUris[0]: redirect URI "
        "'https://grafana.fletcherlabs.net:99999/login/generic_oauth' is not a valid URL",
    ),
    "whitespace": (
        _redirect("https://grafana.fletcherlabs.net/login/ generic_oauth"),
        "k3s-home:authentik.clients[0].redirectUris[0]: redirect URI "
        "'https://grafana.fletcherlabs.net/login/ generic_oauth' contains whitespace",
    ),
    "regex without opt-in": (
        _redirect(r"https://grafana\.fletcherlabs\.net/.*", "regex"),
        r"k3s-home:authentik.clients[0]: redirect URI 'https://grafana\.fletcherlabs\.net/.*' uses "
        "matchingMode regex; set allowRegex: true on client 'grafana' to opt in, or list the exact URL "
        "with matchingMode strict",
    ),
    "regex that does not compile": (
        lambda s: (
            _redirect("https://grafana.fletcherlabs.net/(", "regex")(s),
            _set(("clients", 0, "allowRegex"), True)(s),
        ),
        "k3s-home:authentik.clients[0].redirectUris[0]: regex redirect URI "
        "'https://grafana.fletcherlabs.net/(' does not compile: "
        "missing ), unterminated subpattern at position 33",
    ),
    "unknown app": (
        _set(("clients", 0, "app"), "nextcloud"),
        "k3s-home:authentik.clients[0].app: unknown app 'nextcloud'; "
        "expected one of grafana, jellyfin, open-webui",
    ),
    "unknown matching mode": (
        _redirect("https://grafana.fletcherlabs.net/login/generic_oauth", "glob"),
        "k3s-home:authentik.clients[0].redirectUris[0].matchingMode: Input should be 'strict' or 'regex'",
    ),
    "wrong callback path": (
        _redirect("https://grafana.fletcherlabs.net/callback"),
        "k3s-home:authentik.clients[0]: grafana receives the login callback on /login/generic_oauth; "
        "add https://<host>/login/generic_oauth",
    ),
    "role the app does not have": (
        _set(("clients", 0, "groups"), [{"name": "Grafana Admins", "role": "admin"}]),
        "k3s-home:authentik.clients[0]: group 'Grafana Admins' maps to role 'admin'; "
        "grafana roles: GrafanaAdmin, Admin, Editor, Viewer",
    ),
    "public client for an app that needs a secret": (
        _set(("clients", 1, "clientType"), "public"),
        "k3s-home:authentik.clients[1]: open-webui needs a client secret; use clientType: confidential",
    ),
    "jellyfin without its plugin block": (
        lambda s: s["clients"][2].pop("jellyfin"),
        "k3s-home:authentik.clients[2]: the jellyfin block (providerName, apiKeySecret, ...) "
        "belongs to app jellyfin, and only to it",
    ),
    "scope without a managed mapping": (
        _set(("clients", 0, "scopes"), ["openid", "groups"]),
        "k3s-home:authentik.clients[0].scopes: unknown scope 'groups'; "
        "authentik ships mappings for openid, email, profile, offline_access",
    ),
    "group name unsafe for JMESPath": (
        _set(("clients", 0, "groups"), [{"name": "Ops' Admins", "role": "Admin"}]),
        'k3s-home:authentik.clients[0].groups[0].name: group name "Ops\' Admins" may use letters, '
        "digits, space, '_', '.', '-' only",
    ),
    "stability shorter than the directive": (
        _set(("stability", "requiredDays"), 7),
        "k3s-home:authentik.stability.requiredDays: Input should be greater than or equal to 30",
    ),
    "mfa before 30-day stability": (
        _set(("mfa", "enforced"), True),
        "k3s-home:authentik.mfa: enforced: true is refused: not_configured_action: configure enforces MFA "
        "before 2026-12-16 (30 days after stability since 2026-11-16); directive prohibition 1 forbids "
        "2FA before 30-day stability; use skip until then",
    ),
    "mfa deny before 30-day stability": (
        lambda s: (_set(("mfa", "enforced"), True)(s), _set(("mfa", "notConfiguredAction"), "deny")(s)),
        "k3s-home:authentik.mfa: enforced: true is refused: not_configured_action: deny enforces MFA "
        "before 2026-12-16 (30 days after stability since 2026-11-16); directive prohibition 1 forbids "
        "2FA before 30-day stability; use skip until then",
    ),
    "mfa without a stability date": (
        lambda s: (_set(("mfa", "enforced"), True)(s), s.pop("stability")),
        "k3s-home:authentik.mfa: enforced: true is refused: not_configured_action: configure enforces MFA, "
        "but no stability start date is recorded; set authentik.stability.since (directive prohibition 1)",
    ),
    "stability since in the future": (
        _set(("stability", "since"), "2026-11-24"),
        "k3s-home:authentik.stability.since: 2026-11-24 is in the future (today is 2026-11-23); record the "
        "day the SSO went live: a later date would hide how long it has really been stable",
    ),
    "no client for one app": (
        lambda s: s["clients"].pop(1),
        "k3s-home:authentik.clients: no client for open-webui; the directive (Phase 3) puts Grafana, "
        "Jellyfin and Open WebUI behind authentik, so list one client for each",
    ),
    "device classes without webauthn": (
        _set(("mfa", "deviceClasses"), ["totp", "static"]),
        "k3s-home:authentik.mfa.deviceClasses: must include webauthn: users enrol webauthn devices through "
        "the setup stages, and a device class the validation stage does not accept can never sign in",
    ),
    "unknown device class": (
        _set(("mfa", "deviceClasses"), ["totp", "webauthn", "passkey"]),
        "k3s-home:authentik.mfa.deviceClasses[2]: Input should be 'static', 'totp', 'webauthn', 'duo', "
        "'sms' or 'email'",
    ),
    "jellyfin plugin without SchemeOverride": (
        _set(("clients", 2, "jellyfin", "pluginVersion"), "3.5.1.1"),
        "k3s-home:authentik.clients[2].jellyfin.pluginVersion: plugin 3.5.1.1 has no SchemeOverride, so "
        "behind the TLS ingress it sends an http:// redirect URI that authentik refuses; upgrade the SSO "
        "plugin to 3.5.2.0 or later",
    ),
    "jellyfin plugin version unreadable": (
        _set(("clients", 2, "jellyfin", "pluginVersion"), "v3.5"),
        "k3s-home:authentik.clients[2].jellyfin.pluginVersion: 'v3.5' is not a plugin version such as "
        "3.5.2.4 (Jellyfin: Dashboard, Plugins)",
    ),
    "open webui groups without an admin group": (
        _set(("clients", 1, "groups"), [{"name": "Open WebUI Users", "role": "user"}]),
        "k3s-home:authentik.clients[1]: open-webui reads the groups claim only when OAUTH_ADMIN_ROLES is "
        "set too; map one group to role admin, or every user gets the default role whatever their groups",
    ),
    "grafana with regex redirect only": (
        lambda s: (
            _redirect(r"https://grafana\.fletcherlabs\.net/login/generic_oauth", "regex")(s),
            _set(("clients", 0, "allowRegex"), True)(s),
        ),
        "k3s-home:authentik.clients[0]: grafana needs a strict redirect URI ending in /login/generic_oauth: "
        "its public URL (Grafana root_url, Open WebUI OPENID_REDIRECT_URI) is derived from it",
    ),
    "unknown key": (
        _set(("twoFactor",), True),
        "k3s-home:authentik.twoFactor: Extra inputs are not permitted",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_one_clear_line(real_raw, case):
    change, expected = BAD[case]
    assert _err(_variant(real_raw, change)) == expected


def test_regex_with_opt_in_is_accepted(real_raw):
    def change(section):
        section["clients"][0]["allowRegex"] = True
        section["clients"][0]["redirectUris"].append(
            {"url": r"https://grafana\.fletcherlabs\.net/login/generic_oauth\?.*", "matchingMode": "regex"}
        )

    client = load(_variant(real_raw, change), today=TEST_TODAY).authentik.clients[0]
    assert [u.matching_mode for u in client.redirect_uris] == ["strict", "regex"]


@pytest.mark.parametrize("days_ago, ok", [(29, False), (30, True), (45, True)])
def test_mfa_allowed_exactly_from_since_plus_30_days(real_raw, days_ago, ok):
    def change(section):
        section["stability"]["since"] = (TODAY - timedelta(days=days_ago)).isoformat()
        section["mfa"]["enforced"] = True

    raw = _variant(real_raw, change)
    if ok:
        assert load(raw, today=TEST_TODAY).authentik.mfa.enforced is True
    else:
        assert "directive prohibition 1" in _err(raw)


def test_missing_facts_are_one_line_naming_the_file(real_raw, tmp_path, monkeypatch):
    monkeypatch.setenv("K3S_HOME_FACTS", str(tmp_path / "nowhere.yaml"))
    assert _err(real_raw) == (
        f"{tmp_path / 'nowhere.yaml'}: cannot read the cluster facts (No such file or "
        "directory); run make facts FLUX_REPO=DIR"
    )
