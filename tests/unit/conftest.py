"""Pulumi mocks that record every registered resource, so tests assert on the resource graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest

from rules.data_loss import GENERATED_SECRET_TYPES


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    options: Any  # pulumi.runtime.MockResourceArgs, for parent/protect/etc.


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    resources: list[Recorded] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), args))
        outputs = dict(args.inputs)
        if args.typ in GENERATED_SECRET_TYPES:
            outputs["result"] = f"mock-{args.name}"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Recorded:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]


@pytest.fixture(autouse=True)
def no_target_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit layer never reads a cluster: components.gpu.live_workloads reads $KUBECONFIG's target,
    so a developer's KUBECONFIG would make a unit test depend on their cluster (a test may set one)."""
    monkeypatch.delenv("KUBECONFIG", raising=False)


@pytest.fixture
def record() -> Callable[[Callable[[], Any]], RecordingMocks]:
    """`record(build)` runs `build()` under fresh mocks, waits for every registration, returns the mocks."""

    def run(build: Callable[[], Any]) -> RecordingMocks:
        mocks = RecordingMocks()
        pulumi.runtime.set_mocks(mocks, project="k3s-home", stack="k3s-home", preview=False)
        pulumi.runtime.test(build)()
        return mocks

    return run
