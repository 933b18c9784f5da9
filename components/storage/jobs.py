"""The copy and verify Jobs and the ConfigMap that carries their script (copy_verify.py)."""

from __future__ import annotations

from pathlib import Path

from components.config.migration import MigratedClaim, Migration
from components.config.storage import StorageConfig
from components.storage.names import (
    job_name,
    migration_labels,
    script_config_map_name,
    staging_claim_name,
)

SCRIPT = Path(__file__).parent / "migration_scripts" / "copy_verify.py"
SETTLE_SECONDS = 30
DEADLINE_SECONDS = 6 * 3600
# Enough to copy as root without being privileged (directive: no privileged containers), and all within
# the Pod Security baseline profile: DAC_OVERRIDE already bypasses read and search checks, so
# DAC_READ_SEARCH (refused by baseline) is not needed.
COPY_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "MKNOD"]


def script_config_map(m: Migration, namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": script_config_map_name(m),
            "namespace": namespace,
            "labels": migration_labels(m),
        },
        "data": {"copy_verify.py": SCRIPT.read_text()},
    }


def copy_job(storage: StorageConfig, m: Migration, c: MigratedClaim, action: str) -> dict:
    """copy or verify: source claim read-only at /src, staging claim at /dst.

    Required pod anti-affinity on the owner's pods: the Job cannot start beside a running owner, and since
    the scheduler honours it both ways, an owner cannot start beside a running Job either.
    """
    args = ["python3", "/scripts/copy_verify.py", action, "/src", "/dst"]
    if action == "copy":
        args += ["--settle", str(SETTLE_SECONDS)]
    labels = {**migration_labels(m), "k3s-home.fletcherlabs.net/action": action}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(m, c, action),
            "namespace": c.namespace,
            "labels": labels,
            "annotations": {
                "k3s-home.fletcherlabs.net/claim": c.name,
                # `up` waits for the Job to finish (a failed copy fails the `up`), up to its own deadline.
                "pulumi.com/timeoutSeconds": str(DEADLINE_SECONDS + 300),
                # A failed (or unfinished) Job never runs again: the next `up` of the phase replaces it.
                "pulumi.com/replaceUnready": "true",
                # Deleted (phase detach) only once its pods are gone: a finished pod still holds the claims.
                "pulumi.com/deletionPropagationPolicy": "foreground",
            },
        },
        "spec": {
            "backoffLimit": 2 if action == "copy" else 0,  # copy is idempotent; a failed verify is an answer
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {"matchLabels": dict(c.owner.pod_labels)},
                                    "namespaces": [c.namespace],
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": action,
                            "image": storage.image(m),
                            "command": args,
                            "securityContext": {
                                "runAsUser": 0,  # preserves every file's owner; not privileged
                                "allowPrivilegeEscalation": False,
                                "privileged": False,
                                "capabilities": {"drop": ["ALL"], "add": list(COPY_CAPABILITIES)},
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "volumeMounts": [
                                {"name": "src", "mountPath": "/src", "readOnly": True},
                                {"name": "dst", "mountPath": "/dst", "readOnly": action == "verify"},
                                {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "src", "persistentVolumeClaim": {"claimName": c.name, "readOnly": True}},
                        {"name": "dst", "persistentVolumeClaim": {"claimName": staging_claim_name(c)}},
                        {
                            "name": "scripts",
                            "configMap": {"name": script_config_map_name(m), "defaultMode": 0o555},
                        },
                    ],
                },
            },
        },
    }
