"""A fresh copy of the real stack config per test, to edit into a bad one."""

from __future__ import annotations

import copy

import pytest


@pytest.fixture
def raw(real_raw: dict) -> dict:
    return copy.deepcopy(real_raw)
