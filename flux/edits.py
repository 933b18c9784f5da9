"""Minimal, comment-preserving edits of Flux's own files (ADR 0029).

Flux re-applies every field its files declare, so a durable change to such a field is an edit of the file.
An edit here changes exactly the fields it names and leaves every other byte alone: comments, key order,
quoting, blank lines with trailing spaces, a missing newline at the end of the file.

How: ruamel.yaml's round-trip loader finds each key and value (line and column of its token); the edit
splices that token, or removes that key's lines, or inserts a key after the last line of its mapping, in
the file's text. A full round-trip dump would re-indent and re-quote what it did not touch, so it is not
used to write. After the splice the text is parsed again and must equal the old objects with exactly the
named changes applied (`apply_to`), or nothing is written (`EditError`): fail closed.

- `Change`: one field of one object (kind, namespace, name) set to a value, or removed (`DELETE`).
- `edit_text(text, changes)`: the new text and the fields it changed (old -> new, line).
- `plan(repo, config, facts)`: the directive's edits of the Flux repo (`flux.ownership.decide` says which
  objects Flux keeps): GPU PriorityClasses, the GPU quotas, the priorityClassName of every GPU workload's
  HelmRelease, and the dcgm-exporter chart's ServiceMonitor.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.config import StackConfig
from facts.model import Facts
from rules.gpu import gpu_resources

DELETE = object()  # Change.value: remove the key
FORCE_ANNOTATION = (
    "kustomize.toolkit.fluxcd.io/force"  # kustomize-controller: recreate on an immutable change
)


class EditError(ValueError):
    """An edit that cannot be made exactly as asked: nothing is written."""


@dataclass(frozen=True)
class Change:
    kind: str
    namespace: str | None
    name: str
    path: tuple[str, ...]  # keys from the object's root, e.g. ("spec", "hard", "requests.nvidia.com/gpu")
    value: Any  # the wanted value (a scalar or a mapping of scalars), or DELETE
    absent_is: Any = DELETE  # a missing key already means this value (globalDefault: false): nothing to do

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def field(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Applied:
    """One field an edit changed, for the review: where, from what, to what."""

    file: str
    ref: str
    field: str
    old: Any
    new: Any
    line: int  # 1-based, in the file before the edit

    def __str__(self) -> str:
        old = "(absent)" if self.old is DELETE else json.dumps(self.old)
        new = "(removed)" if self.new is DELETE else json.dumps(self.new)
        return f"{self.file}:{self.line}: {self.ref}: {self.field}: {old} -> {new}"


@dataclass
class FileEdit:
    path: str  # relative to the repository root
    before: bytes
    after: bytes
    applied: list[Applied] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.before != self.after


# --- the text engine ---------------------------------------------------------------------------------


def _round_trip(text: str) -> list[Any]:
    try:
        return list(YAML().load_all(text))
    except Exception as err:  # ruamel raises several error types; each means "not editable YAML"
        raise EditError(f"not YAML that can be edited: {str(err).splitlines()[0]}") from None


def _matches(doc: Any, kind: str, namespace: str | None, name: str) -> bool:
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        return False
    meta = doc.get("metadata") or {}
    return meta.get("name") == name and (namespace is None or meta.get("namespace") in (namespace, None))


def find(docs: Iterable[Any], kind: str, namespace: str | None, name: str) -> Any:
    found = [d for d in docs if _matches(d, kind, namespace, name)]
    if len(found) != 1:
        where = f"{namespace}/{name}" if namespace else name
        raise EditError(f"{kind} {where}: {len(found)} documents define it in this file, expected 1")
    return found[0]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, col: int, sequence_at_col: bool = False) -> int:
    """The index after the last line of the key at (start, col): lines more indented follow it, and at its
    own column only the `- ` items of a sequence value written flush with the key."""
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if line.strip() == "":
            i += 1
            continue
        if line.startswith(("---", "...")) and _indent(line) == 0:
            break
        indent = _indent(line)
        if indent < col or (indent == col and not (sequence_at_col and line.lstrip().startswith("- "))):
            break
        i += 1
    while i > start + 1 and lines[i - 1].strip() == "":
        i -= 1
    return i


def _scalar_end(line: str, col: int) -> int:
    """Where the scalar token starting at `col` ends (exclusive)."""
    quote = line[col] if col < len(line) else ""
    if quote == '"':
        i = col + 1
        while i < len(line):
            if line[i] == "\\":
                i += 2
                continue
            if line[i] == '"':
                return i + 1
            i += 1
        raise EditError("a double-quoted value continues on the next line; edit it by hand")
    if quote == "'":
        i = col + 1
        while i < len(line):
            if line[i] == "'":
                if line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            i += 1
        raise EditError("a single-quoted value continues on the next line; edit it by hand")
    body = line[col:].rstrip("\r\n")
    cut = body.find(" #")
    body = body if cut < 0 else body[:cut]
    return col + len(body.rstrip())


def _plain_ok(text: str, value: Any) -> bool:
    try:
        return yaml.safe_load(text) == value and type(yaml.safe_load(text)) is type(value)
    except yaml.YAMLError:
        return False


def _scalar_text(value: Any, old_token: str) -> str:
    """The new token, in the old token's style where that keeps the value's type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and old_token.startswith("'"):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, str) and (old_token.startswith('"') or not _plain_ok(value, value)):
        return json.dumps(value)
    return str(value)


