"""The storage section: the class, monitoring targets, and the migration gates.

Every bad input gives one line naming the key and the reason, and fails before anything is registered.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.unit.components.config.storage_helpers import (
    PROM,
    monitoring,
    refused,
)

# ---- the real cluster ---------------------------------------------------------------------------------


def test_real_storage_class_is_the_directive_standard(real_config) -> None:
    sc = real_config.storage.storage_class
    assert (sc.name, sc.provisioner, sc.number_of_replicas, sc.stale_replica_timeout) == (
        "longhorn-replicated",
        "driver.longhorn.io",
        3,
        30,
    )
    assert (sc.data_locality, sc.fs_type, sc.reclaim_policy, sc.allow_volume_expansion) == (
        "best-effort",
        "ext4",
        "Retain",
        True,
    )
    assert real_config.storage.approved == ["longhorn-replicated", "longhorn-nvme", "longhorn-optane"]


def test_real_monitoring_targets_are_on_the_standard_class(real_config) -> None:
    targets = dict(real_config.storage.monitoring.items())
    assert set(targets) == {"prometheus", "alertmanager", "grafana", "loki"}
    assert {t.storage_class for t in targets.values()} == {"longhorn-replicated"}
    assert targets["loki"].release == "monitoring/loki"
    assert targets["prometheus"].release == "monitoring/kube-prometheus-stack"


def test_empty_storage_section_gets_safe_defaults() -> None:
    from components.config.storage import StorageConfig

    s = StorageConfig()
    assert s.storage_class.reclaim_policy == "Retain" and s.migrations == [] and s.monitoring is None


# ---- the bad inputs ---------------------------------------------------------------------------


def test_target_class_not_approved(raw: dict) -> None:
    monitoring(raw)["targetClass"] = "local-path"
    # The monitoring targets still say longhorn-replicated; the class check comes first.
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].targetClass: "
        "migration 'monitoring': the target class uses storage class "
        "'local-path'; use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
    )


def test_monitoring_target_class_not_approved(raw: dict) -> None:
    raw["storage"]["monitoring"]["grafana"]["storageClass"] = "nfs-client"
    assert refused(raw) == (
        "k3s-home:storage.monitoring.grafana.storageClass: grafana uses storage class 'nfs-client'; "
        "use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
    )


def test_target_size_smaller_than_source(raw: dict) -> None:
    raw["storage"]["monitoring"]["loki"]["size"] = "5Gi"  # the live claim is 10Gi
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].pvcs[3].targetSize: "
        "migration 'monitoring' PVC monitoring/storage-loki-0: target size 5Gi "
        "is smaller than the source 10Gi; a copy could not fit (volumes only grow)"
    )


def test_explicit_target_size_smaller_than_source(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["targetSize"] = "50Mi"
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].pvcs[0].targetSize: "
        "migration 'bazarr-pilot' PVC media/bazarr-config-pvc: target size 50Mi "
        "is smaller than the source 100Mi; a copy could not fit (volumes only grow)"
    )


# ---- other guard rails ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("storageClass", "reclaimPolicy"),
            "Delete",
            "k3s-home:storage.storageClass.reclaimPolicy: must be Retain: with Delete, deleting a claim "
            "destroys its Longhorn volume",
        ),
        (
            ("storageClass", "numberOfReplicas"),
            1,
            "k3s-home:storage.storageClass.numberOfReplicas: 1 replicas: a replicated class needs 2..4 "
            "(the cluster has 4 nodes); use 3",
        ),
        (
            ("storageClass", "dataLocality"),
            "local",
            "k3s-home:storage.storageClass.dataLocality: Input should be 'disabled', 'best-effort' or "
            "'strict-local'",
        ),
        (
            ("copyImage",),
            "python:latest",
            "k3s-home:storage.copyImage: 'python:latest' must be pinned "
            "(a tag other than latest, or a digest)",
        ),
    ],
)
def test_class_and_image_guards(raw: dict, path: tuple[str, ...], value: Any, expected: str) -> None:
    node = raw["storage"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert refused(raw) == expected


def test_same_pvc_in_two_migrations(raw: dict) -> None:
    dup = copy.deepcopy(raw["storage"]["migrations"][1])
    dup["name"] = "bazarr-again"
    raw["storage"]["migrations"].append(dup)
    assert refused(raw) == (
        "k3s-home:storage.migrations[2].pvcs[0].name: "
        "migration 'bazarr-again' PVC media/bazarr-config-pvc is also moved by "
        "migration 'bazarr-pilot'"
    )


def test_claim_already_on_the_target_class(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["currentClass"] = "longhorn-replicated"
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].pvcs[0].currentClass: "
        "migration 'bazarr-pilot' PVC media/bazarr-config-pvc is already on "
        "longhorn-replicated; drop it from the migration"
    )


def test_owner_release_must_be_declared(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["owner"]["release"] = "media/sonarr"
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].pvcs[0].owner.release: "
        "migration 'bazarr-pilot' PVC media/bazarr-config-pvc: owner release "
        "'media/sonarr' is not declared under releases"
    )


def test_monitoring_target_and_migration_must_agree(raw: dict) -> None:
    raw["storage"]["monitoring"]["prometheus"]["storageClass"] = "longhorn-nvme"
    assert refused(raw) == (
        f"k3s-home:storage.migrations[0].pvcs[0].monitoringTarget: "
        f"migration 'monitoring' PVC monitoring/{PROM}: "
        "monitoring.prometheus.storageClass is longhorn-nvme, the migration moves it to longhorn-replicated; "
        "make them agree"
    )
