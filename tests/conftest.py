"""Shared fixtures for every test layer."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

import facts
from components.config import StackConfig, load_stack_file
from components.config.clock import TODAY_ENV
from facts.__main__ import render
from facts.model import Facts

# No per-example deadline: on a loaded machine a slow example is not a bug, and a test must not depend
# on timing luck. Hypothesis still reports genuinely slow strategies through its health checks.
# Derandomized: CI draws the same examples on every run, so a red run is reproducible and a green one
# is not luck. New cases come from widening a strategy, not from the seed.
settings.register_profile("k3s-home", deadline=None, derandomize=True, database=None)
settings.load_profile("k3s-home")

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
# The day every test judges against (stability.since, the MFA window). Tests pass it to what they load;
# the entry points they run, in process or as subprocesses (the driver, the program, the pack), read it
# from K3S_HOME_TODAY, so no test depends on the machine's clock.
TEST_TODAY = date(2026, 11, 23)
os.environ[TODAY_ENV] = TEST_TODAY.isoformat()


@pytest.fixture(scope="session")
def real_config() -> Iterator[StackConfig]:
    """The validated config of the real cluster, as committed. Loaded once: about 300 tests use it, and the
    model is frozen; the check at the end catches a test that changed a list or dict inside it."""
    config = load_stack_file(STACK_FILE, today=TEST_TODAY)
    yield config
    assert config == load_stack_file(STACK_FILE, today=TEST_TODAY), (
        "a test modified the shared real_config in place"
    )


@cache
def _raw() -> dict:
    doc = yaml.load(STACK_FILE.read_text(), Loader=yaml.CSafeLoader)
    return {k.removeprefix("k3s-home:"): v for k, v in doc["config"].items()}


@pytest.fixture
def real_raw() -> dict:
    """The real cluster's raw stack config (without the `k3s-home:` prefix), for building bad variants."""
    return copy.deepcopy(_raw())


LONGHORN = "driver.longhorn.io"


def facts_with_longhorn() -> Facts:
    """The cluster's facts once Longhorn runs: what a test of a migration past `plan` simulates (its
    provisioner is a stand-in; the real repo deploys no Longhorn, so the real config stays at plan)."""
    real = facts.load()
    return real.model_copy(
        update={"provisioners": {**real.provisioners, LONGHORN: "test stand-in: Longhorn"}}
    )


def write_facts(known: Facts, directory: Path) -> Path:
    """A facts file of `known` in `directory`, as `make facts` writes one."""
    path = directory / "facts.yaml"
    path.write_text(render(known))
    return path


@pytest.fixture
def use_facts(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Point every facts reader of the test (and the processes it starts) at these facts instead."""

    def use(known: Facts) -> Facts:
        monkeypatch.setenv(facts.ENV, str(write_facts(known, tmp_path_factory.mktemp("facts"))))
        return facts.load()

    return use


@pytest.fixture
def longhorn_deployed(use_facts) -> Facts:
    """The facts once Longhorn runs, for a test of a migration past `plan` (ADR 0028)."""
    return use_facts(facts_with_longhorn())


def facts_applying(*files: str) -> Facts:
    """The cluster's facts with one more object applied from each of `files` (a test's own repo files)."""
    from facts.model import ObjectFact

    real = facts.load()
    extra = [
        ObjectFact(apiVersion="v1", kind="ConfigMap", namespace="test", name=f"applied-{i}",
                   kustomization="flux-system/test", source=f"{file}:1")
        for i, file in enumerate(files)
    ]  # fmt: skip
    return real.model_copy(update={"objects": [*real.objects, *extra]})
