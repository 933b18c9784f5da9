"""The phase graph's ordering at cutover: no claim is recreated before the check that no pod uses it."""

from __future__ import annotations

import pytest

from components.storage.phases import CLAIM_FREE_KIND, phase_objects
from rules.data_loss import Phase
from tests.unit.components.storage.test_migration import staged

# Migrations past plan need Longhorn to run: these tests simulate a cluster where it does (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("longhorn_deployed")

# (migration, claims whose loss is accepted): the moved path and the directive's empty-claim path.
CASES = [
    ("bazarr-pilot", []),
    ("monitoring", []),
    ("monitoring", ["storage-loki-0"]),
]


@pytest.mark.parametrize(("name", "loss"), CASES)
def test_every_recreated_claim_waits_for_its_claim_free_check(real_raw, name, loss) -> None:
    config = staged(real_raw, "cutover", loss=loss, name=name)
    m = next(x for x in config.storage.migrations if x.name == name)
    planned = phase_objects(config.storage, m)
    keys = [p.key for p in planned]
    for c in m.pvcs:
        claim = next(p for p in planned if p.key == f"claim-{c.name}")
        free = next(p for p in planned if p.key == f"free-{c.name}")
        assert free.obj["kind"] == CLAIM_FREE_KIND
        assert (free.obj["metadata"]["namespace"], free.obj["metadata"]["name"]) == (c.namespace, c.name)
        assert f"free-{c.name}" in claim.after, (c.name, claim.after)
        # Registered first: the component resolves `after` against what it already registered.
        assert keys.index(f"free-{c.name}") < keys.index(f"claim-{c.name}")
        assert claim.delete_before_replace and claim.protect


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.CUTOVER])
def test_only_cutover_checks_claims(real_raw, phase: Phase) -> None:
    config = staged(real_raw, phase.value)
    [m] = [x for x in config.storage.migrations if x.name == "bazarr-pilot"]
    assert [p.key for p in phase_objects(config.storage, m) if p.obj["kind"] == CLAIM_FREE_KIND] == []
