"""The pilot report from recorded phase results: the numbers, the timeline and each go/no-go rule."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from components.storage.pilot_report import main, report, rules
from tests.conftest import TEST_TODAY

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")

DIGEST = "sha256:" + "ab" * 32


def pilot(real_raw: dict, **records) -> dict:
    raw = copy.deepcopy(real_raw)
    m = next(x for x in raw["storage"]["migrations"] if x["name"] == "bazarr-pilot")
    m.update(records)
    return raw


DONE = {
    "phase": "cleanup",
    "copied": {"bazarr-config-pvc": {"bytes": 52_428_800, "files": 812, "seconds": 10.0}},
    "verified": {"bazarr-config-pvc": DIGEST},
    "scaledDownAt": "2026-11-29T09:00:00Z",
    "cutoverAt": "2026-11-29T09:12:30Z",
    "lessons": ["the settle step waited 30 s once: a subtitle job was still writing"],
}


def test_a_clean_pilot_is_a_go_with_its_numbers(real_raw) -> None:
    text = report(load(pilot(real_raw, **DONE), today=TEST_TODAY).storage)
    assert "**Decision: GO** for the remaining migrations." in text
    assert (
        "| media/bazarr-config-pvc | (static) 100Mi → longhorn-replicated 2Gi | 52428800 | 812 | 10.0 |"
        in text
    )
    assert "Downtime window (scale-down at copy → owners Ready after cutover): 12 min 30 s" in text
    assert "Copy throughput: 5.00 MiB/s" in text
    assert "- the settle step waited 30 s once: a subtitle job was still writing" in text
    # monitoring (4 claims, 75Gi in full) at 5 MiB/s: 15360 s, plus 10 min for the operator.
    assert "| 1 | monitoring | 4 | 266 min 00 s |" in text


def test_each_rule_can_say_no(real_raw) -> None:
    slow = load(pilot(real_raw, **{**DONE, "cutoverAt": "2026-11-29T09:15:01Z"}), today=TEST_TODAY).storage
    verdict = {r.name.split(" ")[0]: r for r in rules(slow.migrations[1])}
    assert not verdict["Downtime"].holds and verdict["Downtime"].measured == "15 min 01 s"
    assert "**Decision: NO-GO**" in report(slow)
    lossy = load(
        pilot(real_raw, **{**DONE, "acceptDataLoss": ["bazarr-config-pvc"]}), today=TEST_TODAY
    ).storage
    assert not next(r for r in rules(lossy.migrations[1]) if r.name.startswith("Zero")).holds
    early = load(pilot(real_raw, **{**DONE, "phase": "cutover"}), today=TEST_TODAY).storage
    assert not next(r for r in rules(early.migrations[1]) if r.name.startswith("Cutover")).holds


def test_nothing_recorded_yet_is_a_no_go_without_estimates(real_raw) -> None:
    text = report(load(real_raw, today=TEST_TODAY).storage)
    assert "**Decision: NO-GO**" in text
    assert "not recorded (scaledDownAt, cutoverAt)" in text
    assert "No estimate without a measured copy rate." in text


def test_cli_names_an_unknown_migration(capsys) -> None:
    assert main(["Pulumi.k3s-home.yaml", "--migration", "nope"]) == 2
    assert capsys.readouterr().err == "k3s-home:storage.migrations: no migration named 'nope'\n"
