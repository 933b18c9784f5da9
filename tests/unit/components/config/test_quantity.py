"""Storage quantities as bytes."""

from __future__ import annotations

import pytest

from components.config.quantity import parse_quantity


def test_quantities() -> None:
    assert parse_quantity("50Gi") == 50 * 2**30
    assert parse_quantity("500M") == 500 * 10**6
    assert parse_quantity("1Ti") > parse_quantity("1000Gi")
    with pytest.raises(ValueError, match="not a storage quantity"):
        parse_quantity("50GB")
