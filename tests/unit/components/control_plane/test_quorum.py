"""etcd quorum arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.control_plane.quorum import failure_tolerance, quorum


@given(st.integers(min_value=1, max_value=99))
def test_quorum_is_a_strict_majority(n):
    assert quorum(n) == n // 2 + 1
    assert 2 * quorum(n) > n  # two partitions can never both hold quorum
    assert failure_tolerance(n) == n - quorum(n)


@given(st.integers(min_value=0, max_value=49).map(lambda k: 2 * k + 1))
def test_an_even_server_adds_no_tolerance(odd):
    assert failure_tolerance(odd + 1) == failure_tolerance(odd)
    assert failure_tolerance(odd + 2) == failure_tolerance(odd) + 1


@pytest.mark.parametrize(("n", "q", "t"), [(1, 1, 0), (2, 2, 0), (3, 2, 1), (4, 3, 1), (5, 3, 2), (7, 4, 3)])
def test_quorum_examples(n, q, t):
    assert (quorum(n), failure_tolerance(n)) == (q, t)


def test_quorum_needs_a_server():
    with pytest.raises(ValueError, match="at least one server"):
        quorum(0)
