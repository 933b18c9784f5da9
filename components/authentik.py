"""Authentik SSO (directive Phase 3): OAuth2 clients for Grafana, Jellyfin and Open WebUI.

One model, two sides:
- authentik side (namespace `authentik`): a blueprint ConfigMap in the 2024.10+ format (groups,
  OAuth2 providers, applications, and the MFA stage pinned to `skip` while prohibition 1 holds), a
  Secret with every client secret as env vars the blueprint reads through `!Env`, and the admin
  bootstrap Secret. The chart mounts them with `blueprints.configMaps` and `global.envFrom`
  (`helm_values`); the HelmRelease itself stays with Flux.
- app side: one Secret per client in the app's namespace holding exactly the keys that app reads,
  and for Jellyfin (configured only through its plugin API) an idempotent Job that posts the config.

Client secrets, the bootstrap password and the bootstrap token come from `generated_secret`: they
live in Pulumi state and Kubernetes Secrets only, never in a ConfigMap, the docs, logs or outputs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from components import authentik_yaml as ay
from components.config import StackConfig
from components.config.authentik import APP_ROLES, AuthentikConfig, OAuthClient
from components.generated_secret import generated_secret
from rules.authentik import MFA_STAGE_MODEL

BLUEPRINT_KEY = "k3s-home-sso.yaml"  # the chart discovers only keys ending in .yaml
JELLYFIN_CONFIG_KEY = "oid-config.json"
CLIENT_SECRET_LENGTH = 64
BOOTSTRAP_PASSWORD_LENGTH = 40
BOOTSTRAP_TOKEN_LENGTH = 64
OAUTH_PROVIDER_NAME = "authentik"  # the login button label in Grafana and Open WebUI

LABELS = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-home-sso"}
# Marks blueprint ConfigMaps (the convention of the authentik blueprint sidecar) for audits.
BLUEPRINT_LABELS = {**LABELS, "goauthentik_blueprint": "1"}


# --- URLs -----------------------------------------------------------------------------------------


def issuer(cfg: AuthentikConfig, slug: str) -> str:
    return f"{cfg.url}/application/o/{slug}/"


def discovery_url(cfg: AuthentikConfig, slug: str) -> str:
    return f"{issuer(cfg, slug)}.well-known/openid-configuration"


# --- the blueprint --------------------------------------------------------------------------------


def _group_id(group: str) -> str:
    return "group-" + re.sub(r"[^a-z0-9]+", "-", group.lower()).strip("-")


def build_blueprint(cfg: AuthentikConfig) -> dict[str, Any]:
    """The SSO blueprint as a document with `ay.Tag`s; secrets appear only as `!Env` references."""
    entries: list[dict[str, Any]] = []
    groups = dict.fromkeys(g.name for client in cfg.clients for g in client.groups)
    for group in groups:
        entries.append(
            {"model": "authentik_core.group", "id": _group_id(group), "identifiers": {"name": group}}
        )
    flows = cfg.blueprint
    for client in cfg.clients:
        provider_id = f"provider-{client.slug}"
        attrs: dict[str, Any] = {
            "authorization_flow": ay.find("authentik_flows.flow", ("slug", flows.authorization_flow)),
            "invalidation_flow": ay.find("authentik_flows.flow", ("slug", flows.invalidation_flow)),
            "client_type": client.client_type,
            "client_id": client.slug,
        }
        if client.client_type == "confidential":
            attrs["client_secret"] = ay.env(client.env_name)
        attrs["redirect_uris"] = [
            {"matching_mode": u.matching_mode, "url": u.url} for u in client.redirect_uris
        ]
        attrs["property_mappings"] = [
            ay.find(
                "authentik_providers_oauth2.scopemapping",
                ("managed", f"goauthentik.io/providers/oauth2/scope-{s}"),
            )
            for s in client.scopes
        ]
        # Signing key only: Open WebUI cannot read encrypted (JWE) tokens, so no encryption_key.
        attrs["signing_key"] = ay.find("authentik_crypto.certificatekeypair", ("name", flows.signing_key))
        entries.append(
            {
                "model": "authentik_providers_oauth2.oauth2provider",
                "id": provider_id,
                "identifiers": {"name": f"{client.slug}-oauth2"},
                "attrs": attrs,
            }
        )
        entries.append(
            {
                "model": "authentik_core.application",
                "id": f"app-{client.slug}",
                "identifiers": {"slug": client.slug},
                "attrs": {
                    "name": client.name,
                    "provider": ay.key_of(provider_id),
                    "meta_launch_url": client.launch_url,
                    "policy_engine_mode": "any",
                },
            }
        )
    # Prohibition 1: the MFA validation stage is pinned to `skip` until the model allows enforcing
    # it (the config refuses `enforced: true` before stability.since + 30 days). Pinning it here
    # also reverts a 2FA switch flipped by hand in the UI at the next blueprint apply.
    mfa = cfg.mfa
    entries.append(
        {
            "model": MFA_STAGE_MODEL,
            "id": "mfa-validation",
            "identifiers": {"name": mfa.stage},
            "attrs": {
                "not_configured_action": mfa.not_configured_action if mfa.enforced else "skip",
                "device_classes": list(mfa.device_classes),
            },
        }
    )
    return {
        "version": 1,
        "metadata": {
            "name": "k3s-home SSO clients",
            "labels": {"blueprints.goauthentik.io/description": "Generated by k3s-home Pulumi; do not edit"},
        },
        "entries": entries,
    }


def render_blueprint(cfg: AuthentikConfig) -> str:
    return "# Generated by k3s-home (components/authentik.py); do not edit.\n" + ay.dumps(
        build_blueprint(cfg)
    )


# --- what each app reads --------------------------------------------------------------------------


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


def _config_hash(cfg: AuthentikConfig, client: OAuthClient) -> str:
    """Hash of the non-secret Jellyfin config: a change replaces the Job, which re-posts it."""
    public = jellyfin_oid_config(cfg, client, secret="")
    return hashlib.sha256(json.dumps(public, sort_keys=True).encode()).hexdigest()[:16]


# --- what the chart and people need ----------------------------------------------------------------


def helm_values(cfg: AuthentikConfig) -> dict[str, Any]:
    """Values the (Flux-owned) authentik HelmRelease needs to mount what this component creates.

    `global.envFrom` (not `blueprints.secrets`): the client secrets are env vars read by `!Env`, and
    the bootstrap variables must reach the server and the worker. `blueprints.secrets` would mount
    blueprint *files* from Secrets, which we do not need: the blueprint itself holds no secret.
    """
    return {
        "global": {
            "envFrom": [
                {"secretRef": {"name": cfg.client_secrets_name}},
                {"secretRef": {"name": cfg.bootstrap.secret_name}},
            ]
        },
        "blueprints": {"configMaps": [cfg.blueprint.config_map]},
    }


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


def _md_list(values: list[str]) -> str:
    return "<br>".join(f"`{v}`" for v in values) or "-"


def render_setup_doc(config: StackConfig) -> str:
    """docs/authentik-setup.md, from the model: where everything is, never a secret value."""
    cfg = config.authentik
    allowed = cfg.mfa_allowed_from()
    since = cfg.stability.since.isoformat() if cfg.stability.since else "not recorded"
    values = ay.dumps(helm_values(cfg)).rstrip()
    lines = [
        "# Authentik setup",
        "",
        "<!-- Generated by `python -m components.authentik` from Pulumi.k3s-home.yaml; do not edit by hand.",
        "     tests/unit/components/test_authentik.py fails when this file is stale. -->",
        "",
        f"Authentik runs at <{cfg.url}> in namespace `{cfg.namespace}`. Pulumi (`components/authentik.py`,",
        "component `AuthentikSso`) owns the SSO blueprint, the client secrets on both sides, the admin",
        "bootstrap Secret and the Jellyfin configuring Job. The authentik HelmRelease stays with Flux.",
        "",
        "## 2FA: prohibited until 30-day stability",
        "",
        "Directive prohibition 1: *NO enabling Authentik 2FA before 30-day stability*.",
        "",
        f"- Stability since: **{since}** (`authentik.stability.since`), "
        f"required days: **{cfg.stability.required_days}**.",
        f"- MFA may be enforced from: **{allowed.isoformat() if allowed else 'never, until since is set'}**.",
        f"- Enforced now: **{'yes' if cfg.mfa.enforced else 'no'}**. The blueprint pins stage "
        f"`{cfg.mfa.stage}` to `not_configured_action: "
        f"{cfg.mfa.not_configured_action if cfg.mfa.enforced else 'skip'}`.",
        "- Enforcing earlier is refused twice: by the config model (`pulumi up` stops with a one-line",
        "  error) and by the policy rule `authentik-mfa` (rules/authentik.py) on any blueprint in a",
        "  ConfigMap or Secret.",
        "",
        "## Chart values (Flux HelmRelease `authentik`)",
        "",
        "Add these to the HelmRelease values so the worker applies the blueprint and sees the secrets.",
        "`global.envFrom` is used rather than `blueprints.secrets`: the client secrets are environment",
        "variables the blueprint reads with `!Env`; `blueprints.secrets` would only mount blueprint files.",
        "",
        "```yaml",
        values,
        "```",
        "",
        "## First start: admin bootstrap",
        "",
        f"Secret `{cfg.namespace}/{cfg.bootstrap.secret_name}` holds `AUTHENTIK_BOOTSTRAP_PASSWORD`,",
        "`AUTHENTIK_BOOTSTRAP_EMAIL` and `AUTHENTIK_BOOTSTRAP_TOKEN` (generated by Pulumi; authentik reads",
        "them on its first start only).",
        f"The admin user is `akadmin` with email `{cfg.bootstrap.email}`; no 2FA.",
        "Read the password when needed:",
        "",
        "```sh",
        f"kubectl -n {cfg.namespace} get secret {cfg.bootstrap.secret_name} "
        "-o jsonpath='{.data.AUTHENTIK_BOOTSTRAP_PASSWORD}' | base64 -d",
        "```",
        "",
        "## Blueprint",
        "",
        f"ConfigMap `{cfg.namespace}/{cfg.blueprint.config_map}`, key `{BLUEPRINT_KEY}` (2024.10+ format):",
        "groups, one `authentik_providers_oauth2.oauth2provider` and one `authentik_core.application` per",
        f"client, authorization flow `{cfg.blueprint.authorization_flow}`, invalidation flow",
        f"`{cfg.blueprint.invalidation_flow}`, signing key `{cfg.blueprint.signing_key}`. Client secrets",
        f"are read with `!Env` from Secret `{cfg.namespace}/{cfg.client_secrets_name}`.",
        "",
        "## Clients",
        "",
        "| Client | App | Redirect URIs | Client type | App-side Secret (keys) | authentik env var |",
        "|---|---|---|---|---|---|",
    ]
    for client in cfg.clients:
        keys = ", ".join(f"`{k}`" for k in sorted(app_secret_data(cfg, client, "<secret>")))
        env_var = f"`{client.env_name}`" if client.client_type == "confidential" else "- (public client)"
        uris = _md_list([f"{u.url} ({u.matching_mode})" for u in client.redirect_uris])
        lines.append(
            f"| `{client.slug}` ({client.name}) | {client.app} | {uris} | {client.client_type} | "
            f"`{client.namespace}/{client.app_secret_name}` ({keys}) | {env_var} |"
        )
    lines += ["", "### Groups and roles", "", "| Client | Group | Role |", "|---|---|---|"]
    for client in cfg.clients:
        for group in client.groups:
            lines.append(f"| `{client.slug}` | {group.name} | {group.role} |")
        if client.default_role:
            lines.append(f"| `{client.slug}` | (anyone else signed in) | {client.default_role} |")
    lines += [
        "",
        "Membership of these authentik groups is the only way to get a role; add users in authentik",
        "(Directory → Groups). Each app mounts its Secret with `envFrom` (Grafana: kube-prometheus-stack",
        "`grafana.envFromSecrets`; Open WebUI: its Deployment's `envFrom`).",
    ]
    for client in (c for c in cfg.clients if c.jellyfin):
        jf = client.jellyfin
        assert jf is not None
        job = f"{client.slug}-sso-configure"
        parts = urlsplit(client.redirect_uris[0].url)
        public = f"{parts.scheme}://{parts.netloc}"
        escaped_key = JELLYFIN_CONFIG_KEY.replace(".", "\\.")  # jsonpath needs the dot escaped
        lines += [
            "",
            f"## Jellyfin SSO plugin (`{client.slug}`)",
            "",
            "The plugin (9p4/jellyfin-plugin-sso) is configured only through its HTTP API. Job",
            f"`{client.namespace}/{job}` (image `{jf.image}`) posts the generated OidConfig from Secret",
            f"`{client.namespace}/{client.app_secret_name}` key `{JELLYFIN_CONFIG_KEY}` to",
            f"`POST {jf.api_url}/sso/OID/Add/{jf.provider_name}`, authenticated with the API key in Secret",
            f"`{client.namespace}/{jf.api_key_secret.name}` key `{jf.api_key_secret.key}` (create it in",
            "Jellyfin's dashboard, API Keys, and commit it SOPS-encrypted). The call replaces the provider's",
            "config, so running it again is harmless; a config change replaces the Job, which posts again.",
            "",
            "Equivalent command, through Jellyfin's public URL:",
            "",
            "```sh",
            f"kubectl -n {client.namespace} get secret {client.app_secret_name} "
            f"-o jsonpath='{{.data.{escaped_key}}}' | base64 -d > oid-config.json",
            f"JELLYFIN_API_KEY=$(kubectl -n {client.namespace} get secret {jf.api_key_secret.name} "
            f"-o jsonpath='{{.data.{jf.api_key_secret.key}}}' | base64 -d)",
            f'curl --fail -X POST "{public}/sso/OID/Add/{jf.provider_name}" \\',
            '  -H "Content-Type: application/json" \\',
            '  -H "Authorization: MediaBrowser Token=\\"$JELLYFIN_API_KEY\\"" \\',
            "  --data-binary @oid-config.json && rm oid-config.json",
            "```",
            "",
            f"Users sign in at `{client.launch_url}`.",
        ]
    lines += [
        "",
        "## Verify single sign-on",
        "",
        "1. `kubectl -n authentik logs deploy/authentik-worker | grep -i blueprint` shows the blueprint",
        "   applied (or Admin → Customization → Blueprints lists *k3s-home SSO clients* as successful).",
        "2. Open each launch URL in a private window, sign in through authentik, and check the role.",
        "3. A user in none of a client's groups is refused (or gets the default role listed above).",
        "",
        "## Rotating a client secret",
        "",
        "`pulumi up --replace <urn of the client's RandomPassword>` writes the new secret to both sides;",
        "restart the app and the authentik worker (env vars are read at start), and for Jellyfin replace",
        "the configuring Job as well.",
        "",
    ]
    return "\n".join(lines)


# --- the component ----------------------------------------------------------------------------------


class AuthentikSso(pulumi.ComponentResource):
    """Blueprint, client secrets (both sides), admin bootstrap and the Jellyfin configuring Job."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k3s-home:authentik:AuthentikSso", name, None, opts)
        cfg = config.authentik
        child = pulumi.ResourceOptions(parent=self)
        # Deleting one of these Secrets would break pods that mount them with envFrom: keep them.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=True)

        self.client_secrets: dict[str, pulumi.Output[str]] = {}
        for client in cfg.clients:
            if client.client_type == "confidential":
                self.client_secrets[client.slug] = generated_secret(
                    f"{name}-{client.slug}-client-secret", CLIENT_SECRET_LENGTH, child
                )

        self.authentik_secret = k8s.core.v1.Secret(
            f"{name}-client-secrets",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.client_secrets_name, namespace=cfg.namespace, labels=LABELS
            ),
            type="Opaque",
            string_data={
                c.env_name: self.client_secrets[c.slug] for c in cfg.clients if c.slug in self.client_secrets
            },
            opts=keep,
        )

        password = generated_secret(f"{name}-bootstrap-password", BOOTSTRAP_PASSWORD_LENGTH, child)
        token = generated_secret(f"{name}-bootstrap-token", BOOTSTRAP_TOKEN_LENGTH, child)
        self.bootstrap_secret = k8s.core.v1.Secret(
            f"{name}-bootstrap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.bootstrap.secret_name, namespace=cfg.namespace, labels=LABELS
            ),
            type="Opaque",
            string_data={
                "AUTHENTIK_BOOTSTRAP_PASSWORD": password,
                "AUTHENTIK_BOOTSTRAP_EMAIL": cfg.bootstrap.email,
                "AUTHENTIK_BOOTSTRAP_TOKEN": token,
            },
            opts=keep,
        )

        # The live Flux blueprint ConfigMap is adopted only when listed in cluster.adopt (ADR 0003).
        adopt = config.cluster.adopt_id("ConfigMap", cfg.blueprint.config_map, cfg.namespace)
        self.blueprint = k8s.core.v1.ConfigMap(
            f"{name}-blueprint",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.blueprint.config_map, namespace=cfg.namespace, labels=BLUEPRINT_LABELS
            ),
            data={BLUEPRINT_KEY: render_blueprint(cfg)},
            opts=pulumi.ResourceOptions(parent=self, import_=adopt),
        )

        self.app_secrets: dict[str, k8s.core.v1.Secret] = {}
        self.jobs: dict[str, k8s.batch.v1.Job] = {}
        for client in cfg.clients:
            secret = self.client_secrets.get(client.slug, "")
            data = app_secret_data(cfg, client, secret)
            app_secret = k8s.core.v1.Secret(
                f"{name}-{client.slug}-app-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=client.app_secret_name, namespace=client.namespace, labels=LABELS
                ),
                type="Opaque",
                string_data={
                    k: pulumi.Output.secret(v) if not isinstance(v, str) else v for k, v in data.items()
                },
                opts=keep,
            )
            self.app_secrets[client.slug] = app_secret
            if client.jellyfin:
                self.jobs[client.slug] = self._jellyfin_job(name, cfg, client, app_secret)

        allowed = cfg.mfa_allowed_from()
        pulumi.log.info(
            f"authentik: {len(cfg.clients)} SSO clients; MFA "
            + ("enforced" if cfg.mfa.enforced else f"not enforced (allowed from {allowed or 'unknown'})"),
            self,
        )
        self.summary = summarize(cfg)
        self.register_outputs({"summary": self.summary})

    def _jellyfin_job(
        self, name: str, cfg: AuthentikConfig, client: OAuthClient, app_secret: k8s.core.v1.Secret
    ) -> k8s.batch.v1.Job:
        jf = client.jellyfin
        assert jf is not None
        labels = {**LABELS, "app.kubernetes.io/name": f"{client.slug}-sso-configure"}
        return k8s.batch.v1.Job(
            f"{name}-{client.slug}-configure",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{client.slug}-sso-configure",
                namespace=client.namespace,
                labels=labels,
                # The embedded test control plane has no nodes; do not wait for completion.
                annotations={"pulumi.com/skipAwait": "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=6,
                active_deadline_seconds=1800,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=labels, annotations={"k3s-home/sso-config-hash": _config_hash(cfg, client)}
                    ),
                    spec=k8s.core.v1.PodSpecArgs(
                        restart_policy="Never",
                        automount_service_account_token=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=100,
                            run_as_group=101,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        containers=[
                            k8s.core.v1.ContainerArgs(
                                name="configure",
                                image=jf.image,
                                command=["/bin/sh", "-c", jellyfin_script()],
                                env=[
                                    k8s.core.v1.EnvVarArgs(name="JELLYFIN_URL", value=jf.api_url),
                                    k8s.core.v1.EnvVarArgs(name="PROVIDER", value=jf.provider_name),
                                    k8s.core.v1.EnvVarArgs(
                                        name="JELLYFIN_API_KEY",
                                        value_from=k8s.core.v1.EnvVarSourceArgs(
                                            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(
                                                name=jf.api_key_secret.name, key=jf.api_key_secret.key
                                            )
                                        ),
                                    ),
                                ],
                                volume_mounts=[
                                    k8s.core.v1.VolumeMountArgs(name="sso", mount_path="/sso", read_only=True)
                                ],
                                security_context=k8s.core.v1.SecurityContextArgs(
                                    allow_privilege_escalation=False,
                                    privileged=False,
                                    read_only_root_filesystem=True,
                                    capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
                                ),
                                resources=k8s.core.v1.ResourceRequirementsArgs(
                                    requests={"cpu": "10m", "memory": "16Mi"},
                                    limits={"memory": "64Mi"},
                                ),
                            )
                        ],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="sso",
                                secret=k8s.core.v1.SecretVolumeSourceArgs(
                                    # Plain name plus depends_on: an Output name would carry the
                                    # Secret's secretness into the Job spec, which a saved plan
                                    # cannot match at `up` (its value is unknown during preview).
                                    secret_name=client.app_secret_name,
                                    items=[
                                        k8s.core.v1.KeyToPathArgs(
                                            key=JELLYFIN_CONFIG_KEY, path=JELLYFIN_CONFIG_KEY
                                        )
                                    ],
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[app_secret]),
        )


DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "authentik-setup.md"
STACK_FILE = Path(__file__).resolve().parents[1] / "Pulumi.k3s-home.yaml"


def main(argv: list[str]) -> int:
    """`python -m components.authentik [--check]`: write (or check) docs/authentik-setup.md."""
    from components.config import load_stack_file

    text = render_setup_doc(load_stack_file(STACK_FILE))
    if "--check" in argv:
        stale = not DOC_PATH.exists() or DOC_PATH.read_text() != text
        print(f"{DOC_PATH}: {'stale; run python -m components.authentik' if stale else 'up to date'}")
        return 1 if stale else 0
    DOC_PATH.write_text(text)
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
