"""Render mode through the provider's own config key: no import without a cluster, live volumes skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pulumi.runtime.config as pulumi_config
import pytest

from components.resources import RENDER_CONFIG, adoption, registered, rendering


@pytest.fixture
def render_mode() -> Iterator[None]:
    key = f"kubernetes:{RENDER_CONFIG}"
    pulumi_config.set_config(key, "/tmp/rendered")
    try:
        yield
    finally:
        pulumi_config.CONFIG.get().pop(key, None)


def test_direct_mode_imports_adopted_objects_as_live() -> None:
    assert not rendering()
    opts = adoption("ai/gpu-quota")
    assert opts["import_"] == "ai/gpu-quota" and opts["retain_on_delete"] and "spec" in opts["ignore_changes"]
    assert registered("pvc-123")


def test_render_mode_imports_nothing_and_skips_live_volumes(render_mode: None) -> None:
    assert rendering()
    assert adoption("ai/gpu-quota") == {}
    assert not registered("pvc-123")
    assert registered(None)
