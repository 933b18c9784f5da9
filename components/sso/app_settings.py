"""The app side: exactly the keys each app (Grafana, Open WebUI, Jellyfin) reads; the Jellyfin Job script."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi

from components.config.authentik import APP_ROLES, AuthentikConfig, OAuthClient
from components.sso.common import JELLYFIN_CONFIG_KEY, OAUTH_PROVIDER_NAME, discovery_url


def _quote_jmes(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def grafana_role_path(client: OAuthClient) -> str:
    """JMESPath over the userinfo claims: the strongest role whose group the user is in."""
    terms = []
    for role in APP_ROLES["grafana"]:  # strongest first
        for group in (g for g in client.groups if g.role == role):
            terms.append(f"contains(groups[*], {_quote_jmes(group.name)}) && '{role}'")
    if client.default_role:
        terms.append(f"'{client.default_role}'")
    return " || ".join(terms) or "''"


def _groups_for(client: OAuthClient, role: str) -> list[str]:
    return [g.name for g in client.groups if g.role == role]


def jellyfin_oid_config(cfg: AuthentikConfig, client: OAuthClient, secret: str) -> dict[str, Any]:
    """The body of `POST /sso/OID/Add/<provider>` (the plugin's OidConfig)."""
    admins = _groups_for(client, "admin")
    users = _groups_for(client, "user")
    return {
        "oidEndpoint": discovery_url(cfg, client.slug),
        "oidClientId": client.slug,
        "oidSecret": secret,
        "enabled": True,
        # With groups configured, only their members may sign in; admins are always allowed.
        "enableAuthorization": bool(admins or users),
        "enableAllFolders": True,
        "enabledFolders": [],
        "adminRoles": admins,
        "roles": list(dict.fromkeys(users + admins)),
        "enableFolderRoles": False,
        "folderRoleMapping": [],
        "roleClaim": "groups",
        "oidScopes": [s for s in client.scopes if s != "openid"],
    }


def app_secret_data(cfg: AuthentikConfig, client: OAuthClient, secret: pulumi.Input[str]) -> dict[str, Any]:
    """Exactly the keys `client.app` reads; the secret-bearing values are derived from `secret`."""
    scopes = " ".join(client.scopes)
    if client.app == "grafana":
        data: dict[str, Any] = {
            "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
            "GF_AUTH_GENERIC_OAUTH_NAME": OAUTH_PROVIDER_NAME,
            "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": client.slug,
            "GF_AUTH_GENERIC_OAUTH_SCOPES": scopes,
            "GF_AUTH_GENERIC_OAUTH_AUTH_URL": f"{cfg.url}/application/o/authorize/",
            "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": f"{cfg.url}/application/o/token/",
            "GF_AUTH_GENERIC_OAUTH_API_URL": f"{cfg.url}/application/o/userinfo/",
            "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH": grafana_role_path(client),
            # Without a default role, users outside every group are refused instead of made Viewer.
            "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT": "false" if client.default_role else "true",
            "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP": "true",
            "GF_AUTH_GENERIC_OAUTH_USE_PKCE": "true",
        }
        if client.client_type == "confidential":
            data["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] = secret
        return data
    if client.app == "open-webui":
        data = {
            "OAUTH_CLIENT_ID": client.slug,
            "OAUTH_CLIENT_SECRET": secret,
            "OPENID_PROVIDER_URL": discovery_url(cfg, client.slug),
            "OAUTH_PROVIDER_NAME": OAUTH_PROVIDER_NAME,
            "OAUTH_SCOPES": scopes,
            "OPENID_REDIRECT_URI": next(u.url for u in client.redirect_uris if u.matching_mode == "strict"),
            "ENABLE_OAUTH_SIGNUP": "true",
        }
        admins, users = _groups_for(client, "admin"), _groups_for(client, "user")
        if admins or users:
            data |= {
                "ENABLE_OAUTH_ROLE_MANAGEMENT": "true",
                "OAUTH_ROLES_CLAIM": "groups",
                "OAUTH_ADMIN_ROLES": ",".join(admins),
                "OAUTH_ALLOWED_ROLES": ",".join(dict.fromkeys(users + admins)),
            }
        return data
    # jellyfin: the plugin reads one OidConfig document; the configuring Job posts it.
    body = pulumi.Output.from_input(secret).apply(
        lambda s: json.dumps(jellyfin_oid_config(cfg, client, s), indent=2)
    )
    return {JELLYFIN_CONFIG_KEY: body}


def jellyfin_script() -> str:
    """The Job's shell script; the API key and the config come from the environment and a file."""
    return (
        "set -eu\n"
        "# POST replaces the provider's whole config in the plugin: re-running converges (idempotent).\n"
        "curl --fail --silent --show-error --retry 10 --retry-delay 15 --retry-all-errors \\\n"
        '  -X POST "$JELLYFIN_URL/sso/OID/Add/$PROVIDER" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        '  -H "Authorization: MediaBrowser Token=\\"$JELLYFIN_API_KEY\\"" \\\n'
        f"  --data-binary @/sso/{JELLYFIN_CONFIG_KEY} >/dev/null\n"
        'echo "jellyfin SSO provider $PROVIDER configured"\n'
    )


def config_hash(cfg: AuthentikConfig, client: OAuthClient) -> str:
    """Hash of the non-secret Jellyfin config: a change replaces the Job, which re-posts it."""
    public = jellyfin_oid_config(cfg, client, secret="")
    return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:16]
