"""docs/migration.svg: each claim's phase with its source and target class, committed, and current."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from components.docs.generated import stale
from components.storage.picture import FILE, picture
from tests.conftest import TEST_TODAY

# Every test here draws (matplotlib or graphviz): the `slow` layer of `make test`.
pytestmark = pytest.mark.slow

DIGEST = "sha256:" + "cd" * 32
LOKI = "storage-loki-0"


def test_committed_picture_is_current(real_config) -> None:
    assert stale({FILE: picture(real_config.storage)}) == [], f"docs/{FILE} is stale: run make docs"


def test_every_claim_shows_its_classes_sizes_and_phase(real_config) -> None:
    storage = real_config.storage
    svg = picture(storage).decode()
    for m in storage.migrations:
        assert f"migration {m.name} → {m.target_class}: phase plan, next copy" in svg
        for c in m.pvcs:
            assert c.key[:20] in svg  # long chart-made names are elided in the middle
    claims = [c for m in storage.migrations for c in m.pvcs]
    assert len(claims) == 5
    assert svg.count("local-path → longhorn-replicated") == 4  # the monitoring claims
    assert svg.count("static nfs → longhorn-replicated") == 1  # Bazarr's config, the repo's NFS volume
    assert "monitoring/storage-loki-0" in svg and "10Gi → 20Gi" in svg and "100Mi → 2Gi" in svg
    assert svg.count(">adopt<") == 5 and svg.count(">clean up<") == 5


@pytest.mark.usefixtures("longhorn_deployed")  # a migration past plan: Longhorn must run
def test_cutover_shows_recorded_results_and_accepted_loss(real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    m = next(x for x in raw["storage"]["migrations"] if x["name"] == "monitoring")
    lost = next(c["name"] for c in m["pvcs"] if c["name"].startswith("alertmanager-"))
    moved = [c["name"] for c in m["pvcs"] if c["name"] != lost]
    m.update(
        phase="cutover",
        acceptDataLoss=[lost],
        copied={c: {"bytes": 3 * 2**30, "files": 7, "seconds": 12.5} for c in moved},
        verified={c: DIGEST for c in moved},
    )
    svg = picture(load(raw, today=TEST_TODAY).storage).decode()
    assert "migration monitoring → longhorn-replicated: phase cutover, next cleanup" in svg
    assert svg.count(">copied 3 GiB<") == 3 and svg.count(">12.5 s<") == 3
    assert svg.count(">sha256:cdcdcd…<") == 3
    assert svg.count(">no copy<") == 2 and svg.count(">EMPTY volume<") == 1  # copy and verify skipped
    assert svg.count(">cut over<") == 3 + 1  # the three moved claims, and bazarr still in plan
    assert f"monitoring/{LOKI}" in svg
