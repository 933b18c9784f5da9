"""The review gate: one screen a reviewer reads after `pulumi preview --diff`, and the data-loss stop.

CrossGuard sees resources, not operations, so "no delete or replace of a PVC, PV or StatefulSet without
the migration acknowledgement" is enforced here, over the engine's events: the newline-delimited JSON
of `pulumi preview --event-log FILE`, or Automation API `EngineEvent`s.

Every planned create is also checked against the target cluster (review/ownership.py): creating an object
that already exists fails `pulumi up` halfway, so the gate stops it at preview (design.md §7, ADR 0003).
Creates that the state holds as pending operations (a killed `up`) are reported as an interrupted update,
not as a clash with Flux: `make recover` settles them. The preview's refresh steps name the drift: each
object deleted or edited outside Pulumi since the last update (the plan shows what puts it back).

The gate fails closed: a damaged event line that is not the last one, an unfinished preview, an error
diagnostic or a pending operation block, as does any unacknowledged data-bearing delete or replace
(rules/data_loss.py: claims, volumes, StatefulSets, HelmReleases that own claims, generated secrets).

The pure core is `summarize(events, acknowledged)`, `check_cluster(summary, exists)` and
`exit_code(summary)`; `main` is the CLI over an event log, the driver (k3s_home) feeds events in process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from components.config import clock, load_stack_file
from review.ownership import ClusterLookup, Collision, ObjectRef, collisions, object_ref
from rules.data_loss import DESTRUCTIVE, acknowledged, data_loss, is_data_bearing, values_hold_data
from rules.registry import directive, rule_id_of
from rules.type_token import type_of_urn

# Engine step ops, folded into what a reviewer cares about. Ops absent here (same, refresh,
# remove-pending-replace) are not changes.
OP_KIND = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
    "import": "import",
    "import-replacement": "replace",
    "read": "read",
    "read-replacement": "replace",
}
KIND_ORDER = ("delete", "replace", "update", "create", "import", "read")
KIND_MARK = {"delete": "-", "replace": "+-", "update": "~", "create": "+", "import": "=", "read": ">"}
STACK_TYPE = "pulumi:pulumi:Stack"
# CI sets this so `make preview` leaves the summary where the workflow posts it from.
SUMMARY_ENV = "K3S_HOME_REVIEW_SUMMARY"
COLLISION_HEADING = (
    "Would collide with existing objects (adopt via k3s-home:cluster.adopt or remove from Flux first)"
)
DRIFT_HEADING = "Drift: changed outside Pulumi since the last update (read from the target by the refresh)"
INTERRUPTED = "The last update was interrupted: these operations may or may not have happened (make recover)"


@dataclass(frozen=True)
class Change:
    urn: str
    type: str
    kind: str  # one of KIND_ORDER
    component: str
    data_bearing: bool
    acknowledged: bool
    replace_keys: tuple[str, ...] = ()  # properties that force the replacement
    retained: bool = False  # a delete with retainOnDelete: the object stays in the cluster

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def blocks(self) -> bool:
        """A data-bearing delete/replace nobody acknowledged: the data would be gone (rule data-loss)."""
        return (
            data_loss(
                self.kind,
                self.type,
                self.acknowledged,
                self.name,
                owns_data=self.data_bearing,
                retained=self.retained,
            )
            is not None
        )


@dataclass(frozen=True)
class PendingOperation:
    """One `pending_operations` entry of the state: an operation the engine began and never finished."""

    kind: str  # creating | updating | deleting | reading | importing
    urn: str
    type: str
    namespace: str | None
    name: str

    @classmethod
    def from_state(cls, entry: dict) -> PendingOperation:
        res = entry.get("resource") or {}
        meta = {}
        for props in (res.get("outputs"), res.get("inputs")):
            if isinstance(props, dict) and isinstance(props.get("metadata"), dict):
                meta = props["metadata"]
                break
        urn = str(res.get("urn", ""))
        return cls(
            kind=str(entry.get("type", "")),
            urn=urn,
            type=str(res.get("type") or type_of_urn(urn)),
            namespace=meta.get("namespace") if isinstance(meta.get("namespace"), str) else None,
            name=str(meta.get("name") or urn.rsplit("::", 1)[-1]),
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {self.type} {where}"


def pending_operations(deployment: dict) -> list[PendingOperation]:
    """The pending operations of an exported state (`pulumi stack export`'s `deployment`)."""
    return [PendingOperation.from_state(e) for e in deployment.get("pending_operations") or []]


@dataclass(frozen=True)
class Drift:
    """An object the preview's refresh found changed outside Pulumi since the last update."""

    urn: str
    type: str
    object: str  # Kubernetes `kind namespace/name`, or the resource name
    paths: tuple[str, ...] = ()  # properties that differ; empty when the object is gone

    @property
    def deleted(self) -> bool:
        return not self.paths

    def __str__(self) -> str:
        if self.deleted:
            return f"~~ deleted  {self.object}"
        more = f" and {len(self.paths) - 4} more" if len(self.paths) > 4 else ""
        return f"~~ edited   {self.object}: {', '.join(self.paths[:4])}{more}"


@dataclass(frozen=True)
class Violation:
    policy: str
    rule: str
    level: str  # mandatory | advisory | remediate
    message: str
    urn: str = ""


@dataclass
class Summary:
    changes: list[Change] = field(default_factory=list)  # destructive first
    counts: dict[str, Counter] = field(default_factory=dict)  # component -> kind -> n
    violations: dict[str, list[Violation]] = field(default_factory=dict)  # directive text -> violations
    errors: list[str] = field(default_factory=list)  # error diagnostics
    complete: bool = False  # the engine emitted its summary event
    creates: list[ObjectRef] = field(default_factory=list)  # Kubernetes objects of plain create steps
    collisions: list[Collision] = field(default_factory=list)  # existing or unchecked, by check_cluster
    cluster_check: str = "not checked"  # "checked", or why not
    pending: list[PendingOperation] = field(default_factory=list)  # left in the state by a killed update
    pictures: list[str] | None = None  # docs/ pictures this config redraws; None: not looked at
    drift: list[Drift] = field(default_factory=list)  # changed outside Pulumi (the preview's refresh)
    refreshed: bool = False  # the preview refreshed against the target

    @property
    def colliding(self) -> list[Collision]:
        """Existing objects the stack would create, minus those an interrupted update may have made."""
        interrupted = {p.urn for p in self.pending}
        return [c for c in self.collisions if c.exists and c.ref.urn not in interrupted]

    @property
    def pending_creates(self) -> list[PendingOperation]:
        return [p for p in self.pending if p.kind in ("creating", "importing")]

    @property
    def unchecked(self) -> list[Collision]:
        return [c for c in self.collisions if not c.exists]

    @property
    def blocking_changes(self) -> list[Change]:
        return [c for c in self.changes if c.blocks]

    @property
    def mandatory(self) -> list[Violation]:
        return [v for vs in self.violations.values() for v in vs if v.level == "mandatory"]


# --- events -------------------------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def to_dict(event: Any) -> Any:
    """An Automation API event object as the same camelCase dict the event log holds.

    Only attribute names are converted; dict keys (property paths in detailedDiff) are kept.
    """
    if isinstance(event, Enum):
        return event.value
    if isinstance(event, dict):
        return {k: to_dict(v) for k, v in event.items()}
    if isinstance(event, list | tuple):
        return [to_dict(v) for v in event]
    if hasattr(event, "__dict__"):
        return {_camel(k): to_dict(v) for k, v in vars(event).items() if v is not None}
    return event


def component_of(urn: str) -> str:
    """`k3s:gpu:GpuManagement` for `urn:pulumi:s::p::k3s:gpu:GpuManagement$kubernetes:...::name`.

    The first segment of the type chain is the top-level ancestor below the stack; a resource without
    a component parent is its own group.
    """
    parts = urn.split("::", 3)
    chain = parts[2] if len(parts) >= 3 else urn
    return chain.split("$", 1)[0]


def _k8s_names(metadata: dict) -> set[str]:
    """`name` and `namespace/name` of the Kubernetes object a step touches, from its old or new state."""
    names: set[str] = set()
    for state in (metadata.get("old"), metadata.get("new")):
        if not isinstance(state, dict):
            continue
        for props in (state.get("outputs"), state.get("inputs")):
            meta = props.get("metadata") if isinstance(props, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                names.add(meta["name"])
                if isinstance(meta.get("namespace"), str):
                    names.add(f"{meta['namespace']}/{meta['name']}")
    return names


def _is_acknowledged(urn: str, metadata: dict, acknowledged: set[str]) -> bool:
    # Acknowledgements name a URN, or the object as the storage config names PVCs: name or namespace/name.
    return bool({urn, urn.rsplit("::", 1)[-1], *_k8s_names(metadata)} & acknowledged)


def _owns_data(metadata: dict, data_objects: set[str]) -> bool:
    """A HelmRelease whose values (old or new) ask for claims, or an object the config says owns data."""
    if _k8s_names(metadata) & data_objects:
        return True
    for state in (metadata.get("old"), metadata.get("new")):
        for props in (state.get("inputs"), state.get("outputs")) if isinstance(state, dict) else ():
            if not isinstance(props, dict) or props.get("kind") != "HelmRelease":
                continue
            spec = props.get("spec")
            if isinstance(spec, dict) and values_hold_data(spec.get("values")):
                return True
    return False


def _retained(metadata: dict) -> bool:
    old = metadata.get("old")
    return isinstance(old, dict) and bool(old.get("retainOnDelete"))


def summarize(
    events: Iterable[Any], acknowledged: set[str], data_objects: set[str] | frozenset[str] = frozenset()
) -> Summary:
    """Fold engine events into the reviewer's summary. `acknowledged`: URNs or PVC names accepted as lost;
    `data_objects`: `namespace/name` of objects the stack config says own data (HelmReleases with claims)."""
    summary = Summary()
    steps: dict[str, tuple[str, dict]] = {}  # urn -> (kind, metadata), the most destructive step wins
    violations: list[Violation] = []
    for raw in events:
        event = raw if isinstance(raw, dict) else to_dict(raw)
        if pre := event.get("resourcePreEvent"):
            meta = pre.get("metadata") or {}
            kind = OP_KIND.get(str(meta.get("op")))
            urn = str(meta.get("urn", ""))
            if kind is None or not urn:
                continue
            if ref := object_ref(meta):
                summary.creates.append(ref)
            previous = steps.get(urn)
            if previous is None or KIND_ORDER.index(kind) < KIND_ORDER.index(previous[0]):
                steps[urn] = (kind, meta)
        elif (out := event.get("resOutputsEvent")) and (out.get("metadata") or {}).get("op") == "refresh":
            summary.refreshed = True
            if drift := _drift(out["metadata"]):
                summary.drift.append(drift)
        elif policy := event.get("policyEvent"):
            name = str(policy.get("policyName", ""))
            violations.append(
                Violation(
                    policy=name,
                    rule=rule_id_of(name),
                    level=str(policy.get("enforcementLevel", "advisory")),
                    message=_violation_text(str(policy.get("message", ""))),
                    urn=str(policy.get("resourceUrn", "") or ""),
                )
            )
        elif diag := event.get("diagnosticEvent"):
            if diag.get("severity") == "error":
                summary.errors.append(str(diag.get("message", "")).strip())
        elif "summaryEvent" in event:
            summary.complete = True

    for urn, (kind, meta) in steps.items():
        typ = str(meta.get("type") or type_of_urn(urn))
        if typ == STACK_TYPE:
            continue
        change = Change(
            urn=urn,
            type=typ,
            kind=kind,
            component=component_of(urn),
            data_bearing=is_data_bearing(typ, _owns_data(meta, set(data_objects))),
            acknowledged=_is_acknowledged(urn, meta, acknowledged),
            replace_keys=tuple(meta.get("keys") or ()) if kind == "replace" else (),
            retained=kind == "delete" and _retained(meta),
        )
        summary.changes.append(change)
        summary.counts.setdefault(change.component, Counter())[kind] += 1
    # Deletes and replaces first, data-bearing ones at the very top; then by component for reading.
    summary.changes.sort(
        key=lambda c: (KIND_ORDER.index(c.kind) > 1, not c.data_bearing, KIND_ORDER.index(c.kind), c.urn)
    )
    summary.drift.sort(key=lambda d: (d.object, d.urn))  # the engine refreshes in parallel: its order varies
    for violation in sorted(violations, key=lambda v: (v.level != "mandatory", v.rule, v.urn, v.message)):
        summary.violations.setdefault(directive(violation.rule), []).append(violation)
    return summary


def _drift(meta: dict) -> Drift | None:
    """A refresh step's outcome: the object is gone (no new state) or some of its properties differ."""
    urn = str(meta.get("urn", ""))
    typ = str(meta.get("type") or type_of_urn(urn))
    if typ == STACK_TYPE or typ.startswith("pulumi:providers:") or not urn:
        return None
    paths = tuple(sorted(meta.get("detailedDiff") or {}))
    if meta.get("new") and not paths:
        return None
    old = meta.get("old") if isinstance(meta.get("old"), dict) else {}
    outputs = old.get("outputs") if isinstance(old.get("outputs"), dict) else {}
    k8s = outputs.get("metadata") if isinstance(outputs.get("metadata"), dict) else {}
    name = k8s.get("name") or urn.rsplit("::", 1)[-1]
    where = f"{k8s['namespace']}/{name}" if isinstance(k8s.get("namespace"), str) else str(name)
    kind = outputs.get("kind") or typ.rsplit(":", 1)[-1]
    return Drift(urn=urn, type=typ, object=f"{kind} {where}", paths=paths if meta.get("new") else ())


def _violation_text(message: str) -> str:
    """The violation itself: the engine sends `<policy description>\n<violation message>`."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else (lines[0] if lines else "")


def check_cluster(summary: Summary, exists: Callable[[ObjectRef], bool]) -> Summary:
    """Ask the cluster about every planned create; `exists` raises when it cannot tell."""
    summary.collisions = collisions(summary.creates, exists)
    summary.cluster_check = "checked"
    return summary


def exit_code(summary: Summary) -> int:
    """1 when `up` must not run: unacknowledged data loss, a mandatory violation, a create of an object
    that already exists, or a broken preview. Objects that could not be checked are advisory."""
    blocked = (
        summary.blocking_changes
        or summary.mandatory
        or summary.colliding
        or summary.pending
        or summary.errors
        or not summary.complete
    )
    return 1 if blocked else 0


# --- rendering ----------------------------------------------------------------------------------------


def _change_line(change: Change) -> str:
    flag = ""
    if change.data_bearing and change.retained:
        flag = "  [DATA: retained in the cluster]"
    elif change.data_bearing and change.kind in DESTRUCTIVE:
        flag = "  [DATA: acknowledged]" if change.acknowledged else "  [DATA: NOT acknowledged]"
    elif change.data_bearing:
        flag = "  [data]"
    because = f"  (replaced because of {', '.join(change.replace_keys)})" if change.replace_keys else ""
    marker = "!!" if change.blocks else "  "
    return f"{marker} {change.kind:<8} {change.type} {change.name}{flag}{because}"


def render(summary: Summary) -> str:
    lines: list[str] = []
    total = len(summary.changes)
    verdict = "BLOCKED" if exit_code(summary) else "ok to apply"
    lines.append(f"Review gate: {total} change(s) in {len(summary.counts)} component(s): {verdict}")

    destructive = [c for c in summary.changes if c.kind in DESTRUCTIVE]
    lines.append("")
    lines.append(f"Deletes and replaces ({len(destructive)}):")
    lines += [_change_line(c) for c in destructive] or ["   none"]

    if summary.refreshed:
        lines.append("")
        lines.append(f"{DRIFT_HEADING} ({len(summary.drift)}):")
        lines += [str(d) for d in summary.drift] or ["   none"]

    if summary.pending:
        lines.append("")
        lines.append(f"{INTERRUPTED} ({len(summary.pending)} pending operation(s) in the state):")
        lines += [f"!! {p}" for p in summary.pending]

    lines.append("")
    lines += _collision_lines(summary)

    lines.append("")
    lines.append("Changes per component:")
    for component in sorted(summary.counts):
        counts = summary.counts[component]
        parts = [f"{KIND_MARK[k]}{counts[k]} {k}" for k in KIND_ORDER if counts.get(k)]
        lines.append(f"   {component:<48} {', '.join(parts)}")
    if not summary.counts:
        lines.append("   no changes")
    data_changes = [c for c in summary.changes if c.data_bearing and c.kind not in DESTRUCTIVE]
    if data_changes:
        lines.append("Other changes to data-bearing resources:")
        lines += [_change_line(c) for c in data_changes]

    if summary.pictures is not None:
        lines.append("")
        count = len(summary.pictures)
        lines.append(f"Pictures this config redraws ({count}; make docs writes them, look at each):")
        lines += [f"   docs/{name}" for name in summary.pictures] or ["   none"]

    lines.append("")
    lines.append("Policy violations by directive rule:")
    for text, violations in summary.violations.items():
        lines.append(f"   {text}")
        for v in violations:
            where = f"  ({v.urn.rsplit('::', 1)[-1]})" if v.urn else ""
            lines.append(f"     [{v.level}] {v.policy}: {v.message}{where}")
    if not summary.violations:
        lines.append("   none")

    if summary.errors:
        lines.append("")
        lines.append("Errors:")
        lines += [f"   {e.splitlines()[0] if e else ''}" for e in summary.errors]

    lines.append("")
    lines.append(_verdict(summary))
    return "\n".join(lines)


def _collision_lines(summary: Summary) -> list[str]:
    if summary.cluster_check != "checked":
        return [f"{COLLISION_HEADING}:", f"   {summary.cluster_check}"]
    lines = [f"{COLLISION_HEADING} ({len(summary.colliding)}):"]
    order = sorted(summary.collisions, key=lambda c: (c.ref.kind, c.ref.namespace or "", c.ref.name))
    # Only real clashes: an object an interrupted update may have created is listed with the pending ones.
    colliding = {id(c) for c in summary.colliding}
    lines += [f"!! {c.ref}" for c in order if id(c) in colliding]
    if not summary.colliding:
        lines.append("   none")
    # Advisory, never silent; one line per reason keeps an unreachable API server to one line.
    by_reason: dict[str, list[ObjectRef]] = {}
    for c in order:
        if c.exists:
            continue
        by_reason.setdefault(c.error, []).append(c.ref)
    for reason, refs in by_reason.items():
        shown = ", ".join(str(r) for r in refs[:3]) + (f" and {len(refs) - 3} more" if len(refs) > 3 else "")
        lines.append(f"   [advisory] could not check {shown}: {reason}")
    return lines


def _verdict(summary: Summary) -> str:
    reasons = []
    if n := len(summary.blocking_changes):
        reasons.append(
            f"{n} data-bearing delete/replace without acknowledgement "
            "(add the PVC to storage.acceptDataLoss, or pass --ack URN, after planning the migration)"
        )
    if n := len(summary.mandatory):
        reasons.append(f"{n} mandatory policy violation(s)")
    if summary.pending:
        reasons.append(
            f"the last update was interrupted; {len(summary.pending_creates)} create(s) may have happened "
            f"({len(summary.pending)} pending operation(s) in the state: run `make recover`)"
        )
    if n := len(summary.colliding):
        reasons.append(
            f"{n} create(s) of objects that already exist in the cluster (`up` would fail with "
            "AlreadyExists: adopt them via k3s-home:cluster.adopt or remove them from Flux first)"
        )
    if summary.errors:
        reasons.append(f"{len(summary.errors)} error(s) in the preview")
    if not summary.complete:
        reasons.append("the preview did not finish (no summary event)")
    if reasons:
        return "Verdict: BLOCKED: " + "; ".join(reasons)
    notes = []
    if n := len(summary.drift):
        notes.append(f"{n} object(s) changed outside Pulumi, see Drift; the changes above include them")
    if n := len(summary.unchecked):
        notes.append(f"{n} create(s) not checked against the cluster, see above")
    return "Verdict: ok to apply" + (f" ({'; '.join(notes)})" if notes else "")


# --- CLI ----------------------------------------------------------------------------------------------


class DamagedEventLog(ValueError):
    """A line of the event log that is not an event, and not the torn last line of a killed preview."""


def read_event_log(path: Path) -> Iterator[dict]:
    """Events of a `--event-log` file. Only a torn last line (an interrupted preview, which then has no
    summary event and blocks anyway) is skipped: any other damaged line could have been the step that
    deletes a claim, so it raises `DamagedEventLog` naming the line."""
    lines = path.read_text().splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as err:
            if number - 1 == last:
                continue
            raise DamagedEventLog(
                f"{path} line {number}: not a JSON event ({err.msg}); the log is damaged, "
                "so the gate cannot tell what the preview plans: run the preview again"
            ) from None
        if not isinstance(event, dict):
            raise DamagedEventLog(
                f"{path} line {number}: not an engine event (a JSON {type(event).__name__})"
            )
        yield event


def facts_from_config(path: Path, *, today: date) -> tuple[set[str], set[str]]:
    """From one read of the stack config: what its migrations acknowledge (rules.data_loss.acknowledged),
    and `namespace/name` of the HelmReleases it says own data."""
    storage = load_stack_file(path, today=today).storage
    return acknowledged(storage.migrations), set(storage.data_releases)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k3s-home-review", description="Summarize a `pulumi preview --event-log` and gate `up`."
    )
    parser.add_argument("event_log", help="newline-delimited JSON written by pulumi preview --event-log")
    parser.add_argument(
        "--ack", action="append", default=[], metavar="URN", help="accept losing this resource"
    )
    parser.add_argument(
        "--config",
        "--stack-config",
        dest="config",
        help="stack config with the migrations' acknowledgements (default ./Pulumi.k3s-home.yaml)",
    )
    parser.add_argument(
        "--output",
        default=os.environ.get(SUMMARY_ENV) or None,
        help=f"also write the summary to this file, for a PR comment (default ${SUMMARY_ENV})",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="the stack's exported state (pulumi stack export): its pending operations block",
    )
    parser.add_argument(
        "--no-cluster-check",
        action="store_true",
        help="do not ask the cluster ($KUBECONFIG) whether planned creates already exist (offline use)",
    )
    args = parser.parse_args(argv)

    log = Path(args.event_log)
    if not log.is_file():
        print(
            f"k3s-home-review: {log}: no such event log (run pulumi preview --event-log {log})",
            file=sys.stderr,
        )
        return 2
    acknowledged, data_objects = set(args.ack), set()
    config = Path(args.config) if args.config else Path("Pulumi.k3s-home.yaml")
    if args.config or config.is_file():
        try:
            acked, data_objects = facts_from_config(config, today=clock.today())
            acknowledged |= acked
        except Exception as err:  # a bad config must stop the gate with one line, not a traceback
            print(f"k3s-home-review: {config}: {err}", file=sys.stderr)
            return 2

    try:
        summary = summarize(read_event_log(log), acknowledged, data_objects)
        if args.state:
            summary.pending = pending_operations(
                json.loads(Path(args.state).read_text()).get("deployment", {})
            )
    except (DamagedEventLog, OSError, json.JSONDecodeError) as err:
        print(f"k3s-home-review: BLOCKED: {err}", file=sys.stderr)
        return 1
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if args.no_cluster_check:
        summary.cluster_check = "not checked (--no-cluster-check)"
    elif not kubeconfig:
        summary.cluster_check = "not checked (KUBECONFIG not set)"
    return publish(summary, None if args.no_cluster_check else kubeconfig, args.output)


def publish(summary: Summary, kubeconfig: str | None, output: str | None) -> int:
    """Check the planned creates against the cluster of `kubeconfig` (if any), print the summary, also
    write it to `output` (the PR comment's file); the gate's exit code. The CLI and the driver share it."""
    if kubeconfig:
        lookup = ClusterLookup(kubeconfig)
        try:
            check_cluster(summary, lookup)
        finally:
            lookup.close()
    text = render(summary)
    print(text, flush=True)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text + "\n")
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
