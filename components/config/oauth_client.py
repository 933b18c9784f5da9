"""One SSO client of the authentik section (`authentik.clients[]`): its app, redirect URIs, groups and
roles, and for Jellyfin the plugin's configuring Job. Every check that can be made on config alone is
made here."""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from .base import DNS_LABEL, Model

APPS = ("grafana", "jellyfin", "open-webui")
# Roles each app understands, strongest first (Grafana's JMESPath checks them in this order).
APP_ROLES: dict[str, tuple[str, ...]] = {
    "grafana": ("GrafanaAdmin", "Admin", "Editor", "Viewer"),
    "open-webui": ("admin", "user"),
    "jellyfin": ("admin", "user"),
}
# Where each app receives the OAuth callback; a strict redirect URI must end with it.
APP_CALLBACK: dict[str, str] = {
    "grafana": "/login/generic_oauth",
    "open-webui": "/oauth/oidc/callback",
    "jellyfin": "/sso/OID/redirect/{provider}",
}
# Scopes authentik ships managed scope mappings for (goauthentik.io/providers/oauth2/scope-<name>).
SCOPES = ("openid", "email", "profile", "offline_access")
# Jellyfin SSO plugin releases (9p4/jellyfin-plugin-sso, docs/upstream-facts.md): SchemeOverride exists
# from 3.5.2.0; from 3.5.1.0 up to 3.5.2.2 discovery validation refuses authentik's endpoints unless
# DoNotValidateEndpoints is set; 3.5.2.3 allows the issuer's host and needs no exception.
JELLYFIN_SCHEME_OVERRIDE_FROM = (3, 5, 2, 0)
JELLYFIN_STRICT_ENDPOINTS = ((3, 5, 1, 0), (3, 5, 2, 3))
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
# Group names end up in JMESPath literals and comma-separated env values: keep them plain.
_GROUP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


def https_url(url: str, what: str) -> str:
    """`url` if it is an absolute https URL with a host, else a ValueError naming `what`."""
    if any(c.isspace() for c in url):
        raise ValueError(f"{what} '{url}' contains whitespace")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValueError(f"{what} '{url}' is not a valid URL") from None
    if parts.scheme != "https":
        raise ValueError(f"{what} '{url}' must use https (tokens and codes travel in it)")
    if not host or "." not in host:
        raise ValueError(f"{what} '{url}' has no fully qualified host")
    if parts.fragment:
        raise ValueError(f"{what} '{url}' must not contain a #fragment")
    return url


def k8s_name(value: str, what: str) -> str:
    if not DNS_LABEL.match(value):
        raise ValueError(f"{what} '{value}' is not a valid Kubernetes name (lowercase, digits, '-')")
    return value


class RedirectUri(Model):
    url: str
    matching_mode: Literal["strict", "regex"] = "strict"

    @model_validator(mode="after")
    def _url(self) -> RedirectUri:
        if self.matching_mode == "strict":
            https_url(self.url, "redirect URI")
            return self
        # A regex is matched against the whole redirect URI: it must still pin https and compile.
        if not self.url.startswith("https://"):
            raise ValueError(f"regex redirect URI '{self.url}' must start with https://")
        try:
            re.compile(self.url)
        except re.error as err:
            raise ValueError(f"regex redirect URI '{self.url}' does not compile: {err}") from None
        return self


class GroupRole(Model):
    """Members of authentik group `name` get `role` in the app."""

    name: str
    role: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _GROUP.match(value):
            raise ValueError(f"group name {value!r} may use letters, digits, space, '_', '.', '-' only")
        return value


class SecretKeyRef(Model):
    name: str
    key: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return k8s_name(value, "secret name")


class JellyfinSso(Model):
    """The Jellyfin SSO plugin (9p4/jellyfin-plugin-sso) is configured only through its HTTP API."""

    provider_name: str = "authentik"
    # In-cluster base URL the configuring Job posts to.
    api_url: str = "http://jellyfin.media.svc.cluster.local:8096"
    # An existing Secret (created in Jellyfin's dashboard, stored SOPS-encrypted by Flux) with an API key.
    api_key_secret: SecretKeyRef
    # Version of the plugin installed in Jellyfin (Dashboard, Plugins): decides the endpoint validation.
    plugin_version: str
    # Runs the stdlib script components/sso/scripts/jellyfin_sso.py; pinned, never :latest.
    image: str = "docker.io/library/python:3.12.11-alpine3.22"

    @field_validator("provider_name")
    @classmethod
    def _provider(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_-]{1,40}$", value):
            raise ValueError(f"providerName '{value}' appears in URLs; use letters, digits, '_' or '-'")
        return value

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"apiUrl '{value}' must be an http(s) URL of the Jellyfin service")
        return value.rstrip("/")

    @field_validator("plugin_version")
    @classmethod
    def _plugin_version(cls, value: str) -> str:
        if not re.match(r"^\d+\.\d+\.\d+\.\d+$", value):
            raise ValueError(
                f"'{value}' is not a plugin version such as 3.5.2.4 (Jellyfin: Dashboard, Plugins)"
            )
        if _version(value) < JELLYFIN_SCHEME_OVERRIDE_FROM:
            raise ValueError(
                f"plugin {value} has no SchemeOverride, so behind the TLS ingress it sends an http:// "
                "redirect URI that authentik refuses; upgrade the SSO plugin to 3.5.2.0 or later"
            )
        return value

    @property
    def do_not_validate_endpoints(self) -> bool:
        """Only plugin releases that validate discovery endpoints against the issuer path need it."""
        low, high = JELLYFIN_STRICT_ENDPOINTS
        return low <= _version(self.plugin_version) < high


