"""rules.data_loss: what counts as data, what the migrations acknowledge, and the data-loss verdict."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from rules.data_loss import (
    PYTHON_SECRET_TYPE,
    RANDOM_SECRET_TYPE,
    RULE,
    Phase,
    acknowledged,
    data_loss,
    is_data_bearing,
    values_hold_data,
)
from rules.registry import BY_ID
from tests.conftest import TEST_TODAY


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
    assert [p.value for p in Phase] == ["plan", "copy", "verify", "detach", "cutover", "cleanup"]
    assert Phase.CUTOVER.at_least(Phase.VERIFY) and not Phase.COPY.at_least(Phase.VERIFY)
    assert Phase.CUTOVER.at_least(Phase.DETACH) and not Phase.VERIFY.at_least(Phase.DETACH)


def _migrations(real_raw: dict, phase: str, accept: list[str] | None = None):
    raw = copy.deepcopy(real_raw)
    (m,) = [m for m in raw["storage"]["migrations"] if m["name"] == "bazarr-pilot"]
    m["phase"] = "plan"
    m["acceptDataLoss"] = accept or []
    config = load(raw, today=TEST_TODAY)
    (mig,) = [m for m in config.storage.migrations if m.name == "bazarr-pilot"]
    return [mig.model_copy(update={"phase": Phase(phase)})]


@pytest.mark.parametrize("phase", ["plan", "copy", "verify", "detach"])
def test_nothing_is_acknowledged_before_cutover(real_raw: dict, phase: str) -> None:
    assert acknowledged(_migrations(real_raw, phase)) == set()


def test_cutover_acknowledges_claim_and_owner_cleanup_the_old_pv(real_raw: dict) -> None:
    (m,) = _migrations(real_raw, "cutover")
    (c,) = m.pvcs
    claim_and_owner = {f"{c.namespace}/{c.name}", f"{c.namespace}/{c.owner.name}"}
    claim_and_owner |= {"media/bazarr-config-pvc-migrated", f"bazarr-pilot-{m.volume_name(c)[-10:]}-staging"}
    assert acknowledged([m]) == claim_and_owner
    assert acknowledged(_migrations(real_raw, "cleanup")) == claim_and_owner | {c.source.volume}


def test_accept_data_loss_acknowledges_the_claim_in_any_phase(real_raw: dict) -> None:
    (m,) = _migrations(real_raw, "plan", accept=["bazarr-config-pvc"])
    (c,) = m.pvcs
    assert acknowledged([m]) == {f"{c.namespace}/{c.name}"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"singleBinary": {"persistence": {"enabled": True}}}, True),
        ({"persistence": {"config": {"enabled": True, "existingClaim": "bazarr-config-pvc"}}}, True),
        ({"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": {"spec": {}}}}}}, True),
        ({"grafana": {"persistence": {"enabled": False}}}, False),
        ({"persistence": {"config": {"enabled": False}}}, False),
        ({"replicas": 1, "extraVolumes": [{"name": "tmp", "emptyDir": {}}]}, False),
        (None, False),
    ],
)
def test_values_hold_data(values, expected: bool) -> None:
    assert values_hold_data(values) is expected


@pytest.mark.parametrize("token", [RANDOM_SECRET_TYPE, PYTHON_SECRET_TYPE])
def test_a_generated_secret_is_data_and_retaining_it_keeps_nothing(token: str) -> None:
    finding = data_loss("replace", token, False, "ha-control-plane-token")
    assert finding is not None and "would regenerate this generated secret" in finding.message
    assert data_loss("delete", token, False, "t", retained=True) is not None
    assert data_loss("delete", "kubernetes:core/v1:PersistentVolumeClaim", False, "c", retained=True) is None
    assert data_loss("replace", "kubernetes:core/v1:PersistentVolumeClaim", False, "c", retained=True)


def test_owns_data_makes_any_type_data_bearing() -> None:
    hr = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
    assert data_loss("delete", hr, False, "monitoring/loki") is None
    assert data_loss("delete", hr, False, "monitoring/loki", owns_data=True) is not None


def test_the_real_config_names_its_data_releases(real_raw: dict) -> None:
    releases = load(real_raw, today=TEST_TODAY).storage.data_releases
    assert {"monitoring/kube-prometheus-stack", "monitoring/loki", "media/bazarr"} <= set(releases)
