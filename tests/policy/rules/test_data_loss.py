"""rules.data_loss: what counts as data, what the migrations acknowledge, and the data-loss verdict."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from rules.data_loss import RULE, Phase, acknowledged, data_loss, is_data_bearing
from rules.registry import BY_ID


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("PersistentVolumeClaim", True),
        ("PersistentVolume", True),
        ("StatefulSet", True),
        ("kubernetes:core/v1:PersistentVolumeClaim", True),
        ("kubernetes:core/v1:PersistentVolume", True),
        ("kubernetes:apps/v1:StatefulSet", True),
        ("kubernetes:apps/v1:Deployment", False),
        ("kubernetes:core/v1:ConfigMap", False),
        ("kubernetes:storage.k8s.io/v1:StorageClass", False),
        ("Job", False),
    ],
)
def test_is_data_bearing(given: str, expected: bool) -> None:
    assert is_data_bearing(given) is expected


def test_registered_as_the_gate_rule() -> None:
    assert BY_ID[RULE].check is data_loss and BY_ID[RULE].scope == "gate"


@pytest.mark.parametrize("op", ["delete", "replace"])
def test_unacknowledged_destruction_of_data_is_a_mandatory_finding(op: str) -> None:
    finding = data_loss(op, "kubernetes:core/v1:PersistentVolumeClaim", False, "monitoring/grafana")
    assert finding is not None and finding.rule == RULE and finding.severity == "mandatory"
    assert f"{op} of PersistentVolumeClaim monitoring/grafana" in finding.message


@pytest.mark.parametrize(
    ("op", "token", "acked"),
    [
        ("delete", "kubernetes:core/v1:PersistentVolumeClaim", True),
        ("update", "kubernetes:apps/v1:StatefulSet", False),
        ("create", "kubernetes:core/v1:PersistentVolume", False),
        ("delete", "kubernetes:apps/v1:Deployment", False),
    ],
)
def test_anything_else_passes(op: str, token: str, acked: bool) -> None:
    assert data_loss(op, token, acked) is None


def test_phases_are_ordered() -> None:
    assert [p.value for p in Phase] == ["plan", "copy", "verify", "cutover", "cleanup"]
    assert Phase.CUTOVER.at_least(Phase.VERIFY) and not Phase.COPY.at_least(Phase.VERIFY)


def _migrations(real_raw: dict, phase: str, accept: list[str] | None = None):
    raw = copy.deepcopy(real_raw)
    (m,) = [m for m in raw["storage"]["migrations"] if m["name"] == "bazarr-pilot"]
    m["phase"] = "plan"
    m["acceptDataLoss"] = accept or []
    config = load(raw)
    (mig,) = [m for m in config.storage.migrations if m.name == "bazarr-pilot"]
    return [mig.model_copy(update={"phase": Phase(phase)})]


def test_nothing_is_acknowledged_before_cutover(real_raw: dict) -> None:
    assert acknowledged(_migrations(real_raw, "verify")) == set()


def test_cutover_acknowledges_claim_and_owner_cleanup_the_old_pv(real_raw: dict) -> None:
    (m,) = _migrations(real_raw, "cutover")
    (c,) = m.pvcs
    claim_and_owner = {f"{c.namespace}/{c.name}", f"{c.namespace}/{c.owner.name}"}
    assert acknowledged([m]) == claim_and_owner
    assert acknowledged(_migrations(real_raw, "cleanup")) == claim_and_owner | {c.source.volume}


def test_accept_data_loss_acknowledges_the_claim_in_any_phase(real_raw: dict) -> None:
    (m,) = _migrations(real_raw, "plan", accept=["bazarr-config"])
    (c,) = m.pvcs
    assert acknowledged([m]) == {f"{c.namespace}/{c.name}"}
