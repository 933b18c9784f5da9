"""The capacity arithmetic shared by the gpu model and the gpu-oversubscription rule."""

from __future__ import annotations

import pytest

from rules.gpu_capacity import Claim, parse_count, prove


def test_prove_unbounded_and_zero_capacity() -> None:
    unbounded = prove("nvidia.com/gpu", 16, [Claim("ai", None), Claim("media", 2, 2)])
    assert not unbounded.ok
    assert unbounded.explain() == (
        "pool nvidia.com/gpu is not bounded: ai unbounded (no quota) + media reserved 2; "
        "give every tenant a quota on it"
    )
    empty = prove("x/gpu", 0, [])
    assert not empty.ok
    assert empty.explain() == "pool x/gpu has capacity 0; it must be at least 1"


def test_prove_counts_a_quota_below_its_reservation_as_the_reservation() -> None:
    verdict = prove("p", 4, [Claim("a", 1, 3), Claim("b", 2)])
    assert verdict.committed == 5 and not verdict.ok


@pytest.mark.parametrize(
    ("value", "count"),
    [("2", 2), (3, 3), ("2.0", 2), ("1k", 1000), ("0.5", None), ("-1", None), ("two", None), (True, None)],
)
def test_parse_count(value, count) -> None:
    assert parse_count(value) == count
