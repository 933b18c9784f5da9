"""The app side: exactly the keys each app (Grafana, Open WebUI, Jellyfin) reads.

App behaviour these settings rely on, with sources: docs/upstream-facts.md.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pulumi

from components.config.authentik import AuthentikConfig
from components.config.oauth_client import APP_ROLES, OAuthClient
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
    """The fields of the plugin's OidConfig this stack owns, in the plugin's own (PascalCase) names.

    The Job merges them into the live provider config, so `CanonicalLinks` (the users' links) and
    anything set by hand in the plugin's page survive; see components/sso/scripts/jellyfin_sso.py.
    """
    jf = client.jellyfin
    assert jf is not None
    admins = _groups_for(client, "admin")
    users = _groups_for(client, "user")
    return {
        "OidEndpoint": discovery_url(cfg, client.slug),
        "OidClientId": client.slug,
        "OidSecret": secret,
        "Enabled": True,
        # With groups configured, only their members may sign in; admins are always allowed.
        "EnableAuthorization": bool(admins or users),
        "EnableAllFolders": True,
        "EnabledFolders": [],
        "AdminRoles": admins,
        "Roles": list(dict.fromkeys(users + admins)),
        "EnableFolderRoles": False,
        "FolderRoleMapping": [],
        "RoleClaim": "groups",
        "OidScopes": [s for s in client.scopes if s != "openid"],
        # Behind the TLS-terminating ingress Jellyfin sees http; authentik's strict redirect URI is https.
        "SchemeOverride": urlsplit(client.callback_url()).scheme,
        # /sso/OID/start/... logins return on /sso/OID/redirect/... (the registered URI), linking too.
        "NewPath": True,
        "DoNotValidateEndpoints": jf.do_not_validate_endpoints,
    }


def app_secret_data(cfg: AuthentikConfig, client: OAuthClient, secret: pulumi.Input[str]) -> dict[str, Any]:
    """Exactly the keys `client.app` reads; the secret-bearing values are derived from `secret`."""
    scopes = " ".join(client.scopes)
    if client.app == "grafana":
        data: dict[str, Any] = {
            # Grafana builds its redirect URI from root_url, which defaults to http://localhost:3000/.
            "GF_SERVER_ROOT_URL": client.callback_url().removesuffix("login/generic_oauth"),
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
            "OPENID_REDIRECT_URI": client.callback_url(),
            "ENABLE_OAUTH_SIGNUP": "true",
            # The local admin (same email) signs in through SSO instead of hitting EMAIL_TAKEN.
            "OAUTH_MERGE_ACCOUNTS_BY_EMAIL": "true",
            # Who reaches Open WebUI without a mapped group gets this role; with groups and no default role
            # authentik refuses such users before Open WebUI sees them (group binding, see blueprint).
            "DEFAULT_USER_ROLE": client.default_role or "pending",
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
    # jellyfin: the configuring Job merges these fields into the plugin's provider config.
    body = pulumi.Output.from_input(secret).apply(
        lambda s: json.dumps(jellyfin_oid_config(cfg, client, s), indent=2)
    )
    return {JELLYFIN_CONFIG_KEY: body}
