"""What the chart and people need: the HelmRelease values to mount our objects, and the exported summary."""

from __future__ import annotations

from typing import Any

from components.config.authentik import AuthentikConfig
from components.config.oauth_client import OAuthClient
from components.sso.common import issuer
from rules.authentik_release import Release


def helm_values(cfg: AuthentikConfig, release: Release | None = None) -> dict[str, Any]:
    """Values the (Flux-owned) authentik HelmRelease needs to mount what this component creates, in the
    keys of the chart the Flux repo pins (`release`, default `cfg.release`; ADR 0024).

    `envFrom` for Secrets: the client secrets are env vars read by `!Env`, and the bootstrap variables
    must reach the server and the worker. Chart 2023.10.x has a top-level `envFrom` (server and worker)
    and `blueprints`, a list of ConfigMap names mounted on the worker; from 2024.2 they are
    `global.envFrom` and `blueprints.configMaps` (whose `blueprints.secrets` would mount blueprint
    *files*, which we do not need: the blueprint itself holds no secret).
    """
    release = release or cfg.release
    env_from = [
        {"secretRef": {"name": cfg.client_secrets_name}},
        {"secretRef": {"name": cfg.bootstrap.secret_name}},
    ]
    if release.chart_values == "top-level":
        return {"envFrom": env_from, "blueprints": [cfg.blueprint.config_map]}
    return {"global": {"envFrom": env_from}, "blueprints": {"configMaps": [cfg.blueprint.config_map]}}


def client_summary(cfg: AuthentikConfig, client: OAuthClient) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "slug": client.slug,
        "app": client.app,
        "clientType": client.client_type,
        "redirectUris": [u.url for u in client.redirect_uris],
        "issuer": issuer(cfg, client.slug),
        "appSecret": f"{client.namespace}/{client.app_secret_name}",
        "authentikEnv": f"{cfg.namespace}/{cfg.client_secrets_name}:{client.env_name}"
        if client.client_type == "confidential"
        else None,
    }
    if client.jellyfin:
        summary["configureJob"] = f"{client.namespace}/{client.slug}-sso-configure"
    return summary


def summarize(cfg: AuthentikConfig) -> dict[str, Any]:
    """Plain values only (exported as a stack output): names and locations, never a secret."""
    allowed = cfg.mfa_allowed_from()
    return {
        "url": cfg.url,
        "namespace": cfg.namespace,
        "authentik": cfg.pinned.describe(),
        "blueprintConfigMap": f"{cfg.namespace}/{cfg.blueprint.config_map}",
        "clientSecrets": f"{cfg.namespace}/{cfg.client_secrets_name}",
        "bootstrapSecret": f"{cfg.namespace}/{cfg.bootstrap.secret_name}",
        "helmValues": helm_values(cfg),
        "mfa": {
            "enforced": cfg.mfa.enforced,
            "allowedFrom": allowed.isoformat() if allowed else None,
        },
        "clients": [client_summary(cfg, c) for c in cfg.clients],
    }
