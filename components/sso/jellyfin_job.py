"""The Jellyfin configuring Job: a ConfigMap with the stdlib script and the Job that runs it.

The script (scripts/jellyfin_sso.py) reads the provider's live config from the plugin, overlays the
generated fields and posts the result, so users' SSO links (`CanonicalLinks`) survive every run.
Builders return plain dicts; the component registers them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from components.config.authentik import AuthentikConfig
from components.config.oauth_client import OAuthClient
from components.sso.app_settings import jellyfin_oid_config
from components.sso.common import JELLYFIN_CONFIG_KEY, LABELS

SCRIPT = Path(__file__).parent / "scripts" / "jellyfin_sso.py"
SCRIPT_KEY = "jellyfin_sso.py"
NOBODY = 65534  # the python image's unprivileged user


def job_name(client: OAuthClient) -> str:
    return f"{client.slug}-sso-configure"


def script_config_map_name(client: OAuthClient) -> str:
    return f"{client.slug}-sso-configure-script"


def _labels(client: OAuthClient) -> dict[str, str]:
    return {**LABELS, "app.kubernetes.io/name": job_name(client)}


def config_hash(cfg: AuthentikConfig, client: OAuthClient) -> str:
    """Hash of the non-secret config and the script: a change replaces the Job, which runs again."""
    public = jellyfin_oid_config(cfg, client, secret="")
    digest = hashlib.sha256(json.dumps(public, sort_keys=True).encode())
    digest.update(SCRIPT.read_bytes())
    return digest.hexdigest()[:16]


def script_config_map(client: OAuthClient) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": script_config_map_name(client),
            "namespace": client.namespace,
            "labels": _labels(client),
        },
        "data": {SCRIPT_KEY: SCRIPT.read_text()},
    }


def configure_job(cfg: AuthentikConfig, client: OAuthClient) -> dict:
    jf = client.jellyfin
    assert jf is not None
    labels = _labels(client)
    container = {
        "name": "configure",
        "image": jf.image,
        "command": ["python3", f"/scripts/{SCRIPT_KEY}", f"/sso/{JELLYFIN_CONFIG_KEY}"],
        "env": [
            {"name": "JELLYFIN_URL", "value": jf.api_url},
            {"name": "PROVIDER", "value": jf.provider_name},
            {
                "name": "JELLYFIN_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": jf.api_key_secret.name, "key": jf.api_key_secret.key}},
            },
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "volumeMounts": [
            {"name": "sso", "mountPath": "/sso", "readOnly": True},
            {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(client),
            "namespace": client.namespace,
            "labels": labels,
            # No skipAwait: `up` waits for the Job, so a Jellyfin that refuses the configuration fails
            # the update instead of passing unseen. (On the embedded cluster KWOK completes it.)
        },
        "spec": {
            "backoffLimit": 6,
            "activeDeadlineSeconds": 1800,
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"k3s-home/sso-config-hash": config_hash(cfg, client)},
                },
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": NOBODY,
                        "runAsGroup": NOBODY,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "sso",
                            # A plain name (with depends_on in the component): an Output name would carry
                            # the Secret's secretness into the Job spec, which a saved plan cannot match.
                            "secret": {
                                "secretName": client.app_secret_name,
                                "items": [{"key": JELLYFIN_CONFIG_KEY, "path": JELLYFIN_CONFIG_KEY}],
                            },
                        },
                        {"name": "scripts", "configMap": {"name": script_config_map_name(client)}},
                    ],
                },
            },
        },
    }
