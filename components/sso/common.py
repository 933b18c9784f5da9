"""Names, labels and URLs both sides of the SSO setup agree on."""

from __future__ import annotations

from components.config.authentik import AuthentikConfig

BLUEPRINT_KEY = "k3s-home-sso.yaml"  # the chart discovers only keys ending in .yaml
JELLYFIN_CONFIG_KEY = "oid-config.json"
CLIENT_SECRET_LENGTH = 64
BOOTSTRAP_PASSWORD_LENGTH = 40
BOOTSTRAP_TOKEN_LENGTH = 64
OAUTH_PROVIDER_NAME = "authentik"  # the login button label in Grafana and Open WebUI
LABELS = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-home-sso"}
# Marks blueprint ConfigMaps (the convention of the authentik blueprint sidecar) for audits.
BLUEPRINT_LABELS = {**LABELS, "goauthentik_blueprint": "1"}


def issuer(cfg: AuthentikConfig, slug: str) -> str:
    return f"{cfg.url}/application/o/{slug}/"


def discovery_url(cfg: AuthentikConfig, slug: str) -> str:
    return f"{issuer(cfg, slug)}.well-known/openid-configuration"
