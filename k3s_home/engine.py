"""The Automation API stack the commands drive, and the checks that must pass before the engine runs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

from pulumi import automation as auto
from semver import VersionInfo

from components.config import ConfigError, StackConfig, load_stack_file
from k3s_home import locks
from k3s_home.backend import STACK, Run, checkpoint_file, prepare, source_file, stack_file
from k3s_home.log import Refusal
from k3s_home.target import ROOT

POLICY_PACK = ROOT / "policy" / "run-pack"


def validated_config(today: date) -> StackConfig:
    """The stack file being previewed, validated before the engine runs (one line, nothing registered)."""
    path = source_file()
    if not path.is_file():
        raise Refusal(f"{path}: no such stack file (K3S_HOME_STACK_CONFIG)", code=2)
    try:
        return load_stack_file(path, today=today)
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


class _Workspace(auto.LocalWorkspace):
    """The Automation API's workspace without two CLI starts (about 0.25 s each) that tell it nothing new:

    - `pulumi version`, which the API runs to gate features by version: scripts/toolchain.sh puts the
      pinned CLI on PATH and says its version (K3S_HOME_PULUMI_VERSION); without that, the API asks.
    - `pulumi stack select` of a stack the local file backend already holds: every command the API
      runs names its stack (`--stack`), so the selection changes nothing. A stack not there yet is
      selected (or created) through the CLI as before."""

    def __init__(self, work_dir: str) -> None:
        pinned = os.environ.get("K3S_HOME_PULUMI_VERSION")
        cli = None
        if pinned:
            cli = auto.PulumiCommand.__new__(auto.PulumiCommand)  # its __init__ would run `pulumi version`
            cli.command, cli.version = "pulumi", VersionInfo.parse(pinned)
        super().__init__(work_dir=work_dir, pulumi_command=cli)

    def select_stack(self, stack_name: str) -> None:
        if stack_name == STACK and checkpoint_file():
            return
        super().select_stack(stack_name)


def open_stack(run: Run) -> tuple[auto.Stack, Path]:
    """Backend, passphrase and stack file prepared; the stack selected (created on first use)."""
    prepare(run)
    config_file = stack_file(run)
    ws = _Workspace(work_dir=str(run.project))
    stack = auto.Stack.create_or_select(STACK, ws)
    return stack, config_file


def _cli(stack: auto.Stack, *args: str) -> str:
    """A pulumi CLI call in the stack's own project directory (backend, passphrase: the environment)."""
    done = subprocess.run(
        ["pulumi", "--non-interactive", *args, "--stack", STACK],
        cwd=stack.workspace.work_dir,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise Refusal(f"pulumi {args[0]} {args[1]} failed: {last}")
    return done.stdout


def deployment(stack: auto.Stack) -> dict[str, Any]:
    """The exported state's `deployment` (resources, pending_operations). Secrets stay ciphertext: the
    Automation API's export asks for --show-secrets, and its import writes what it gets to a temp file."""
    data = json.loads(_cli(stack, "stack", "export")).get("deployment")
    return data or {}


def checkpoint(stack: auto.Stack) -> dict[str, Any]:
    """The state's `deployment` as `deployment(stack)` gives it, read straight from a local file backend's
    checkpoint (the same document `stack export` prints, without a CLI start); other backends through the
    CLI. For reading only: what is imported back always comes from `deployment`."""
    path = checkpoint_file()
    if path is None:
        return deployment(stack)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return (json.loads(raw).get("checkpoint") or {}).get("latest") or {}


def import_deployment(stack: auto.Stack, data: dict[str, Any], run: Run) -> None:
    path = run.dir / "state-import.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"version": 3, "deployment": data}, f)
    try:
        _cli(stack, "stack", "import", "--file", str(path))
    finally:
        path.unlink(missing_ok=True)
