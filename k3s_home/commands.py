"""What each subcommand does. The review gate reads the engine's events in process (review/gate.py).

preview   refresh against the target, --diff, the policy pack, a saved plan, then the gate
up        refreshes as the preview did, then applies exactly the reviewed plan (asks unless --yes)
destroy   previews the destroy, runs the gate over everything it would lose, needs --ack for the data
cancel    clears a stale lock (refuses while its process runs)
record-migration-sources  writes each migrated claim's live PV, node, path and uid into the stack file
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.docs.generated import redrawn_pictures
from k3s_home import engine, identity, target, toolchain
from k3s_home.backend import STACK, Run
from k3s_home.events import EventStream, wait_seconds
from k3s_home.log import Refusal, log, stderr
from review.gate import SUMMARY_ENV, pending_operations, publish, summarize
from rules import data_loss

PROVIDER_PREFIX = "pulumi:providers:"


def _out(text: str) -> None:
    print(text, end="" if text.endswith("\n") else "\n", flush=True)


def _reviewed(run: Run, config_file: Path, stream: EventStream) -> dict[str, Any]:
    """What preview and up share, so that up applies exactly what was reviewed: refreshed against the
    target (out-of-band deletes and edits show up as drift; an up that did not refresh would plan no
    step for them, "expected resource operations ... but none were seen"), the policy pack, the config
    file, the saved plan, and the output and events."""
    return {
        "refresh": True,
        "policy_packs": [str(engine.POLICY_PACK)],
        "config_file": str(config_file),
        "plan": str(run.plan),
        "on_output": _out,
        "on_error": stderr,
        "on_event": stream,
    }


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refusal(f"{question}: not confirmed (no terminal); pass YES=1 (--yes)")
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        raise Refusal("not confirmed")


def _start(run: Run, today: date) -> tuple[auto.Stack, Path, str, Any]:
    config = engine.validated_config(today)
    toolchain.require("pulumi")
    kubeconfig = target.choose()
    stack, config_file = engine.open_stack(run)
    engine.check_generator(stack.workspace, config)
    engine.check_lock()
    identity.check(run, kubeconfig)  # a state written for another cluster is no basis for a preview
    return stack, config_file, kubeconfig, config


def _collect(operation: Callable[[], Any], stream: EventStream) -> tuple[int, list[Any]]:
    """Run an engine operation and return (exit code, every event up to the engine's final one).

    Refuses (fail closed) when the final event never arrives: the API delivers events on its own threads
    and returns without waiting for them (k3s_home/events.py)."""
    code = 0
    try:
        operation()
    except auto.errors.CommandError:
        code = 1
    except RuntimeError as err:  # "summary event never found": it may still be on its way; the wait decides
        log(f"{stream.command}: {err}; waiting for the engine's events")
    return code, stream.complete(wait_seconds())


def preview(run: Run, today: date, acks: list[str], extra: list[str]) -> int:
    # A refused or failed preview leaves no reviewed plan and no stale events behind.
    run.plan.unlink(missing_ok=True)
    run.preview_events.unlink(missing_ok=True)
    stack, config_file, kubeconfig, config = _start(run, today)
    pending = pending_operations(engine.checkpoint(stack))
    stream = EventStream("preview", run.preview_events)
    passed = False
    try:
        code, events = _collect(
            lambda: stack.preview(
                diff=True,
                expect_no_changes="--expect-no-changes" in extra or None,
                **_reviewed(run, config_file, stream),
            ),
            stream,
        )
        acknowledged = set(acks) | data_loss.acknowledged(config.storage.migrations)
        summary = summarize(events, acknowledged, set(config.storage.data_releases))
        summary.pending = pending
        summary.pictures = redrawn_pictures(config)
        gate = publish(summary, kubeconfig, os.environ.get(SUMMARY_ENV))
        passed = code == 0 and gate == 0
    finally:
        if not passed:
            run.plan.unlink(missing_ok=True)  # a blocked or refused plan must not be applied by mistake
    if not passed:
        return code or gate
    log(f"reviewed plan saved: {run.plan} (make up applies exactly this plan)")
    return 0


def up(run: Run, today: date, yes: bool) -> int:
    if not run.plan.is_file():
        raise Refusal("no reviewed plan: run 'make preview' first")
    stack, config_file, kubeconfig, _ = _start(run, today)
    _confirm("apply the reviewed plan", yes)
    identity.record(run, kubeconfig)
    stream = EventStream("up", run.dir / "up-events.jsonl")
    try:
        stack.up(
            **_reviewed(run, config_file, stream),
        )
    except auto.errors.CommandError:
        return 1
    finally:
        run.plan.unlink(missing_ok=True)
        stream.write_record(stream.received())  # for the record only: nothing is judged from these
    return 0


def _deletes_from_state(data: dict[str, Any]) -> list[dict]:
    """A delete step per resource in the state: what `destroy` removes, protected ones included (the
    engine's destroy preview leaves those out)."""
    events = []
    for res in data.get("resources") or []:
        typ = str(res.get("type", ""))
        if typ.startswith(PROVIDER_PREFIX) or typ == "pulumi:pulumi:Stack":
            continue
        old = {k: res.get(k) for k in ("urn", "type", "custom", "inputs", "outputs", "protect")}
        old["retainOnDelete"] = bool(res.get("retainOnDelete"))
        events.append(
            {"resourcePreEvent": {"metadata": {"op": "delete", "urn": res["urn"], "type": typ, "old": old}}}
        )
    return events


def destroy(run: Run, today: date, acks: list[str], yes: bool) -> int:
    stack, config_file, kubeconfig, config = _start(run, today)
    data = engine.deployment(stack)
    if pending_operations(data):
        raise Refusal(
            "the last update was interrupted (pending operations in the state): run `make recover` first"
        )
    stream = EventStream("destroy preview", run.dir / "destroy-preview-events.jsonl")
    code, events = _collect(
        lambda: stack.preview_destroy(
            config_file=str(config_file),
            exclude_protected=True,
            on_output=_out,
            on_error=stderr,
            on_event=stream,
        ),
        stream,
    )
    # Only what the operator acknowledges on the command line: the config's migration acknowledgements
    # are about moving data, not about throwing the whole stack away.
    summary = summarize([*events, *_deletes_from_state(data)], set(acks), set(config.storage.data_releases))
    gate = publish(summary, kubeconfig, os.environ.get(SUMMARY_ENV))
    if code or gate:
        log("destroy refused: acknowledge each data-bearing delete above with ACK='<name> ...' (--ack)")
        return code or gate
    _confirm(f"destroy every resource of stack {STACK}", yes)
    # The gate passed: every protected resource left is acknowledged or retained, so unprotect and go.
    for res in data.get("resources") or []:
        res["protect"] = False
    identity.record(run, kubeconfig)
    engine.import_deployment(stack, data, run)
    try:
        stack.destroy(config_file=str(config_file), on_output=_out, on_error=stderr)
    except auto.errors.CommandError:
        return 1
    return 0


def cancel(run: Run) -> int:
    from k3s_home import locks

    engine.open_stack(run)
    held = locks.locks(os.environ["PULUMI_BACKEND_URL"])
    live = [lock for lock in held if not lock.stale]
    if live:
        raise Refusal(f"the stack is locked by {live[0]}, which is still running: not cancelling it")
    for lock in held:
        lock.path.unlink(missing_ok=True)
        log(f"cleared the stale lock of {lock}")
    return 0


def record_migration_sources() -> int:
    """The live facts of each migrated claim, read from the chosen target, written into the stack file
    being previewed (K3S_HOME_STACK_CONFIG, else the committed one): scripts/record_sources.py."""
    path = engine.source_file()
    if not path.is_file():
        raise Refusal(f"{path}: no such stack file (K3S_HOME_STACK_CONFIG)", code=2)
    kubeconfig = target.choose()
    script = target.ROOT / "scripts" / "record_sources.py"
    return subprocess.run([sys.executable, str(script), kubeconfig, str(path)]).returncode


@dataclass(frozen=True)
class Passthrough:
    """How the driver runs one pulumi command: with --stack, with --config-file, or refused (why)."""

    stack: bool = True
    config_file: bool = False
    refused: str = ""


_EDIT_STACK_FILE = (
    "edits the driver's copy of the stack file, which every run rewrites: edit Pulumi.k3s-home.yaml "
    "(or the K3S_HOME_STACK_CONFIG variant) instead"
)
_READS_CONFIG = Passthrough(config_file=True)
_STATE_SUBCOMMANDS = "delete remove rm edit update modify get protect unprotect rename repair taint untaint"
_CONFIG_WRITES = "set set-all rm remove delete rm-all remove-all delete-all cp copy refresh"
# The pulumi commands the driver passes through (the CLI the toolchain builds, v3.259), the longest
# matching prefix winning, and the flags each one accepts: `stack` and `state` take no --config-file
# (`pulumi stack output --config-file` is "unknown flag"). Anything not listed is refused in one line.
PASSTHROUGH: dict[tuple[str, ...], Passthrough] = {
    ("stack",): Passthrough(),
    ("state",): Passthrough(stack=False),  # `pulumi state` alone lists its subcommands
    **{("state", sub): Passthrough() for sub in _STATE_SUBCOMMANDS.split()},
    ("state", "move"): Passthrough(stack=False),  # names its stacks itself (--source, --dest)
    ("state", "mv"): Passthrough(stack=False),
    ("state", "upgrade"): Passthrough(stack=False),  # the whole backend
    ("refresh",): _READS_CONFIG,
    ("import",): _READS_CONFIG,
    ("logs",): _READS_CONFIG,
    ("config",): _READS_CONFIG,
    ("config", "get"): _READS_CONFIG,
    **{("config", sub): Passthrough(refused=_EDIT_STACK_FILE) for sub in _CONFIG_WRITES.split()},
    ("about",): Passthrough(),
    ("version",): Passthrough(stack=False),
    ("plugin",): Passthrough(stack=False),
    ("watch",): Passthrough(refused="applies changes without the review gate: use make preview, make up"),
}


def passthrough_command(args: list[str], config_file: Path) -> list[str]:
    """The pulumi command line for `python -m k3s_home ARGS`, or a Refusal naming what to run instead."""
    words = tuple(args)
    key = next((words[:n] for n in range(len(words), 0, -1) if words[:n] in PASSTHROUGH), None)
    if key is None:
        known = sorted({" ".join(k) for k, v in PASSTHROUGH.items() if len(k) == 1 and not v.refused})
        raise Refusal(
            f"pulumi {args[0]} is not passed through by k3s-home (driver commands: preview, up, destroy, "
            f"recover, cancel; pulumi commands: {', '.join(known)}); run it as `pulumi` after "
            "`source .work/env.sh`",
            code=2,
        )
    rule = PASSTHROUGH[key]
    if rule.refused:  # the command's words only: what follows may be a secret value
        raise Refusal(f"pulumi {' '.join(key)}: {rule.refused}", code=2)
    extra = ["--stack", STACK] if rule.stack else []
    extra += ["--config-file", str(config_file)] if rule.config_file else []
    return ["pulumi", *args, *extra]


def passthrough(run: Run, args: list[str]) -> int:
    """Any other pulumi subcommand on this stack, with the same target, backend and passphrase."""
    passthrough_command(args, run.stack_file)  # refuse before any target or backend is touched
    toolchain.require("pulumi")
    target.choose()
    _, config_file = engine.open_stack(run)
    # In the driver's project directory, like every other CLI call: never the committed stack file.
    return subprocess.run(passthrough_command(args, config_file), cwd=run.project).returncode
