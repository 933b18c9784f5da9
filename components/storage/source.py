"""Source side of a migration: the live PV and claim, adopted unchanged in plan."""

from __future__ import annotations

from typing import Any

from components.config.migration import MigratedClaim, Migration
from rules.data_loss import Phase


def _volume_source(c: MigratedClaim) -> dict:
    """The PV's volume source as it was written: a static `nfs` export, or local-path's `local` (k3s) or
    `hostPath` with DirectoryOrCreate, pinned to its node."""
    src = c.source
    if src.nfs is not None:
        return {"nfs": {"server": src.nfs.server, "path": src.nfs.path}}
    pinned = {
        "nodeAffinity": {
            "required": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/hostname", "operator": "In", "values": [src.node]}
                        ]
                    }
                ]
            }
        }
    }
    if src.volume_type == "local":
        return {"local": {"path": src.host_path}, **pinned}
    return {"hostPath": {"path": src.host_path, "type": "DirectoryOrCreate"}, **pinned}


def source_pv(m: Migration, c: MigratedClaim, phase: Phase) -> dict:
    """The local-path PV as provisioned, in every phase (`phase` kept for the callers' symmetry)."""
    claim_ref: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": c.namespace,
        "name": c.name,
    }
    if c.source.claim_uid:
        claim_ref["uid"] = c.source.claim_uid
    # Always as recorded: the object stays as imported, Retain comes from a patch (patches.reclaim_patch).
    policy = c.source.reclaim_policy
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": c.source.volume},
        "spec": {
            "accessModes": list(c.access_modes),
            "capacity": {"storage": c.size},
            **_volume_source(c),
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": c.current_class,
            "volumeMode": "Filesystem",
            "claimRef": claim_ref,
        },
    }


def helm_metadata(c: MigratedClaim) -> dict[str, dict[str, str]]:
    if not c.helm_managed:
        return {}
    ns, name = c.owner.release.split("/")
    return {
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns},
    }


def source_claim(c: MigratedClaim) -> dict:
    """The live claim as its owner made it (adopted unchanged)."""
    meta: dict[str, Any] = {"name": c.name, "namespace": c.namespace, **helm_metadata(c)}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {
            "accessModes": list(c.access_modes),
            "resources": {"requests": {"storage": c.size}},
            "storageClassName": c.current_class,
            "volumeMode": "Filesystem",
            "volumeName": c.source.volume,
        },
    }