def _block_text(key: str, value: Any, indent: int, step: int) -> list[str]:
    pad = " " * indent
    key_text = key if _plain_ok(key, key) else json.dumps(key)
    if isinstance(value, dict):
        out = [f"{pad}{key_text}:\n"]
        for k, v in value.items():
            out += _block_text(str(k), v, indent + step, step)
        return out
    return [f"{pad}{key_text}: {_scalar_text(value, '')}\n"]


def _plain(value: Any) -> Any:
    if isinstance(value, CommentedMap | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, CommentedSeq | list):
        return [_plain(v) for v in value]
    return value


def _one(text: str, change: Change, file: str) -> tuple[str, Applied | None]:
    """Apply one change to the text (which ends with a newline); None when it is already so."""
    docs = _round_trip(text)
    node = find(docs, change.kind, change.namespace, change.name)
    lines = text.splitlines(keepends=True)
    # Walk to the deepest mapping on the path that exists.
    parent, parent_key, depth = node, None, 0
    for key in change.path[:-1]:
        child = parent.get(key) if isinstance(parent, CommentedMap) else None
        if not isinstance(child, CommentedMap):
            if child is not None:
                raise EditError(f"{change.ref}: {'.'.join(change.path[: depth + 1])} is not a mapping")
            break
        parent, parent_key, depth = child, key, depth + 1
    last = change.path[depth]
    complete = depth == len(change.path) - 1
    if complete and last in parent:
        old = parent[last]
        (kline, kcol) = parent.lc.key(last)
        if change.value is DELETE:
            end = _block_end(lines, kline, kcol, isinstance(old, CommentedSeq))
            del lines[kline:end]
            return "".join(lines), Applied(file, change.ref, change.field, _plain(old), DELETE, kline + 1)
        if isinstance(change.value, dict):
            raise EditError(f"{change.ref}: {change.field}: set its keys one by one")
        if isinstance(old, CommentedMap | CommentedSeq):
            raise EditError(f"{change.ref}: {change.field} is a {type(old).__name__}, not a value")
        if old == change.value and type(old) is type(change.value):
            return text, None
        vline, vcol = parent.lc.value(last)
        line = lines[vline]
        end = _scalar_end(line, vcol)
        new_token = _scalar_text(change.value, line[vcol:end])
        lines[vline] = line[:vcol] + new_token + line[end:]
        return "".join(lines), Applied(file, change.ref, change.field, _plain(old), change.value, vline + 1)
    # Missing: nothing to remove, nothing to do when absence already means the value, else insert.
    if change.value is DELETE or (
        complete and change.absent_is is not DELETE and change.absent_is == change.value
    ):
        return text, None
    keys = list(parent.keys())
    if keys:
        child_col = parent.lc.key(keys[0])[1]
        kline, kcol = parent.lc.key(keys[-1])
        at = _block_end(lines, kline, kcol, isinstance(parent[keys[-1]], CommentedSeq))
    else:
        raise EditError(
            f"{change.ref}: {'.'.join(change.path[:depth]) or 'the object'} is empty; edit by hand"
        )
    step = 2
    if parent_key is not None and depth >= 1:
        grand = node
        for key in change.path[: depth - 1]:
            grand = grand[key]
        step = max(child_col - grand.lc.key(parent_key)[1], 1)
    value: Any = change.value
    for key in reversed(change.path[depth + 1 :]):
        value = {key: value}
    block = _block_text(last, value, child_col, step)
    lines[at:at] = block
    return "".join(lines), Applied(file, change.ref, change.field, DELETE, change.value, at + 1)


def _line_before(docs: list[Any], change: Change) -> int:
    """The 1-based line, in the file before any edit, of the key the change touches, or of the last line
    of the deepest mapping on its path that exists (where an inserted key goes)."""
    node = find(docs, change.kind, change.namespace, change.name)
    line = 0
    for key in change.path:
        if not isinstance(node, CommentedMap) or key not in node:
            keys = list(node.keys()) if isinstance(node, CommentedMap) else []
            return (node.lc.key(keys[-1])[0] if keys else line) + 1
        line = node.lc.key(key)[0]
        node = node[key]
    return line + 1


