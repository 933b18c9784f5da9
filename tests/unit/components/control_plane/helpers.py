"""Config variants for the control-plane tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from components.config import load
from components.config.control_plane import ControlPlaneConfig
from tests.conftest import TEST_TODAY


def variant(raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> ControlPlaneConfig:
    raw = copy.deepcopy(raw)
    mutate(raw["controlPlane"])
    return load(raw, today=TEST_TODAY).control_plane


def node_raw(cp: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in cp["nodes"] if n["name"] == name)


ROOT = Path(__file__).resolve().parents[4]
FACTS = ROOT / "facts" / "k3s-home.yaml"


def facts_variant(tmp_path: Path, monkeypatch: Any, mutate: Callable[[dict[str, Any]], None]) -> Path:
    """A cluster that differs from the real one: the committed facts, changed by `mutate`, written to a
    file that K3S_HOME_FACTS points at for the rest of the test."""
    import facts

    raw = yaml.safe_load(FACTS.read_text())
    mutate(raw)
    path = tmp_path / "facts.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv(facts.ENV, str(path))
    return path


LIVE = Path(__file__).parent / "live"
NODES = ("k3s-master1", "k3s1", "k3s2", "k3s3")


def live_text(name: str) -> str:
    """A realistic captured config.yaml for `name`, with keys the stack does not own (test fixture)."""
    return (LIVE / f"{name}-config.yaml").read_text()


def captured(raw: dict[str, Any], **texts: str) -> dict[str, Any]:
    """`raw` with every node's liveConfig set: the fixture file, or the text given for that node."""
    raw = copy.deepcopy(raw)
    for node in raw["controlPlane"]["nodes"]:
        node["liveConfig"] = texts.get(node["name"], live_text(node["name"]))
    return raw


def captured_config(raw: dict[str, Any], **texts: str) -> ControlPlaneConfig:
    return load(captured(raw, **texts), today=TEST_TODAY).control_plane
