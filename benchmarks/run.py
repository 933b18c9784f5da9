"""`make bench`: each figure as a ratio against a floor measured in the same run; rewrites docs/benchmarks.md.

Sections (all by default):
  audit    k3s-home-audit on the real Flux repo vs Checkov, and vs libyaml parsing the same files
  preview  warm `make preview` vs kubectl server-side dry-run + an empty Pulumi program's preview,
           and the policy pack's added cost (needs the toolchain: `make bench` builds it first)
  scale    the program built at 3x and 10x the clients, GPU tenants and migrated claims vs 1x (under the
           unit tests' mocks: CPU and peak memory per resource)
  copy     the migration's copy and verify vs shutil.copytree and plain reads

Usage: python benchmarks/run.py [--only audit,preview,scale,copy] [--repeat N] [--files N] [--no-docs]
(--only writes the sections it ran and names the others as not measured in this run.)
Exit status: 0 when every figure was measured (missed targets are reported, not failed), 2 when a
benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import audit, migration, report, scale  # noqa: E402
from benchmarks.harness import BenchError, Figure, machine  # noqa: E402
from components.config import clock  # noqa: E402

SECTIONS = ("audit", "preview", "scale", "copy")
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / ".work" / "bench-results.json"  # the last run's figures, for --report-only
TODAY = clock.today  # the date the report says it was measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each side (median reported)")
    parser.add_argument("--files", type=int, default=2000, help="files in the copy/verify tree")
    parser.add_argument("--no-docs", action="store_true", help="print only, leave docs/benchmarks.md")
    parser.add_argument(
        "--report-only", action="store_true", help=f"rewrite the docs from the last run ({RESULTS.name})"
    )
    args = parser.parse_args(argv)
    if args.report_only:
        last = json.loads(RESULTS.read_text())
        figs = [Figure(**f) for f in last["figures"]]
        report.write(DOCS, figs, last["machine"], last["facts"], last["repeat"], TODAY(), last["skipped"])
        return 0
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section {', '.join(sorted(unknown))} (one of {', '.join(SECTIONS)})")

    host = machine()
    figures: list[Figure] = []
    facts: dict[str, str] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="k3s-home-bench-") as tmp:
            for section in sections:
                work = Path(tmp, section)
                work.mkdir()
                print(f"[bench] {section} ...", file=sys.stderr, flush=True)
                if section == "audit":
                    found, more = audit.run(work, args.repeat)
                    facts.update(more)
                elif section == "preview":
                    from benchmarks import preview

                    found, more = preview.run(work, args.repeat)
                    facts.update(more)
                elif section == "scale":
                    found, _ = scale.program(work)
                else:
                    found = migration.run(work, args.repeat, args.files)
                figures += found
                for f in found:
                    print(_line(f), flush=True)
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 2

    print()
    print(report.table(figures))
    for line in report.missed(figures):
        print(line)
    skipped = [s for s in SECTIONS if s not in sections]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "figures": [asdict(f) for f in figures],
                "machine": host,
                "facts": facts,
                "repeat": args.repeat,
                "skipped": skipped,
            },
            indent=1,
        )
    )
    if not args.no_docs:
        report.write(DOCS, figures, host, facts, args.repeat, TODAY(), skipped)
        print(f"\n[bench] wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)
    return 0


def _line(f: Figure) -> str:
    target = f"  target: {f.target_text} -> {'met' if f.met else 'MISSED'}" if f.target is not None else ""
    ratio = f"ratio {f.ratio:6.2f} ({f.ratio_kind})"
    return f"{f.key:<22} ours {f.ours:8.3f}  floor {f.floor:8.3f}  {ratio}{target}"


if __name__ == "__main__":
    sys.exit(main())