def apply_to(obj: dict, change: Change) -> None:
    """The same change on a plain object (the check the text edit must pass)."""
    parent = obj
    for key in change.path[:-1]:
        if change.value is DELETE and not isinstance(parent.get(key), dict):
            return
        parent = parent.setdefault(key, {})
    last = change.path[-1]
    if change.value is DELETE:
        parent.pop(last, None)
    elif last in parent or change.absent_is is DELETE or change.absent_is != change.value:
        parent[last] = change.value


def edit_text(text: str, changes: list[Change], file: str = "") -> tuple[str, list[Applied]]:
    """The text with the changes made, and what each changed. Raises EditError when the result is not
    exactly the old objects with these changes."""
    no_newline = bool(text) and not text.endswith("\n")
    work = text + "\n" if no_newline else text
    applied: list[Applied] = []
    original = _round_trip(work)
    for change in changes:
        work, done = _one(work, change, file)
        if done:
            applied.append(replace(done, line=_line_before(original, change)))
    if no_newline and work.endswith("\n"):
        work = work[:-1]
    if not applied:
        return text, []
    expected = [d for d in yaml.safe_load_all(text)]
    for change in changes:
        target = next((d for d in expected if _matches(d, change.kind, change.namespace, change.name)), None)
        if target is not None:
            apply_to(target, change)
    try:
        got = list(yaml.safe_load_all(work))
    except yaml.YAMLError as err:
        raise EditError(
            f"{file}: the edit would not be YAML ({str(err).splitlines()[0]}); nothing written"
        ) from None
    if got != expected:
        raise EditError(f"{file}: the edit changed more than the named fields; nothing written")
    return work, applied


# --- the directive's edits ---------------------------------------------------------------------------


def source_file(facts: Facts, kind: str, name: str, namespace: str | None) -> str:
    owner = facts.owner(kind, name, namespace)
    if owner is None:
        where = f"{namespace}/{name}" if namespace else name
        raise EditError(
            f"{kind} {where}: no Flux file declares it in the facts (facts/k3s-home.yaml objects)"
        )
    return owner.source.rsplit(":", 1)[0]


def _split(ref: str) -> tuple[str, str | None, str]:
    parts = ref.split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[1])


def priority_class_changes(config: StackConfig, name: str, current: dict | None) -> list[Change]:
    """value, description and globalDefault as the stack config says; a changed value (immutable) also
    gets kustomize-controller's force annotation, so Flux deletes and recreates the class."""
    pc = config.gpu.priority_class(name)
    changes = [
        Change("PriorityClass", None, name, ("value",), pc.value),
        Change("PriorityClass", None, name, ("description",), pc.description),
        Change("PriorityClass", None, name, ("globalDefault",), False, absent_is=False),
    ]
    if current is not None and current.get("value") != pc.value:
        changes.append(
            Change("PriorityClass", None, name, ("metadata", "annotations", FORCE_ANNOTATION), "enabled")
        )
    return changes


def quota_changes(config: StackConfig, namespace: str, name: str, current: dict | None) -> list[Change]:
    """`requests.<gpu>` at the tenant's cap for every pool; every other GPU key (limits.*) removed; keys
    about anything else stay as they are. A value keeps its type (a quoted "2" stays a string)."""
    tenant = config.gpu.tenant(namespace)
    if tenant is None:
        raise EditError(
            f"ResourceQuota {namespace}/{name}: namespace {namespace} is no GPU tenant (k3s-home:gpu.tenants)"
        )
    hard = ((current or {}).get("spec") or {}).get("hard") or {}
    names = gpu_resources(config)
    changes = []
    for key, wanted in config.gpu.quota_hard(tenant).items():
        value: Any = int(wanted) if isinstance(hard.get(key), int) else wanted
        changes.append(Change("ResourceQuota", namespace, name, ("spec", "hard", key), value))
    for key in hard:
        prefix, _, res = str(key).partition(".")
        if (res in names and prefix != "requests") or (key in names):
            changes.append(Change("ResourceQuota", namespace, name, ("spec", "hard", key), DELETE))
    return changes


