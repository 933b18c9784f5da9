"""The storage section: the class, monitoring targets, and the migration gates.

Every bad input gives one line naming the key and the reason, and fails before anything is registered.
"""

from __future__ import annotations

import copy
from typing import Any

import pulumi
import pytest

from components.config import ConfigError, load
from components.config.storage import Phase, parse_quantity
from components.storage.component import MonitoringStorage

DIGEST = "sha256:" + "ab" * 32
PROM = "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0"
ALL_MONITORING = [
    PROM,
    "alertmanager-kube-prometheus-stack-alertmanager-db-alertmanager-kube-prometheus-stack-alertmanager-0",
    "kube-prometheus-stack-grafana",
    "storage-loki-0",
]


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args.name)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def refused(raw: dict[str, Any]) -> str:
    """Load and build like __main__ does; return the one-line error and prove nothing was registered."""
    mocks = _Recorder()
    pulumi.runtime.set_mocks(mocks, project="k3s-home", stack="k3s-home", preview=False)

    def build() -> None:
        MonitoringStorage("monitoring-storage", load(raw))

    with pytest.raises(ConfigError) as err:
        pulumi.runtime.test(build)()
    assert mocks.registered == [], "a bad config must fail before any resource is registered"
    message = str(err.value)
    assert "\n" not in message
    return message


def monitoring(raw: dict) -> dict:
    return next(m for m in raw["storage"]["migrations"] if m["name"] == "monitoring")


@pytest.fixture
def raw(real_raw: dict) -> dict:
    return copy.deepcopy(real_raw)


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


def test_real_migrations_start_at_plan_and_lose_nothing(real_config) -> None:
    migrations = {m.name: m for m in real_config.storage.migrations}
    assert set(migrations) == {"monitoring", "bazarr-pilot"}
    assert [c.name for c in migrations["monitoring"].pvcs] == ALL_MONITORING
    assert [c.key for c in migrations["bazarr-pilot"].pvcs] == ["media/bazarr-config"]
    for m in migrations.values():
        assert m.phase is Phase.PLAN
        assert m.accept_data_loss == []
        assert all(c.current_class == "local-path" for c in m.pvcs)
        assert m.target_class == "longhorn-replicated"


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


def test_quantities() -> None:
    assert parse_quantity("50Gi") == 50 * 2**30
    assert parse_quantity("500M") == 500 * 10**6
    assert parse_quantity("1Ti") > parse_quantity("1000Gi")
    with pytest.raises(ValueError, match="not a storage quantity"):
        parse_quantity("50GB")


# ---- the bad inputs ---------------------------------------------------------------------------


def test_unknown_pvc_in_accept_data_loss(raw: dict) -> None:
    monitoring(raw)["acceptDataLoss"] = ["prometheus-db-typo"]
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].acceptDataLoss: unknown PVC 'prometheus-db-typo': not declared in "
        f"this migration's pvcs ({', '.join(ALL_MONITORING)})"
    )


def test_unknown_pvc_in_verified(raw: dict) -> None:
    bazarr = raw["storage"]["migrations"][1]
    bazarr["verified"] = {"sonarr-config": DIGEST}
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].verified: unknown PVC 'sonarr-config': "
        "not declared in this migration's pvcs (bazarr-config)"
    )


def test_target_class_not_approved(raw: dict) -> None:
    monitoring(raw)["targetClass"] = "local-path"
    # The monitoring targets still say longhorn-replicated; the class check comes first.
    assert refused(raw) == (
        "k3s-home:storage.migrations: migration 'monitoring': the target class uses storage class "
        "'local-path'; use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
    )


def test_monitoring_target_class_not_approved(raw: dict) -> None:
    raw["storage"]["monitoring"]["grafana"]["storageClass"] = "nfs-client"
    assert refused(raw) == (
        "k3s-home:storage.monitoring: grafana uses storage class 'nfs-client'; "
        "use longhorn-replicated or an approved alternative (longhorn-nvme, longhorn-optane)"
    )


def test_target_size_smaller_than_source(raw: dict) -> None:
    raw["storage"]["monitoring"]["loki"]["size"] = "5Gi"  # the live claim is 10Gi
    assert refused(raw) == (
        "k3s-home:storage.migrations: migration 'monitoring' PVC monitoring/storage-loki-0: target size 5Gi "
        "is smaller than the source 10Gi; a copy could not fit (volumes only grow)"
    )


