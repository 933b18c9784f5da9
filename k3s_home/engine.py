"""The Automation API stack the commands drive, and the checks that must pass before the engine runs."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.config import ConfigError, StackConfig, load_stack_file
from k3s_home import locks
from k3s_home.backend import STACK, Run, prepare, source_file, stack_file
from k3s_home.log import Refusal
from k3s_home.target import ROOT

POLICY_PACK = ROOT / "policy" / "run-pack"


def validated_config() -> StackConfig:
    """The stack file being previewed, validated before the engine runs (one line, nothing registered)."""
    path = source_file()
    if not path.is_file():
        raise Refusal(f"{path}: no such stack file (K3S_HOME_STACK_CONFIG)", code=2)
    try:
        return load_stack_file(path)
    except ConfigError as err:
        raise Refusal(f"invalid stack config: {err}", code=2) from None


def check_generator(ws: auto.LocalWorkspace, config: StackConfig) -> None:
    """The generator the stack chooses must be installed: never a silent switch (ADR 0016)."""
    if config.secrets.generator != "random":
        return
    version = metadata.version("pulumi_random")
    installed = {(p.name, p.kind, p.version) for p in ws.list_plugins()}
    if ("random", "resource", version) not in installed:
        raise Refusal(
            f"k3s-home:secrets.generator: random needs the random resource plugin {version}, which is not "
            f"installed (pulumi plugin install resource random {version}); or choose python (ADR 0016)",
            code=2,
        )


def check_lock() -> None:
    if reason := locks.refusal(os.environ["PULUMI_BACKEND_URL"]):
        raise Refusal(reason)


def open_stack(run: Run) -> tuple[auto.Stack, Path]:
    """Backend, passphrase and stack file prepared; the stack selected (created on first use)."""
    prepare(run)
    config_file = stack_file(run)
    ws = auto.LocalWorkspace(work_dir=str(ROOT))
    stack = auto.Stack.create_or_select(STACK, ws)
    return stack, config_file


def deployment(stack: auto.Stack) -> dict[str, Any]:
    """The exported state's `deployment` (resources, pending_operations)."""
    exported = stack.export_stack()
    data = exported.deployment if isinstance(exported.deployment, dict) else json.loads(exported.deployment)
    return data or {}


def import_deployment(stack: auto.Stack, data: dict[str, Any]) -> None:
    stack.import_stack(auto.Deployment(version=3, deployment=data))
