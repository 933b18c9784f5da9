"""Config variants for the control-plane tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from components.config import load
from components.config.control_plane import ControlPlaneConfig


def variant(raw: dict[str, Any], mutate: Callable[[dict[str, Any]], None]) -> ControlPlaneConfig:
    raw = copy.deepcopy(raw)
    mutate(raw["controlPlane"])
    return load(raw).control_plane


def node_raw(cp: dict[str, Any], name: str) -> dict[str, Any]:
    return next(n for n in cp["nodes"] if n["name"] == name)
