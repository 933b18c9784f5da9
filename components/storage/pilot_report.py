"""The Bazarr pilot report (directive Phase 5), generated from the phase results recorded in the stack file.

What the directive asks for: migration time, performance impact, lessons learned, a timeline for the
remaining migrations and a go/no-go decision. Everything here is computed from the migration entry
(`copied`, `verified`, `scaledDownAt`, `cutoverAt`, `lessons`): nothing is typed into the report itself.

    python -m components.storage.pilot_report [STACK_FILE] [--migration bazarr-pilot]   (make pilot-report)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from components.config.migration import Migration
from components.config.quantity import parse_quantity
from components.config.storage import StorageConfig
from components.storage.names import claim_size
from rules.data_loss import Phase

DOWNTIME_LIMIT = timedelta(minutes=15)  # for a claim of the pilot's size (docs/runbooks/bazarr-pilot.md)
OPERATOR_OVERHEAD = timedelta(minutes=10)  # the time between the six `up`s of one migration


@dataclass(frozen=True)
class Rule:
    name: str
    holds: bool
    measured: str


def _duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    return f"{seconds // 60} min {seconds % 60:02d} s"


def throughput(m: Migration) -> float | None:
    """Bytes per second over every recorded copy, or None when nothing measurable was recorded."""
    total = sum(r.bytes for r in m.copied.values())
    seconds = sum(r.seconds for r in m.copied.values())
    return total / seconds if total and seconds else None


def downtime(m: Migration) -> timedelta | None:
    if m.scaled_down_at is None or m.cutover_at is None:
        return None
    return m.cutover_at - m.scaled_down_at


def rules(m: Migration) -> list[Rule]:
    """The go/no-go rules; a go needs every one to hold."""
    moved = [c.name for c in m.pvcs if not m.loses(c)]
    window = downtime(m)
    rate = throughput(m)
    return [
        Rule(
            "Zero data loss: every claim copied and verified (digest recorded), none under acceptDataLoss",
            bool(moved) and not m.accept_data_loss and all(n in m.verified for n in moved),
            f"{sum(n in m.verified for n in moved)}/{len(m.pvcs)} verified, "
            f"acceptDataLoss: {', '.join(m.accept_data_loss) or 'none'}",
        ),
        Rule(
            f"Downtime (owners at 0 until Ready on the new volume) at most {_duration(DOWNTIME_LIMIT)}",
            window is not None and window <= DOWNTIME_LIMIT,
            _duration(window) if window is not None else "not recorded (scaledDownAt, cutoverAt)",
        ),
        Rule(
            "Copy measured: bytes and seconds recorded for every claim",
            rate is not None and all(n in m.copied for n in moved),
            f"{rate / 2**20:.2f} MiB/s" if rate else "not recorded",
        ),
        Rule(
            "Cutover checked: cutoverAt recorded and the migration in cleanup (release resumed)",
            m.cutover_at is not None and m.phase is Phase.CLEANUP,
            f"phase {m.phase.value}",
        ),
    ]


def estimate(storage: StorageConfig, m: Migration, rate: float) -> timedelta:
    """Upper bound of one migration's downtime: its claims' full sizes at the pilot's rate, plus overhead."""
    size = sum(parse_quantity(c.size) for c in m.pvcs if not m.loses(c))
    return timedelta(seconds=float(size) / rate) + OPERATOR_OVERHEAD


def report(storage: StorageConfig, pilot: str = "bazarr-pilot") -> str:
    m = next(x for x in storage.migrations if x.name == pilot)
    verdict = rules(m)
    go = all(r.holds for r in verdict)
    rate = throughput(m)
    window = downtime(m)
    lines = [
        f"# Storage migration pilot report: `{m.name}`",
        "",
        f"Generated from `storage.migrations[name={m.name}]` of the stack file "
        "(`make pilot-report`); phase records as copied from the Jobs' result lines.",
        "",
        f"**Decision: {'GO' if go else 'NO-GO'}** for the remaining migrations.",
        "",
        "## Migration time",
        "",
        "| Claim | From → to | Bytes | Files | Copy seconds | Verified |",
        "|---|---|---:|---:|---:|---|",
    ]
    for c in m.pvcs:
        r = m.copied.get(c.name)
        digest = m.verified.get(c.name)
        source = f"{c.current_class or '(static)'} {c.size}"
        lines.append(
            f"| {c.key} | {source} → {m.target_class} {claim_size(storage, c)} "
            f"| {r.bytes if r else '-'} | {r.files if r else '-'} | {r.seconds if r else '-'} "
            f"| {digest[:19] + '…' if digest else 'no'} |"
        )
    lines += [
        "",
        "## Downtime and performance impact",
        "",
        f"- Downtime window (scale-down at copy → owners Ready after cutover): "
        f"{_duration(window) if window is not None else 'not recorded'}"
        + (f" ({m.scaled_down_at.isoformat()} → {m.cutover_at.isoformat()})" if window is not None else ""),
        f"- Copy throughput: {f'{rate / 2**20:.2f} MiB/s' if rate else 'not recorded'}",
        "- Measured here: the owners' downtime and the copy rate. Not measured: disk and network load on",
        "  the nodes during the copy (watch the Longhorn and node dashboards during the next window).",
        "",
        "## Lessons learned",
        "",
    ]
    lines += [f"- {note}" for note in m.lessons] or [
        "- none recorded yet (`lessons:` in the migration entry)"
    ]
    lines += ["", "## Timeline for the remaining migrations", ""]
    rest = [x for x in storage.migrations if x.name != m.name and x.phase is not Phase.CLEANUP]
    if not rate:
        lines.append("No estimate without a measured copy rate.")
    else:
        lines += [
            f"Upper bound per migration: full claim sizes at {rate / 2**20:.2f} MiB/s, plus "
            f"{_duration(OPERATOR_OVERHEAD)} for the operator's six `up`s. One migration per window:",
            "",
            "| Order | Migration | Claims | Estimated downtime |",
            "|---:|---|---:|---|",
        ]
        for i, x in enumerate(rest, 1):
            lines.append(f"| {i} | {x.name} | {len(x.pvcs)} | {_duration(estimate(storage, x, rate))} |")
    lines += [
        "",
        "## Go / no-go rules (every one must hold)",
        "",
        "| Rule | Measured | Holds |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.measured} | {'yes' if r.holds else 'NO'} |" for r in verdict]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from components.config import clock, load_stack_file

    parser = argparse.ArgumentParser(description="The storage migration pilot report, from the stack file")
    parser.add_argument("stack_file", nargs="?", default="Pulumi.k3s-home.yaml")
    parser.add_argument("--migration", default="bazarr-pilot")
    args = parser.parse_args(argv)
    config = load_stack_file(Path(args.stack_file), today=clock.today())
    if all(m.name != args.migration for m in config.storage.migrations):
        print(f"k3s-home:storage.migrations: no migration named '{args.migration}'", file=sys.stderr)
        return 2
    sys.stdout.write(report(config.storage, args.migration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
