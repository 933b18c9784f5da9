"""Target side of a migration: the Longhorn volume, its PVs and the claims bound to them."""

from __future__ import annotations

from typing import Any

from components.config.migration import MigratedClaim, Migration
from components.config.quantity import parse_quantity
from components.config.storage import StorageConfig
from components.storage.claim_users import CHECKED
from components.storage.names import (
    SKIP_AWAIT,
    claim_size,
    migration_labels,
    staging_claim_name,
    staging_pv_name,
    target_volume_name,
)
from components.storage.source import helm_metadata


def longhorn_volume(storage: StorageConfig, m: Migration, c: MigratedClaim) -> dict:
    sc = storage.storage_class
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Volume",
        "metadata": {
            "name": target_volume_name(m, c),
            "namespace": storage.longhorn_namespace,
            "labels": migration_labels(m),
        },
        "spec": {
            "size": str(parse_quantity(claim_size(storage, c))),
            "numberOfReplicas": sc.number_of_replicas,
            "staleReplicaTimeout": sc.stale_replica_timeout,
            "dataLocality": sc.data_locality,
            "frontend": "blockdev",
            "accessMode": "rwx" if "ReadWriteMany" in c.access_modes else "rwo",
        },
    }


def target_pv(storage: StorageConfig, m: Migration, c: MigratedClaim, staging: bool = False) -> dict:
    """A PV on the new Longhorn volume, pre-bound (claimRef, no uid) to the staging or the original claim."""
    sc = storage.storage_class
    handle = target_volume_name(m, c)
    name, claim = (staging_pv_name(m, c), staging_claim_name(c)) if staging else (handle, c.name)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": migration_labels(m)},
        "spec": {
            "accessModes": list(c.access_modes),
            "capacity": {"storage": claim_size(storage, c)},
            "csi": {
                "driver": sc.provisioner,
                "fsType": sc.fs_type,
                "volumeHandle": handle,
                "volumeAttributes": {
                    "numberOfReplicas": str(sc.number_of_replicas),
                    "staleReplicaTimeout": str(sc.stale_replica_timeout),
                    "dataLocality": sc.data_locality,
                },
            },
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": m.target_class,
            "volumeMode": "Filesystem",
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": c.namespace,
                "name": claim,
            },
        },
    }


def _claim(storage: StorageConfig, m: Migration, c: MigratedClaim, name: str, volume: str | None) -> dict:
    """A claim on the target class; under the original name it keeps Helm's ownership."""
    meta: dict[str, Any] = {"name": name, "namespace": c.namespace}
    if name == c.name:
        meta.update(helm_metadata(c))
        # Set from the ClaimFree check's output at cutover (components/storage/migration.py).
        meta["annotations"] = {**meta.get("annotations", {}), CHECKED: c.key}
    else:
        meta["labels"] = migration_labels(m)
    if volume is None:
        # acceptDataLoss only: the empty claim is bound when Longhorn provisions it, which the embedded
        # test cluster (no CSI driver) never does; every other claim is awaited until Bound.
        meta["annotations"] = {**meta.get("annotations", {}), **SKIP_AWAIT}
    spec: dict[str, Any] = {
        "accessModes": list(c.access_modes),
        "resources": {"requests": {"storage": claim_size(storage, c)}},
        "storageClassName": m.target_class,
        "volumeMode": "Filesystem",
    }
    if volume:
        spec["volumeName"] = volume
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def target_claim(storage: StorageConfig, m: Migration, c: MigratedClaim, name: str) -> dict:
    """A claim bound to the new PV by volumeName (the staging PV under the staging name)."""
    volume = target_volume_name(m, c) if name == c.name else staging_pv_name(m, c)
    return _claim(storage, m, c, name, volume)


def fresh_claim(storage: StorageConfig, m: Migration, c: MigratedClaim) -> dict:
    """acceptDataLoss only: the original name on a new, EMPTY volume provisioned by the target class."""
    return _claim(storage, m, c, c.name, None)