def _version(value: str) -> tuple[int, ...]:
    return tuple(int(part) for part in value.split("."))


class OAuthClient(Model):
    slug: str
    app: str
    name: str = Field(min_length=1)
    namespace: str
    redirect_uris: list[RedirectUri] = Field(min_length=1)
    # Regex redirect URIs widen where codes may be sent; each client opts in explicitly.
    allow_regex: bool = False
    launch_url: str
    client_type: Literal["confidential", "public"] = "confidential"
    scopes: list[str] = ["openid", "email", "profile"]
    groups: list[GroupRole] = Field(default_factory=list)
    # Role for signed-in users in none of `groups`; None refuses them (Grafana role strict mode).
    default_role: str | None = None
    # App-side Secret name; default `<slug>-sso`.
    secret_name: str | None = None
    jellyfin: JellyfinSso | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"slug '{value}' must be lowercase letters, digits and '-' (it is the client id)"
            )
        return value

    @field_validator("app")
    @classmethod
    def _app(cls, value: str) -> str:
        if value not in APPS:
            raise ValueError(f"unknown app '{value}'; expected one of {', '.join(APPS)}")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return k8s_name(value, "namespace")

    @field_validator("secret_name")
    @classmethod
    def _secret_name(cls, value: str | None) -> str | None:
        return None if value is None else k8s_name(value, "secretName")

    @field_validator("launch_url")
    @classmethod
    def _launch(cls, value: str) -> str:
        return https_url(value, "launch URL")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SCOPES]
        if unknown:
            raise ValueError(
                f"unknown scope '{unknown[0]}'; authentik ships mappings for {', '.join(SCOPES)}"
            )
        if "openid" not in value:
            raise ValueError("scopes must include openid (every client here is OpenID Connect)")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _consistent(self) -> OAuthClient:
        for uri in self.redirect_uris:
            if uri.matching_mode == "regex" and not self.allow_regex:
                raise ValueError(
                    f"redirect URI '{uri.url}' uses matchingMode regex; set allowRegex: true on "
                    f"client '{self.slug}' to opt in, or list the exact URL with matchingMode strict"
                )
        roles = APP_ROLES[self.app]
        for group in self.groups:
            if group.role not in roles:
                raise ValueError(
                    f"group '{group.name}' maps to role '{group.role}'; {self.app} roles: {', '.join(roles)}"
                )
        if self.default_role is not None and self.default_role not in roles:
            raise ValueError(
                f"defaultRole '{self.default_role}' is not a {self.app} role ({', '.join(roles)})"
            )
        if self.client_type == "public" and self.app != "grafana":
            # Open WebUI and the Jellyfin plugin authenticate server-side with a client secret.
            raise ValueError(f"{self.app} needs a client secret; use clientType: confidential")
        if (self.app == "jellyfin") != (self.jellyfin is not None):
            raise ValueError(
                "the jellyfin block (providerName, apiKeySecret, ...) belongs to app jellyfin, and only to it"
            )
        callback = APP_CALLBACK[self.app].format(
            provider=self.jellyfin.provider_name if self.jellyfin else ""
        )
        strict = [u.url for u in self.redirect_uris if u.matching_mode == "strict"]
        if strict and not any(urlsplit(u).path.rstrip("/") == callback for u in strict):
            raise ValueError(
                f"{self.app} receives the login callback on {callback}; add https://<host>{callback}"
            )
        if self.app in ("grafana", "open-webui") and not strict:
            raise ValueError(
                f"{self.app} needs a strict redirect URI ending in {callback}: its public URL "
                "(Grafana root_url, Open WebUI OPENID_REDIRECT_URI) is derived from it"
            )
        if self.app == "open-webui" and self.groups and not any(g.role == "admin" for g in self.groups):
            raise ValueError(
                "open-webui reads the groups claim only when OAUTH_ADMIN_ROLES is set too; map one group "
                "to role admin, or every user gets the default role whatever their groups"
            )
        return self

    def callback_url(self) -> str:
        """The first strict redirect URI that ends in the app's callback path."""
        callback = APP_CALLBACK[self.app].format(
            provider=self.jellyfin.provider_name if self.jellyfin else ""
        )
        return next(
            u.url
            for u in self.redirect_uris
            if u.matching_mode == "strict" and urlsplit(u.url).path.rstrip("/") == callback
        )

    @property
    def refuses_outsiders(self) -> bool:
        """Users in none of `groups` are refused by an authentik group binding on the application,
        unless a default role lets every signed-in user in."""
        return bool(self.groups) and self.default_role is None

    @property
    def app_secret_name(self) -> str:
        return self.secret_name or f"{self.slug}-sso"

    @property
    def env_name(self) -> str:
        """The authentik-side env var holding this client's secret (read by the blueprint's !Env)."""
        # Not AUTHENTIK_*: authentik parses that prefix as its own configuration.
        return "SSO_CLIENT_SECRET_" + self.slug.upper().replace("-", "_")
