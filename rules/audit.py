"""`k3s-home-audit DIR`: the directive's rules over a directory of Kubernetes YAML (a Flux repo checkout).

Findings go to stdout as `path:LINE: [severity] rule: message` (LINE is where the document starts;
a stack-wide finding that names no object is `DIR: [severity] ...`), notes about skipped files go to
stderr. Stack rules judge the whole cluster (every quota against every pool), so `--partial` skips
them for a directory that holds only part of it. Exit status: 0 clean or advisories only, 1 on any mandatory
finding, 2 when the audit itself cannot run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from components.config import ConfigError, StackConfig, load_stack_file

from . import Finding, Severity, object_name
from .registry import OWNERSHIP_RULES, check_object, check_stack

DEFAULT_CONFIG = "Pulumi.k3s-home.yaml"
# An editable install runs from the project, whose stack file is the fallback when cwd has none.
PROJECT_CONFIG = Path(__file__).resolve().parents[1] / DEFAULT_CONFIG
SKIP_DIRS = {".git", ".github", "node_modules", ".venv"}


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads unknown tags (authentik's !KeyOf, !Find...) as plain values."""


def _construct_unknown(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("!", _construct_unknown)


@dataclass
class Document:
    path: Path
    line: int  # 1-based line where the document starts
    data: object


@dataclass
class Report:
    findings: list[tuple[str, Finding]] = field(default_factory=list)  # (location, finding)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    objects: int = 0

    @property
    def mandatory(self) -> int:
        return sum(f.severity is Severity.MANDATORY for _, f in self.findings)


def documents(path: Path) -> list[Document]:
    """Every YAML document of a file with its start line. Raises yaml.YAMLError on broken YAML."""
    loader = _Loader(path.read_text(encoding="utf-8", errors="replace"))
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(Document(path, node.start_mark.line + 1, loader.construct_document(node)))
    finally:
        loader.dispose()
    return docs


def kubernetes_objects(doc: Document) -> Iterator[dict]:
    """The Kubernetes objects in a document: the object itself, or the items of a v1 List."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or "apiVersion" not in data:
        return
    if data["kind"] == "List" and isinstance(data.get("items"), list):
        yield from (item for item in data["items"] if isinstance(item, dict) and "kind" in item)
    else:
        yield data


def yaml_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in (".yaml", ".yml") and path.is_file() and not SKIP_DIRS & set(path.parts):
            yield path


def _locate(message: str, located: list[tuple[str, dict]], fallback: str) -> str:
    """Where a stack finding points: the file:line of the object its message names, else the directory."""
    named = [(len(name), where) for where, obj in located if (name := object_name(obj)) in message]
    return max(named)[1] if named else fallback


def audit(root: Path, cfg: StackConfig, *, partial: bool = False) -> Report:
    report = Report()
    located: list[tuple[str, dict]] = []
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
            for obj in kubernetes_objects(doc):
                located.append((f"{path}:{doc.line}", obj))
    report.objects = len(located)
    for where, obj in located:
        try:
            report.findings += [(where, f) for f in check_object(obj, cfg, skip=OWNERSHIP_RULES)]
        except Exception as err:  # a rule crashing on odd input must name the file, not abort the run
            raise AuditError(f"{where}: rule crashed: {type(err).__name__}: {err}") from err
    if partial:
        report.notes.append(f"{root}: note: partial tree, stack rules (quotas against pools) not run")
        return report
    for finding in check_stack([obj for _, obj in located], cfg):
        report.findings.append((_locate(finding.message, located, str(root)), finding))
    return report


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
        cfg = load_stack_file(config_path)
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
