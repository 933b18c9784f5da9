"""Authentik blueprint YAML: one Loader/Dumper pair that keeps authentik's custom tags as real tags.

Blueprints reference other objects and the environment through tags (`!KeyOf`, `!Find`, `!Env`,
`!File`, `!Context`, ...). A plain `yaml.safe_dump` cannot emit them and `yaml.safe_load` refuses
them, so the component, the docs and the policy rules all go through this module: a tag becomes a
`Tag(name, value)` on load and is written back as the same tag on dump. Unknown `!Names` (authentik
has more, e.g. `!Format`, `!If`) survive the round trip too, so parsing a live blueprint never fails
just because it uses a tag we do not model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# The tags the component emits; the loader accepts any `!Name` (see module doc).
KNOWN_TAGS = ("KeyOf", "Find", "Env", "File", "Context")


@dataclass(frozen=True)
class Tag:
    """An authentik YAML tag: `!{name} {value}`; value is a scalar string, a list or a mapping."""

    name: str
    value: Any


def key_of(entry_id: str) -> Tag:
    """`!KeyOf id`: the primary key of the entry with `id` earlier in the same blueprint."""
    return Tag("KeyOf", entry_id)


def find(model: str, *pairs: tuple[str, Any]) -> Tag:
    """`!Find [model, [field, value], ...]`: look up an existing object."""
    return Tag("Find", [model, *[[field, value] for field, value in pairs]])


def env(name: str, default: str | None = None) -> Tag:
    """`!Env NAME` or `!Env [NAME, default]`: read the worker's environment at apply time."""
    return Tag("Env", name if default is None else [name, default])


def file(path: str, default: str | None = None) -> Tag:
    """`!File path` or `!File [path, default]`: read a file mounted in the worker."""
    return Tag("File", path if default is None else [path, default])


def context(key: str, default: Any = None) -> Tag:
    """`!Context key` or `!Context [key, default]`: a blueprint context variable."""
    return Tag("Context", key if default is None else [key, default])


class BlueprintLoader(yaml.SafeLoader):
    """SafeLoader that turns every `!Name` tag into a `Tag`."""


class BlueprintDumper(yaml.SafeDumper):
    """SafeDumper that writes `Tag`s back as tags and never emits anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        # Repeated lists (scopes, flows) must stay literal: authentik blueprints are read by people.
        return True


def _construct(loader: BlueprintLoader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


def _represent(dumper: BlueprintDumper, tag: Tag) -> yaml.Node:
    name = f"!{tag.name}"
    if isinstance(tag.value, list):
        # Flow style reads like authentik's docs: !Find [model, [field, value]]
        return dumper.represent_sequence(name, tag.value, flow_style=True)
    if isinstance(tag.value, dict):
        return dumper.represent_mapping(name, tag.value)
    return dumper.represent_scalar(name, str(tag.value))


def _represent_str(dumper: BlueprintDumper, text: str) -> yaml.Node:
    # Several lines (2023.10's redirect_uris, one regex per line) read best as a literal block.
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


BlueprintLoader.add_multi_constructor("!", _construct)
BlueprintDumper.add_representer(Tag, _represent)
BlueprintDumper.add_representer(str, _represent_str)


def loads(text: str) -> Any:
    """Parse YAML that may contain authentik tags."""
    return yaml.load(text, Loader=BlueprintLoader)  # a SafeLoader subclass


def dumps(doc: Any) -> str:
    """Write YAML, keeping key order and authentik tags."""
    return yaml.dump(doc, Dumper=BlueprintDumper, sort_keys=False, default_flow_style=False, width=120)


__all__ = [
    "KNOWN_TAGS",
    "BlueprintDumper",
    "BlueprintLoader",
    "Tag",
    "context",
    "dumps",
    "env",
    "file",
    "find",
    "key_of",
    "loads",
]
