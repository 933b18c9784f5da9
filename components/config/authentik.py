"""The authentik section: SSO clients (Grafana, Jellyfin, Open WebUI), bootstrap and the 2FA prohibition.

Everything downstream (blueprint, Secrets, Jellyfin Job, docs/authentik-setup.md, the summary)
trusts this model, so every check that can be made on config alone is made here. The MFA timing is
the rule's own function (rules.authentik.mfa_block_reason); one SSO client is config/oauth_client.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

import facts
from rules.authentik import STABILITY_DAYS, mfa_allowed_from, mfa_block_reason
from rules.authentik_release import Release, inexpressible_redirect, release_for, unsupported

from .base import KeyedValueError, Model, judging_day, judging_facts
from .oauth_client import APPS, OAuthClient, https_url, k8s_name

# Device classes any authentik release here offers; which of them the pinned one has is its Release's
# `device_classes` (2023.10 has no `email`; docs/upstream-facts.md).
DEVICE_CLASSES = ("static", "totp", "webauthn", "duo", "sms", "email")
DeviceClass = Literal["static", "totp", "webauthn", "duo", "sms", "email"]
RELEASE_NAME = "authentik"  # the HelmRelease (in the section's namespace) whose pin decides the format


@dataclass(frozen=True)
class Pinned:
    """The authentik release the Flux repo pins (facts), and the format generated for it."""

    version: str
    source: str  # file:line in the Flux repo
    release: Release

    def describe(self) -> str:
        return f"authentik {self.version} ({self.source})"


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Stability(Model):
    """When the SSO went live; MFA may be enforced only `required_days` after `since`."""

    since: date | None = None
    required_days: int = Field(default=STABILITY_DAYS, ge=STABILITY_DAYS)

    @field_validator("since")
    @classmethod
    def _not_future(cls, value: date | None, info: ValidationInfo) -> date | None:
        today = judging_day(info)
        if value is not None and value > today:
            raise ValueError(
                f"{value.isoformat()} is in the future (today is {today.isoformat()}); record the day the "
                "SSO went live: a later date would hide how long it has really been stable"
            )
        return value


class Mfa(Model):
    """The request to enforce MFA in the default authentication flow's validation stage.

    `configure` needs setup stages (authentik's serializer refuses it without `configuration_stages`):
    the blueprint finds or creates the TOTP and WebAuthn setup stages named here and lists them.
    """

    enforced: bool = False
    not_configured_action: Literal["configure", "deny"] = "configure"
    stage: str = "default-authentication-mfa-validation"
    # Unset: every class the pinned release offers. Narrowing it locks out users whose only device is of
    # another class.
    device_classes: list[DeviceClass] | None = Field(default=None, min_length=1)
    # Setup stages (found or created by name); their configure flows have the same slugs in authentik.
    totp_setup_stage: str = Field(default="default-authenticator-totp-setup", min_length=1)
    webauthn_setup_stage: str = Field(default="default-authenticator-webauthn-setup", min_length=1)

    @field_validator("device_classes")
    @classmethod
    def _classes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for needed in ("totp", "webauthn"):
            if needed not in value:
                raise ValueError(
                    f"must include {needed}: users enrol {needed} devices through the setup stages, and a "
                    "device class the validation stage does not accept can never sign in"
                )
        return list(dict.fromkeys(value))

    def accepted_classes(self, release: Release) -> list[str]:
        """The device classes the validation stage lists on `release`."""
        return list(self.device_classes) if self.device_classes else list(release.device_classes)

    def narrowed_classes(self, release: Release) -> list[str]:
        """Device classes `release` offers that this stage does not accept (shown in the docs)."""
        return [c for c in release.device_classes if c not in self.accepted_classes(release)]


class Bootstrap(Model):
    email: str = "admin@fletcherlabs.net"
    secret_name: str = "authentik-bootstrap"

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    @field_validator("secret_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return k8s_name(value, "secretName")


class Blueprint(Model):
    """How the blueprint refers to objects every authentik install ships."""

    config_map: str = "authentik-blueprints-sso"
    authorization_flow: str = "default-provider-authorization-implicit-consent"
    invalidation_flow: str = "default-provider-invalidation-flow"
    signing_key: str = "authentik Self-signed Certificate"

    @field_validator("config_map")
    @classmethod
    def _name(cls, value: str) -> str:
        return k8s_name(value, "configMap")


class AuthentikConfig(Model):
    url: str = "https://authentik.fletcherlabs.net"
    namespace: str = "authentik"
    stability: Stability = Stability()
    mfa: Mfa = Mfa()
    bootstrap: Bootstrap = Bootstrap()
    blueprint: Blueprint = Blueprint()
    # authentik-side Secret with every client secret, mounted through the chart's envFrom.
    client_secrets_name: str = "authentik-sso-client-secrets"
    clients: list[OAuthClient] = Field(default_factory=list, validate_default=True)
    _pinned: Pinned = PrivateAttr()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        https_url(value, "authentik url")
        if urlsplit(value).path not in ("", "/"):
            raise ValueError(
                f"authentik url '{value}' must be the bare origin, e.g. https://authentik.example.net"
            )
        return value.rstrip("/")

    @field_validator("namespace", "client_secrets_name")
    @classmethod
    def _names(cls, value: str) -> str:
        return k8s_name(value, "name")

    @field_validator("mfa")
    @classmethod
    def _mfa(cls, mfa: Mfa, info: ValidationInfo) -> Mfa:
        # Directive prohibition 1, judged by the same function as the policy rule.
        stability = info.data.get("stability")
        if mfa.enforced and stability is not None:
            reason = mfa_block_reason(
                mfa.not_configured_action, stability.since, stability.required_days, on=judging_day(info)
            )
            if reason:
                raise ValueError(f"enforced: true is refused: {reason}")
        return mfa

    @field_validator("clients")
    @classmethod
    def _unique(cls, clients: list[OAuthClient]) -> list[OAuthClient]:
        missing = [app for app in APPS if app not in {c.app for c in clients}]
        if missing:
            raise ValueError(
                f"no client for {', '.join(missing)}; the directive (Phase 3) puts Grafana, Jellyfin and "
                "Open WebUI behind authentik, so list one client for each"
            )
        seen: set[str] = set()
        for i, client in enumerate(clients):
            if client.slug in seen:
                raise KeyedValueError(
                    (i, "slug"), f"duplicate slug '{client.slug}'; slugs are client ids and must be unique"
                )
            seen.add(client.slug)
        targets = [(c.namespace, c.app_secret_name) for c in clients]
        for i, target in enumerate(targets):
            if target in targets[:i]:
                raise KeyedValueError(
                    (i, "secretName"),
                    f"two clients write Secret {target[0]}/{target[1]}; set distinct secretName",
                )
        return clients

    @model_validator(mode="after")
    def _for_the_pinned_release(self, info: ValidationInfo) -> AuthentikConfig:
        """Everything generated is for the release the Flux repo pins (facts): what that release cannot
        express is refused here, and every redirect URI must reach a host the cluster serves."""
        try:
            cluster = judging_facts(info)
        except facts.FactsError as err:
            raise ValueError(str(err)) from None  # one line naming the file and the fix
        try:
            fact = cluster.release(self.namespace, RELEASE_NAME)
        except KeyError:
            raise ValueError(
                f"the Flux repo has no HelmRelease {self.namespace}/{RELEASE_NAME} ({facts.path()}), so no "
                f"authentik version to generate for; {facts.FIX}"
            ) from None
        version = fact.app_version or fact.version
        source = fact.app_version_source or fact.version_source
        release = release_for(version)
        if release is None:
            raise ValueError(unsupported(version, source))
        pinned = Pinned(version, source, release)
        if self.mfa.device_classes:
            missing = [c for c in self.mfa.device_classes if c not in release.device_classes]
            if missing:
                raise KeyedValueError(
                    ("mfa", "deviceClasses"),
                    f"{', '.join(missing)} is not a device class of {pinned.describe()}; it has "
                    f"{', '.join(release.device_classes)}",
                )
        if not release.invalidation_flow and "invalidation_flow" in self.blueprint.model_fields_set:
            raise KeyedValueError(
                ("blueprint", "invalidationFlow"),
                f"{pinned.describe()} has no provider invalidation flow (added in 2024.10); remove the key",
            )
        served = {h.host: h for h in cluster.hosts if h.deployed and "*" not in h.host and not h.redirect}
        for i, client in enumerate(self.clients):
            for j, uri in enumerate(client.redirect_uris):
                key = ("clients", i, "redirectUris", j, "url")
                reason = inexpressible_redirect(release, uri.matching_mode, uri.url)
                if reason:
                    raise KeyedValueError(key, f"{reason} (version pinned at {pinned.source})")
                host = urlsplit(uri.url).hostname if uri.matching_mode == "strict" else None
                if host is not None and host not in served:
                    raise KeyedValueError(key, _unserved(host, client, served, cluster))
        self._pinned = pinned
        return self

    @property
    def pinned(self) -> Pinned:
        return self._pinned

    @property
    def release(self) -> Release:
        return self._pinned.release

    def mfa_allowed_from(self) -> date | None:
        return mfa_allowed_from(self.stability.since, self.stability.required_days)


def _unserved(host: str, client: OAuthClient, served: dict, cluster: facts.Facts) -> str:
    """Why a redirect host is refused, naming the facts and the host the client's app is routed at."""
    where = "facts/k3s-home.yaml" if facts.path() == facts.COMMITTED else str(facts.path())
    mine = [h for h in served.values() if h.namespace == client.namespace and client.app in h.name]
    mine = mine or [h for h in served.values() if h.namespace == client.namespace]
    hint = "".join(f"; {h.host} is routed by {h.kind} {h.namespace}/{h.name} ({h.source})" for h in mine)
    return (
        f"host {host} is served by no deployed HTTPRoute or Ingress of "
        f"{cluster.repository}@{cluster.commit[:7]} ({where} hosts; wildcard and redirect-only routes "
        f"do not count){hint}"
    )
