"""The review gate: one screen a reviewer reads after `pulumi preview --diff`, and the data-loss stop.

CrossGuard sees resources, not operations, so "no delete or replace of a PVC, PV or StatefulSet without
the migration acknowledgement" is enforced here, over the engine's events: the newline-delimited JSON
of `pulumi preview --event-log FILE`, or Automation API `EngineEvent`s.

Every planned create is also checked against the target cluster (review/ownership.py): creating an object
that already exists fails `pulumi up` halfway, so the gate stops it at preview (design.md §7, ADR 0003).

The pure core is `summarize(events, acknowledged)`, `check_cluster(summary, exists)` and
`exit_code(summary)`; `main` is the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from components.config import load_stack_file
from review.ownership import ClusterLookup, Collision, ObjectRef, collisions, object_ref
from rules.data_loss import DESTRUCTIVE, acknowledged, data_loss, is_data_bearing
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


@dataclass(frozen=True)
class Change:
    urn: str
    type: str
    kind: str  # one of KIND_ORDER
    component: str
    data_bearing: bool
    acknowledged: bool
    replace_keys: tuple[str, ...] = ()  # properties that force the replacement

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def blocks(self) -> bool:
        """A data-bearing delete/replace nobody acknowledged: the data would be gone (rule data-loss)."""
        return data_loss(self.kind, self.type, self.acknowledged, self.name) is not None


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

    @property
    def colliding(self) -> list[Collision]:
        return [c for c in self.collisions if c.exists]

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


def summarize(events: Iterable[Any], acknowledged: set[str]) -> Summary:
    """Fold engine events into the reviewer's summary. `acknowledged`: URNs or PVC names accepted as lost."""
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
            data_bearing=bool(is_data_bearing(typ)),
            acknowledged=_is_acknowledged(urn, meta, acknowledged),
            replace_keys=tuple(meta.get("keys") or ()) if kind == "replace" else (),
        )
        summary.changes.append(change)
        summary.counts.setdefault(change.component, Counter())[kind] += 1
    # Deletes and replaces first, data-bearing ones at the very top; then by component for reading.
    summary.changes.sort(
        key=lambda c: (KIND_ORDER.index(c.kind) > 1, not c.data_bearing, KIND_ORDER.index(c.kind), c.urn)
    )
    for violation in sorted(violations, key=lambda v: (v.level != "mandatory", v.rule, v.urn, v.message)):
        summary.violations.setdefault(directive(violation.rule), []).append(violation)
    return summary


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
        or summary.errors
        or not summary.complete
    )
    return 1 if blocked else 0


# --- rendering ----------------------------------------------------------------------------------------


def _change_line(change: Change) -> str:
    flag = ""
    if change.data_bearing and change.kind in DESTRUCTIVE:
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
    lines += [f"!! {c.ref}" for c in order if c.exists]
    if not summary.collisions:
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
    if n := len(summary.unchecked):
        return f"Verdict: ok to apply ({n} create(s) not checked against the cluster, see above)"
    return "Verdict: ok to apply"


# --- CLI ----------------------------------------------------------------------------------------------


def read_event_log(path: Path) -> Iterator[dict]:
    """Events of a `--event-log` file; a torn last line (an interrupted preview) is ignored."""
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            yield event


def acknowledged_from_config(path: Path) -> set[str]:
    """What the stack config's migrations acknowledge (rules.data_loss.acknowledged)."""
    return acknowledged(load_stack_file(path).storage.migrations)


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
    acknowledged = set(args.ack)
    config = Path(args.config) if args.config else Path("Pulumi.k3s-home.yaml")
    if args.config or config.is_file():
        try:
            acknowledged |= acknowledged_from_config(config)
        except Exception as err:  # a bad config must stop the gate with one line, not a traceback
            print(f"k3s-home-review: {config}: {err}", file=sys.stderr)
            return 2

    summary = summarize(read_event_log(log), acknowledged)
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if args.no_cluster_check:
        summary.cluster_check = "not checked (--no-cluster-check)"
    elif not kubeconfig:
        summary.cluster_check = "not checked (KUBECONFIG not set)"
    else:
        lookup = ClusterLookup(kubeconfig)
        try:
            check_cluster(summary, lookup)
        finally:
            lookup.close()
    text = render(summary)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text + "\n")
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
