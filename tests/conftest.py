"""Shared fixtures for every test layer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

import rules.authentik
from components.config import StackConfig, load_stack_file

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
# The day every test judges against (config validation reads the clock: stability.since, the MFA window).
TEST_TODAY = date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test depends on the machine's clock; a test that needs another day patches it again."""
    monkeypatch.setattr(rules.authentik, "today", lambda: TEST_TODAY)


@pytest.fixture
def real_config() -> StackConfig:
    """The validated config of the real cluster, as committed."""
    return load_stack_file(STACK_FILE)


@pytest.fixture
def real_raw() -> dict:
    """The real cluster's raw stack config (without the `k3s-home:` prefix), for building bad variants."""
    import yaml

    doc = yaml.safe_load(STACK_FILE.read_text())
    return {k.removeprefix("k3s-home:"): v for k, v in doc["config"].items()}
