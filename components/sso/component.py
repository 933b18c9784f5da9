"""`AuthentikSso`: blueprint, client secrets (both sides), admin bootstrap and the Jellyfin configuring Job.

Client secrets, the bootstrap password and the bootstrap token come from `generated_secret`: they
live in Pulumi state and Kubernetes Secrets only, never in a ConfigMap, the docs, logs or outputs.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.generated_secret import generated_secret
from components.resources import adoption, register, secret_data
from components.sso.app_settings import app_secret_data
from components.sso.blueprint import render_blueprint
from components.sso.common import (
    BLUEPRINT_KEY,
    BLUEPRINT_LABELS,
    BOOTSTRAP_PASSWORD_LENGTH,
    BOOTSTRAP_TOKEN_LENGTH,
    CLIENT_SECRET_LENGTH,
    LABELS,
)
from components.sso.jellyfin_job import configure_job, script_config_map
from components.sso.summary import summarize


class AuthentikSso(pulumi.ComponentResource):
    """Blueprint, client secrets (both sides), admin bootstrap and the Jellyfin configuring Job."""

    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k3s-home:authentik:AuthentikSso", name, None, opts)
        cfg = config.authentik
        generator = config.secrets.generator
        child = pulumi.ResourceOptions(parent=self)
        # Deleting one of these Secrets would break pods that mount them with envFrom: keep them.
        keep = pulumi.ResourceOptions(parent=self, retain_on_delete=True)

        self.client_secrets: dict[str, pulumi.Output[str]] = {}
        for client in cfg.clients:
            if client.client_type == "confidential":
                self.client_secrets[client.slug] = generated_secret(
                    f"{name}-{client.slug}-client-secret", CLIENT_SECRET_LENGTH, generator, child
                )

        self.authentik_secret = k8s.core.v1.Secret(
            f"{name}-client-secrets",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.client_secrets_name, namespace=cfg.namespace, labels=LABELS
            ),
            type="Opaque",
            data=secret_data(
                {
                    c.env_name: self.client_secrets[c.slug]
                    for c in cfg.clients
                    if c.slug in self.client_secrets
                }
            ),
            opts=keep,
        )

        password = generated_secret(f"{name}-bootstrap-password", BOOTSTRAP_PASSWORD_LENGTH, generator, child)
        token = generated_secret(f"{name}-bootstrap-token", BOOTSTRAP_TOKEN_LENGTH, generator, child)
        self.bootstrap_secret = k8s.core.v1.Secret(
            f"{name}-bootstrap",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=cfg.bootstrap.secret_name, namespace=cfg.namespace, labels=LABELS
            ),
            type="Opaque",
            data=secret_data(
                {
                    "AUTHENTIK_BOOTSTRAP_PASSWORD": password,
                    "AUTHENTIK_BOOTSTRAP_EMAIL": cfg.bootstrap.email,
                    "AUTHENTIK_BOOTSTRAP_TOKEN": token,
                }
            ),
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
            opts=pulumi.ResourceOptions(parent=self, **adoption(adopt)),
        )

        self.app_secrets: dict[str, k8s.core.v1.Secret] = {}
        self.jobs: dict[str, pulumi.CustomResource] = {}
        for client in cfg.clients:
            secret = self.client_secrets.get(client.slug, "")
            data = app_secret_data(cfg, client, secret)
            app_secret = k8s.core.v1.Secret(
                f"{name}-{client.slug}-app-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=client.app_secret_name, namespace=client.namespace, labels=LABELS
                ),
                type="Opaque",
                data=secret_data(data),
                opts=keep,
            )
            self.app_secrets[client.slug] = app_secret
            if client.jellyfin:
                script = register(f"{name}-{client.slug}-configure-script", script_config_map(client), child)
                self.jobs[client.slug] = register(
                    f"{name}-{client.slug}-configure",
                    configure_job(cfg, client),
                    pulumi.ResourceOptions(parent=self, depends_on=[app_secret, script]),
                )

        allowed = cfg.mfa_allowed_from()
        pulumi.log.info(
            f"authentik: {len(cfg.clients)} SSO clients; MFA "
            + ("enforced" if cfg.mfa.enforced else f"not enforced (allowed from {allowed or 'unknown'})"),
            self,
        )
        self.summary = summarize(cfg)
        self.register_outputs({"summary": self.summary})
