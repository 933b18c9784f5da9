"""Helpers for the storage and migration config tests: one-line refusals, nothing registered."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.config import ConfigError, load
from components.storage.component import MonitoringStorage
from tests.conftest import TEST_TODAY

DIGEST = "sha256:" + "ab" * 32


PROM = "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0"


ALL_MONITORING = [
    PROM,
    "alertmanager-kube-prometheus-stack-alertmanager-db-alertmanager-kube-prometheus-stack-alertmanager-0",
    "kube-prometheus-stack-grafana",
    "storage-loki-0",
]


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(args.name)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def refused(raw: dict[str, Any]) -> str:
    """Load and build like __main__ does; return the one-line error and prove nothing was registered."""
    mocks = _Recorder()
    pulumi.runtime.set_mocks(mocks, project="k3s-home", stack="k3s-home", preview=False)

    def build() -> None:
        MonitoringStorage("monitoring-storage", load(raw, today=TEST_TODAY))

    with pytest.raises(ConfigError) as err:
        pulumi.runtime.test(build)()
    assert mocks.registered == [], "a bad config must fail before any resource is registered"
    message = str(err.value)
    assert "\n" not in message
    return message


def monitoring(raw: dict) -> dict:
    return next(m for m in raw["storage"]["migrations"] if m["name"] == "monitoring")