def class_path(doc: Any, line: int) -> tuple[str, ...] | None:
    """The key path of the `priorityClassName` key on `line` (1-based) in a round-trip document."""

    def walk(node: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if isinstance(node, CommentedMap):
            for key in node:
                if key == "priorityClassName" and node.lc.key(key)[0] + 1 == line:
                    return (*path, key)
                found = walk(node[key], (*path, str(key)))
                if found:
                    return found
        elif isinstance(node, CommentedSeq):
            for value in node:
                if isinstance(value, CommentedMap | CommentedSeq):
                    raise EditError("priorityClassName under a list item; edit it by hand")
        return None

    return walk(doc, ())


def workload_changes(config: StackConfig, facts: Facts, repo: Path) -> dict[str, list[Change]]:
    """priorityClassName of every GPU workload's HelmRelease: its tenant's class (k3s-home:gpu.tenants)."""
    out: dict[str, list[Change]] = {}
    for w in facts.gpu_workloads:
        tenant = config.gpu.tenant(w.namespace)
        if tenant is None or not w.deployed:
            continue  # gpu-priority-class judges it; no class to give
        if w.priority_class_source is None:
            raise EditError(
                f"HelmRelease {w.namespace}/{w.name}: its values set no priorityClassName "
                f"({w.requests_source}); add `priorityClassName: {tenant.priority_class_name}` "
                "beside its pod options by hand"
            )
        file, line = w.priority_class_source.rsplit(":", 1)
        doc = find(_round_trip((repo / file).read_text()), "HelmRelease", w.namespace, w.name)
        path = class_path(doc, int(line))
        if path is None:
            raise EditError(
                f"{w.priority_class_source}: no priorityClassName there (the facts are stale: make facts)"
            )
        out.setdefault(file, []).append(
            Change("HelmRelease", w.namespace, w.name, path, tenant.priority_class_name)
        )
    return out


def dcgm_changes(config: StackConfig) -> list[Change]:
    """The chart's own ServiceMonitor, with the labels kube-prometheus-stack selects on: its one owner."""
    mon, dcgm = config.gpu.monitoring, config.gpu.monitoring.dcgm_exporter
    base = ("spec", "values", "serviceMonitor")
    changes = [Change("HelmRelease", mon.namespace, dcgm.release_name, (*base, "enabled"), True)]
    changes += [
        Change("HelmRelease", mon.namespace, dcgm.release_name, (*base, "additionalLabels", k), v)
        for k, v in sorted(mon.prometheus_labels.items())
    ]
    return changes


def _current(repo: Path, file: str, kind: str, namespace: str | None, name: str) -> dict | None:
    for doc in yaml.safe_load_all((repo / file).read_text()):
        if _matches(doc, kind, namespace, name):
            return doc
    return None


def wanted(repo: Path, config: StackConfig, facts: Facts) -> dict[str, list[Change]]:
    """file -> the changes the directive wants in it, for the objects Flux keeps."""
    out: dict[str, list[Change]] = {}
    for ref in config.cluster.flux_keeps:
        kind, namespace, name = _split(ref)
        file = source_file(facts, kind, name, namespace)
        if not (repo / file).is_file():
            raise EditError(f"{ref}: {file} is not in FLUX_REPO (the facts name it: make facts)")
        current = _current(repo, file, kind, namespace, name)
        if kind == "PriorityClass":
            changes = priority_class_changes(config, name, current)
        elif kind == "ResourceQuota" and namespace:
            changes = quota_changes(config, namespace, name, current)
        elif (kind, namespace, name) == (
            "HelmRelease",
            config.gpu.monitoring.namespace,
            config.gpu.monitoring.dcgm_exporter.release_name,
        ):
            changes = dcgm_changes(config)
        else:
            continue  # kept by Flux as it is: nothing of it is the directive's
        out.setdefault(file, []).extend(changes)
    for file, changes in workload_changes(config, facts, repo).items():
        out.setdefault(file, []).extend(changes)
    return out


def plan(repo: Path, config: StackConfig, facts: Facts) -> list[FileEdit]:
    """Every file the directive edits, sorted by path, with its bytes before and after."""
    edits = []
    for file, changes in sorted(wanted(repo, config, facts).items()):
        before = (repo / file).read_bytes()
        try:
            after, applied = edit_text(before.decode(), changes, file)
        except EditError as err:
            message = str(err) if str(err).startswith(file) else f"{file}: {err}"
            raise EditError(message) from None
        edits.append(FileEdit(file, before, after.encode(), applied))
    return edits


def summary(edits: list[FileEdit]) -> str:
    """The review's section on the edits: files, objects, fields (old -> new)."""
    changed = [e for e in edits if e.changed]
    objects = {(e.path, a.ref) for e in changed for a in e.applied}
    fields = sum(len(e.applied) for e in changed)
    head = (
        f"Edits of Flux's own files (ADR 0029): {len(changed)} file(s), {len(objects)} object(s), "
        f"{fields} field(s)"
    )
    body = [f"   {a}" for e in changed for a in e.applied]
    unchanged = [e.path for e in edits if not e.changed]
    if unchanged:
        body.append(f"   already as wanted: {', '.join(unchanged)}")
    return "\n".join([head, *body])
