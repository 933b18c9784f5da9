"""Shared fixtures for every test layer."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

import rules.authentik
from components.config import StackConfig, load_stack_file

# No per-example deadline: on a loaded machine a slow example is not a bug, and a test must not depend
# on timing luck. Hypothesis still reports genuinely slow strategies through its health checks.
# Derandomized: CI draws the same examples on every run, so a red run is reproducible and a green one
# is not luck. New cases come from widening a strategy, not from the seed.
settings.register_profile("k3s-home", deadline=None, derandomize=True, database=None)
settings.load_profile("k3s-home")

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
# The day every test judges against (config validation reads the clock: stability.since, the MFA window).
TEST_TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on the machine's clock; a test that needs another day patches it again."""
    monkeypatch.setattr(rules.authentik, "today", lambda: TEST_TODAY)


@pytest.fixture(scope="session")
def real_config() -> Iterator[StackConfig]:
    """The validated config of the real cluster, as committed. Loaded once: about 300 tests use it, and the
    model is frozen; the check at the end catches a test that changed a list or dict inside it."""
    with pytest.MonkeyPatch.context() as mp:  # validated on the pinned day, like every test
        mp.setattr(rules.authentik, "today", lambda: TEST_TODAY)
        config = load_stack_file(STACK_FILE)
        yield config
        assert config == load_stack_file(STACK_FILE), "a test modified the shared real_config in place"


@cache
def _raw() -> dict:
    doc = yaml.load(STACK_FILE.read_text(), Loader=yaml.CSafeLoader)
    return {k.removeprefix("k3s-home:"): v for k, v in doc["config"].items()}


@pytest.fixture
def real_raw() -> dict:
    """The real cluster's raw stack config (without the `k3s-home:` prefix), for building bad variants."""
    return copy.deepcopy(_raw())
