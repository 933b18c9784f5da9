"""`k3s-home-audit DIR`: the directive's rules over a directory of Kubernetes YAML (a Flux repo checkout).

Findings go to stdout as `path:LINE: [severity] rule: message` (LINE is the line of the offending key,
or of the nearest key above it when the finding is about a missing one; a stack-wide finding that names
no object is `DIR: [severity] ...`), notes about skipped files go to stderr.
Stack rules judge the whole cluster (every quota against every pool), so `--partial` skips them for a
directory that holds only part of it. Exit status: 0 clean or advisories only, 1 on any mandatory
finding, 2 when the audit itself cannot run.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from components.config import ConfigError, StackConfig, clock, load_stack_file
from rules import Finding, Severity, object_name
from rules.authentik import RULE_FORMAT
from rules.registry import OWNERSHIP_RULES, check_object, check_stack
from rules.source import documents, kubernetes_objects, line_of

DEFAULT_CONFIG = "Pulumi.k3s-home.yaml"
# An editable install runs from the project, whose stack file is the fallback when cwd has none.
PROJECT_CONFIG = Path(__file__).resolve().parents[1] / DEFAULT_CONFIG
SKIP_DIRS = {".git", ".github", "node_modules", ".venv"}


@dataclass
class Located:
    """An object of the tree and where it is: its file and its node (marks for the line of any key)."""

    file: Path
    node: yaml.Node
    obj: dict

    def where(self, path: str = "") -> str:
        return f"{self.file}:{line_of(self.node, path)}"


@dataclass
class Report:
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (location, finding)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    objects: int = 0

    @property
    def mandatory(self) -> int:
        return sum(f.severity is Severity.MANDATORY for _, f in self.findings)


def yaml_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file() and not SKIP_DIRS & set(path.parts):
            yield path


def _locate(finding: Finding, located: list[Located], fallback: str) -> str:
    """Where a stack finding points: its key in the object its message names, else the directory."""
    message = finding.message
    named = [(len(name), i) for i, loc in enumerate(located) if (name := object_name(loc.obj)) in message]
    return located[max(named)[1]].where(finding.path) if named else fallback


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Parsing allocates a million small acyclic objects, and the cyclic collector rescanning the ones
    kept so far cost as much as the parse itself; reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def audit(root: Path, cfg: StackConfig, *, partial: bool = False) -> Report:
    with _cyclic_gc_paused():
        return _audit(root, cfg, partial=partial)


def _audit(root: Path, cfg: StackConfig, *, partial: bool) -> Report:
    report = Report()
    located: list[Located] = []
    for path in yaml_files(root):
        report.files += 1
        try:
            docs = documents(path)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            report.notes.append(f"{path}:{mark.line + 1 if mark else 1}: note: not parseable YAML, skipped")
            continue
        if any(isinstance(d.data, dict) and "sops" in d.data for d in docs):
            # Encrypted values are opaque; the file is as the directive wants it.
            report.notes.append(f"{path}:1: note: SOPS-encrypted, skipped")
            continue
        for doc in docs:
            for node, obj in kubernetes_objects(doc):
                located.append(Located(path, node, obj))
    report.objects = len(located)
    applied = cfg.applied_files()
    for loc in located:
        try:
            findings = check_object(loc.obj, cfg, skip=OWNERSHIP_RULES)
        except Exception as err:  # a rule crashing on odd input must name the file, not abort the run
            raise AuditError(f"{loc.where()}: rule crashed: {type(err).__name__}: {err}") from err
        rel = loc.file.relative_to(root).as_posix() if loc.file.is_relative_to(root) else str(loc.file)
        report.findings += [(loc.where(f.path), latent(f, rel, applied)) for f in findings]
    if partial:
        report.notes.append(f"{root}: note: partial tree, stack rules (quotas against pools) not run")
        return report
    for finding in check_stack([loc.obj for loc in located], cfg):
        report.findings.append((_locate(finding, located, str(root)), finding))
    return report


def latent(finding: Finding, rel: str, applied: frozenset[str]) -> Finding:
    """A blueprint in a file Flux applies nowhere is never loaded by authentik: its defect is real but
    latent, so it is advisory and says why (the facts' reach from the root, ADR 0027)."""
    if finding.rule != RULE_FORMAT or finding.severity is not Severity.MANDATORY or rel in applied:
        return finding
    return Finding(
        finding.rule,
        f"{finding.message}; latent: no Flux Kustomization applies {rel} (facts/k3s-home.yaml)",
        Severity.ADVISORY,
        finding.path,
    )


class AuditError(RuntimeError):
    pass


def _config_path(given: str | None) -> Path:
    if given:
        return Path(given)
    cwd = Path(DEFAULT_CONFIG)
    return cwd if cwd.is_file() else PROJECT_CONFIG


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="k3s-home-audit", description="Run the directive's rules over a directory of Kubernetes YAML."
    )
    parser.add_argument("dir", help="directory to audit, e.g. a Flux repo checkout")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="the directory is part of a cluster (one app): skip stack rules such as quotas against pools",
    )
    parser.add_argument("--config", help=f"stack config (default: ./{DEFAULT_CONFIG}, else the project's)")
    args = parser.parse_args(argv)

    root = Path(args.dir)
    if not root.is_dir():
        print(f"k3s-home-audit: {root}: no such directory", file=sys.stderr)
        return 2
    config_path = _config_path(args.config)
    try:
        cfg = load_stack_file(config_path, today=clock.today())
    except FileNotFoundError:
        print(f"k3s-home-audit: {config_path}: stack config not found (pass --config)", file=sys.stderr)
        return 2
    except ConfigError as err:
        print(f"k3s-home-audit: {config_path}: {err}", file=sys.stderr)
        return 2
    try:
        report = audit(root, cfg, partial=args.partial)
    except AuditError as err:
        print(f"k3s-home-audit: {err}", file=sys.stderr)
        return 2

    for note in report.notes:
        print(note, file=sys.stderr)
    for where, finding in report.findings:
        print(f"{where}: [{finding.severity}] {finding.rule}: {finding.message}")
    advisory = len(report.findings) - report.mandatory
    print(
        f"k3s-home-audit: {report.files} files, {report.objects} objects: "
        f"{report.mandatory} mandatory, {advisory} advisory findings "
        f"(ownership rules {', '.join(sorted(OWNERSHIP_RULES))} apply to this stack, not to a Flux repo)",
        file=sys.stderr,
    )
    return 1 if report.mandatory else 0


if __name__ == "__main__":
    sys.exit(main())
