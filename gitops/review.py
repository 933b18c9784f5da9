"""The rendered diff against the repository, summarised by the same review gate as a preview.

Each object of the new render is compared with what the owned folders hold today: new objects are
creates, changed ones updates, objects that disappear deletes. They become the engine's own event shape
(`resourcePreEvent` steps with the registering URN, the render's policy events and its summary event), so
`review.gate.summarize`, `check_cluster` and `render` give the reviewer the screen of `make preview`: counts
per component, data-bearing and destructive changes first, mandatory violations, and, instead of the
cluster, the repository: a create of an object that a file outside the stack's folders already defines
would give it two owners in Flux (ADR 0003) and blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import yaml

from facts.derive import Repo, reach
from flux.edits import FileEdit
from gitops.layout import Rendered, component_of_folder, folder_of, owned_folders
from review.gate import Summary, check_cluster, summarize
from review.ownership import ObjectRef
from rules import Config, Finding, Severity, object_name
from rules.registry import OWNERSHIP_RULES, check_object, check_stack

PROJECT_URN = "urn:pulumi:k3s-home::k3s-home::"
SECRET_FIELDS = ("data", "stringData")
# What the edits of Flux's files are for (ADR 0029): after the edit, the edited objects must pass these.
EDIT_RULES = frozenset({"gpu-priority-class", "gpu-oversubscription", "directive-drift"})


def _type_token(obj: dict) -> str:
    api = str(obj.get("apiVersion", ""))
    group_version = api if "/" in api else f"core/{api}"
    return f"kubernetes:{group_version}:{obj.get('kind', '')}"


def _public(obj: dict) -> dict:
    """What an event may show of an object: never a Secret's values."""
    if obj.get("kind") != "Secret":
        return obj
    return {k: v for k, v in obj.items() if k not in SECRET_FIELDS}


def _step(op: str, urn: str, typ: str, old: dict | None, new: dict | None) -> dict:
    meta: dict = {"op": op, "urn": urn, "type": typ}
    if old is not None:
        meta["old"] = {"type": typ, "inputs": _public(old), "custom": True}
    if new is not None:
        meta["new"] = {"type": typ, "inputs": _public(new), "custom": True}
    return {"resourcePreEvent": {"metadata": meta}}


def diff_events(
    rendered: list[Rendered], existing: dict[tuple[str, str, str], tuple[str, dict | None]]
) -> Iterator[dict]:
    """Steps from the owned folders' objects today (`existing`: key -> (path, object or None when it could
    not be read, e.g. a Secret this machine cannot decrypt)) to the new render."""
    seen = set()
    for item in rendered:
        seen.add(item.key)
        before = existing.get(item.key)
        if before is None:
            yield _step("create", item.urn, item.type, None, item.obj)
        elif before[1] != item.obj:
            yield _step("update", item.urn, item.type, before[1] or {}, item.obj)
    for key, (path, obj) in sorted(existing.items()):
        if key in seen:
            continue
        obj = obj or {"kind": key[0], "metadata": {"namespace": key[1] or None, "name": key[2]}}
        typ = _type_token(obj)
        component = component_of_folder(folder_of(path) or "")
        yield _step("delete", f"{PROJECT_URN}{component}${typ}::{key[2]}", typ, obj, None)


def engine_events(path: Path) -> Iterator[dict]:
    """The render's policy events and its summary event (its steps are all creates into an empty
    directory, so they are not the review: the file diff is)."""
    from review.gate import read_event_log

    for event in read_event_log(path):
        if "policyEvent" in event or "summaryEvent" in event or "diagnosticEvent" in event:
            yield event


def repo_objects(repo: Path, skip: Iterable[str]) -> tuple[dict[tuple[str, str, str], str], list[str]]:
    """(kind, namespace, name) -> the file defining it, for every object Flux applies from the repo (the
    facts' reach from its root Kustomization, ADR 0027) outside `skip` folders: a file no Kustomization
    reaches (the unwired Longhorn overlay) defines nothing in the cluster. Files on the reach that are
    not plain YAML (templates, broken files) are returned as unreadable."""
    tree = Repo(repo)
    applied, _, _ = reach(tree)
    skipped = [s.rstrip("/") + "/" for s in skip]
    found: dict[tuple[str, str, str], str] = {}
    for item in applied:
        meta = item.doc.body.get("metadata")
        if (
            any(item.doc.path.startswith(s) for s in skipped)
            or not isinstance(meta, dict)
            or "name" not in meta
        ):
            continue
        found.setdefault((str(item.doc.body["kind"]), item.namespace or "", str(meta["name"])), item.doc.path)
    return found, sorted(set(tree.unreadable))


def defined_in(found: Mapping[tuple[str, str, str], str], kind: str, namespace: str, name: str) -> str | None:
    """The file defining an object. A file without a namespace may be namespaced by its kustomization, so
    kind and name match it too."""
    return found.get((kind, namespace, name)) or found.get((kind, "", name))


def defined_elsewhere(found: Mapping[tuple[str, str, str], str]) -> Callable[[ObjectRef], bool]:
    """`exists` for the gate's create check: the object is defined in a file the stack does not own that
    a Flux Kustomization applies (`repo_objects` keeps only those: an unreached file is no second owner)."""

    def exists(ref: ObjectRef) -> bool:
        return defined_in(found, ref.kind, ref.namespace or "", ref.name) is not None

    return exists


def summary(
    rendered: list[Rendered],
    existing: dict[tuple[str, str, str], tuple[str, dict | None]],
    events_log: Path,
    repo: Path,
    acknowledged: set[str],
    data_objects: set[str],
) -> tuple[Summary, list[str]]:
    """The gate's summary of the rendered diff, checked against what Flux applies from the rest of the
    repository: (summary, files on Flux's reach that are not plain YAML)."""
    events = [*diff_events(rendered, existing), *engine_events(events_log)]
    result = summarize(events, acknowledged, data_objects)
    found, unreadable = repo_objects(repo, owned_folders())
    check_cluster(result, defined_elsewhere(found))
    result.cluster_check = "checked"
    return result, unreadable


def edited_findings(edits: list[FileEdit], config: Config) -> list[tuple[str, Finding]]:
    """The directive's GPU rules over the objects of the edited Flux files, as they are after the edit:
    (file, finding). A mandatory one means the edit did not do its job, and blocks the render."""
    objects: list[tuple[str, dict]] = []
    for edit in edits:
        for doc in yaml.safe_load_all(edit.after):
            if isinstance(doc, dict) and doc.get("kind") and isinstance(doc.get("metadata"), dict):
                objects.append((edit.path, doc))
    found = [
        (path, f)
        for path, obj in objects
        for f in check_object(obj, config, skip=OWNERSHIP_RULES)
        if f.rule in EDIT_RULES
    ]
    # Stack rules see only the edited objects here, so only their findings about one of them count (a
    # pool's bound needs every quota of the repo: the audit of the whole edited repo judges that).
    for f in check_stack([o for _, o in objects], config):
        named = [path for path, obj in objects if object_name(obj) in f.message]
        if f.rule in EDIT_RULES and named:
            found.append((named[0], f))
    return found


def blocking(findings: list[tuple[str, Finding]]) -> list[tuple[str, Finding]]:
    return [(p, f) for p, f in findings if f.severity is Severity.MANDATORY]
