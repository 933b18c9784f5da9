"""`AuthentikSso`: blueprint, client secrets (both sides), admin bootstrap and the Jellyfin configuring Job.

Client secrets, the bootstrap password and the bootstrap token come from `generated_secret`: they
live in Pulumi state and Kubernetes Secrets only, never in a ConfigMap, the docs, logs or outputs.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.config.authentik import AuthentikConfig, OAuthClient
from components.generated_secret import generated_secret
from components.sso.app_settings import app_secret_data, config_hash, jellyfin_script
from components.sso.blueprint import render_blueprint
from components.sso.common import (
    BLUEPRINT_KEY,
    BLUEPRINT_LABELS,
    BOOTSTRAP_PASSWORD_LENGTH,
    BOOTSTRAP_TOKEN_LENGTH,
    CLIENT_SECRET_LENGTH,
    JELLYFIN_CONFIG_KEY,
    LABELS,
)
from components.sso.summary import summarize


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
                        labels=labels, annotations={"k3s-home/sso-config-hash": config_hash(cfg, client)}
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