def test_explicit_target_size_smaller_than_source(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["targetSize"] = "512Mi"
    assert refused(raw) == (
        "k3s-home:storage.migrations: migration 'bazarr-pilot' PVC media/bazarr-config: target size 512Mi "
        "is smaller than the source 1Gi; a copy could not fit (volumes only grow)"
    )


def test_cutover_before_a_successful_verify(raw: dict) -> None:
    m = monitoring(raw)
    m["phase"] = "cutover"
    m["copied"] = {n: {"bytes": 1, "seconds": 1} for n in ALL_MONITORING}
    m["verified"] = {n: DIGEST for n in ALL_MONITORING if n != "storage-loki-0"}
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].phase: cutover before a successful verify of storage-loki-0; "
        "run phase verify and record its digest under verified (the old volumes stay untouched)"
    )


def test_verify_result_must_be_the_jobs_digest(raw: dict) -> None:
    monitoring(raw)["verified"] = {PROM: "ok"}
    assert refused(raw) == (
        f"k3s-home:storage.migrations[0].verified: '{PROM}': 'ok' is not a verify result; "
        "paste the sha256:<64 hex> the verify Job printed"
    )


def test_verify_before_a_recorded_copy(raw: dict) -> None:
    raw["storage"]["migrations"][1]["phase"] = "verify"
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].phase: verify before a recorded copy of bazarr-config; "
        "record the copy Job's result under copied first"
    )


def test_cleanup_before_cutover(raw: dict) -> None:
    b = raw["storage"]["migrations"][1]
    b.update(
        phase="cleanup",
        copied={"bazarr-config": {"bytes": 10, "seconds": 2}},
        verified={"bazarr-config": DIGEST},
    )
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].phase: cleanup before cutover: run phase cutover, "
        "check the owners, then record cutoverAt"
    )


def test_cleanup_after_recorded_cutover_is_accepted(raw: dict) -> None:
    b = raw["storage"]["migrations"][1]
    b.update(
        phase="cleanup",
        copied={"bazarr-config": {"bytes": 10, "seconds": 2}},
        verified={"bazarr-config": DIGEST},
        cutoverAt="2025-06-15T10:00:00Z",
    )
    assert load(raw).storage.migrations[1].phase is Phase.CLEANUP


def test_accept_data_loss_skips_the_verify_gate_only_for_named_claims(raw: dict) -> None:
    m = monitoring(raw)
    m.update(phase="cutover", acceptDataLoss=["storage-loki-0"])
    m["copied"] = {n: {"bytes": 1, "seconds": 1} for n in ALL_MONITORING[:3]}
    m["verified"] = {n: DIGEST for n in ALL_MONITORING[:3]}
    assert load(raw).storage.migrations[0].phase is Phase.CUTOVER


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
        "k3s-home:storage.migrations: migration 'bazarr-again' PVC media/bazarr-config is also moved by "
        "migration 'bazarr-pilot'"
    )


def test_claim_already_on_the_target_class(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["currentClass"] = "longhorn-replicated"
    assert refused(raw) == (
        "k3s-home:storage.migrations: migration 'bazarr-pilot' PVC media/bazarr-config is already on "
        "longhorn-replicated; drop it from the migration"
    )


def test_owner_release_must_be_declared(raw: dict) -> None:
    raw["storage"]["migrations"][1]["pvcs"][0]["owner"]["release"] = "media/sonarr"
    assert refused(raw) == (
        "k3s-home:storage.migrations: migration 'bazarr-pilot' PVC media/bazarr-config: owner release "
        "'media/sonarr' is not declared under releases"
    )


def test_monitoring_target_and_migration_must_agree(raw: dict) -> None:
    raw["storage"]["monitoring"]["prometheus"]["storageClass"] = "longhorn-nvme"
    assert refused(raw) == (
        f"k3s-home:storage.migrations: migration 'monitoring' PVC monitoring/{PROM}: "
        "monitoring.prometheus.storageClass is longhorn-nvme, the migration moves it to longhorn-replicated; "
        "make them agree"
    )


def test_unknown_phase(raw: dict) -> None:
    monitoring(raw)["phase"] = "delete"
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].phase: "
        "Input should be 'plan', 'copy', 'verify', 'cutover' or 'cleanup'"
    )
