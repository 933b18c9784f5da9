"""A migration's gates: unknown PVCs, verify before cutover, the job's digest, cleanup after cutover.

Every bad input gives one line naming the key and the reason, and fails before anything is registered.
"""

from __future__ import annotations

import pytest

from components.config import load
from rules.data_loss import Phase
from tests.conftest import TEST_TODAY
from tests.unit.components.config.storage_helpers import (
    ALL_MONITORING,
    DIGEST,
    PROM,
    monitoring,
    refused,
)

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")


def test_real_migrations_start_at_plan_and_lose_nothing(real_config) -> None:
    migrations = {m.name: m for m in real_config.storage.migrations}
    assert set(migrations) == {"monitoring", "bazarr-pilot"}
    assert [c.name for c in migrations["monitoring"].pvcs] == ALL_MONITORING
    assert [c.key for c in migrations["bazarr-pilot"].pvcs] == ["media/bazarr-config-pvc"]
    for m in migrations.values():
        assert m.phase is Phase.PLAN
        assert m.accept_data_loss == []
    # The monitoring claims are local-path's; Bazarr's config is the repo's static NFS volume (no class).
    assert all(c.current_class == "local-path" for c in migrations["monitoring"].pvcs)
    assert [c.current_class for c in migrations["bazarr-pilot"].pvcs] == [""]
    for m in migrations.values():
        assert m.target_class == "longhorn-replicated"


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
        "not declared in this migration's pvcs (bazarr-config-pvc)"
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
        "k3s-home:storage.migrations[1].phase: verify before a recorded copy of bazarr-config-pvc; "
        "record the copy Job's result under copied first"
    )


def test_cleanup_before_cutover(raw: dict) -> None:
    b = raw["storage"]["migrations"][1]
    b.update(
        phase="cleanup",
        copied={"bazarr-config-pvc": {"bytes": 10, "seconds": 2}},
        verified={"bazarr-config-pvc": DIGEST},
    )
    assert refused(raw) == (
        "k3s-home:storage.migrations[1].phase: cleanup before cutover: run phase cutover, "
        "check the owners, then record cutoverAt"
    )


def test_cleanup_after_recorded_cutover_is_accepted(raw: dict) -> None:
    b = raw["storage"]["migrations"][1]
    b.update(
        phase="cleanup",
        copied={"bazarr-config-pvc": {"bytes": 10, "seconds": 2}},
        verified={"bazarr-config-pvc": DIGEST},
        cutoverAt="2025-06-15T10:00:00Z",
    )
    assert load(raw, today=TEST_TODAY).storage.migrations[1].phase is Phase.CLEANUP


def test_accept_data_loss_skips_the_verify_gate_only_for_named_claims(raw: dict) -> None:
    m = monitoring(raw)
    m.update(phase="cutover", acceptDataLoss=["storage-loki-0"])
    m["copied"] = {n: {"bytes": 1, "seconds": 1} for n in ALL_MONITORING[:3]}
    m["verified"] = {n: DIGEST for n in ALL_MONITORING[:3]}
    assert load(raw, today=TEST_TODAY).storage.migrations[0].phase is Phase.CUTOVER


def test_unknown_phase(raw: dict) -> None:
    monitoring(raw)["phase"] = "delete"
    assert refused(raw) == (
        "k3s-home:storage.migrations[0].phase: "
        "Input should be 'plan', 'copy', 'verify', 'detach', 'cutover' or 'cleanup'"
    )
