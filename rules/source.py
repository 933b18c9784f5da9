"""YAML files as the audit reads them: libyaml parses, node marks give every finding its line.

`yaml.CSafeLoader` composes nodes in C (the pure-Python composer was over 95 % of the audit's time) and
its nodes keep their start marks, so a finding's dotted path (`spec.values.x.securityContext.privileged`)
maps back to the line of the offending key without a second parse.

What is left in Python is made cheap, with the same results as PyYAML's SafeLoader (the before/after
test in tests/policy proves it on the real Flux repo):
- libyaml asks Python for the tag of every scalar; a plain scalar's tag depends only on its text (the
  safe loader has no path resolvers), so it is looked up once per distinct text;
- strings, mappings and sequences become Python values in one tight recursion; every other tag (ints,
  booleans, timestamps, merge keys, authentik's `!KeyOf`...) goes to PyYAML's own constructor.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# Scalar tags whose PyYAML constructor is a plain function of the node (no generator, no state).
_SIMPLE_SCALARS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"})
_PLAIN_TAGS: dict[str, str] = {}  # plain scalar text -> resolved tag


class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader that reads unknown tags (authentik's !KeyOf, !Find...) as plain values."""

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        if not implicit[0]:  # quoted, or tagged !!str
            return _STR
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = _PLAIN_TAGS[value] = super().resolve(kind, value, implicit)
        return tag

    # Path resolvers are the only reason to track depth; the safe loader has none.
    def descend_resolver(self, current_node, current_index):
        pass

    def ascend_resolver(self):
        pass


assert not _Loader.yaml_path_resolvers, "path resolvers would make a plain scalar's tag depend on its place"


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
    node: yaml.Node  # the composed document, marks included
    data: object

    @property
    def line(self) -> int:
        """1-based line where the document's content starts."""
        return self.node.start_mark.line + 1


def documents(path: Path) -> list[Document]:
    """Every YAML document of a file with its nodes. Raises yaml.YAMLError on broken YAML."""
    loader = _Loader(path.read_text(encoding="utf-8", errors="replace"))
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(Document(path, node, _construct_document(loader, node)))
    finally:
        loader.dispose()
    return docs


def _construct_document(loader: _Loader, node: yaml.Node) -> object:
    try:
        return _construct(loader, node, {})
    except TypeError:  # an unhashable key: PyYAML raises the ConstructorError the caller expects
        return loader.construct_document(node)


def _construct(loader: _Loader, node: yaml.Node, memo: dict[int, object]) -> object:
    tag = node.tag
    cls = type(node)
    if cls is yaml.ScalarNode:
        if tag == _STR:
            return node.value
        if tag in _SIMPLE_SCALARS:
            return loader.yaml_constructors[tag](loader, node)
    elif id(node) in memo:  # an alias: the same object, as PyYAML gives
        return memo[id(node)]
    elif cls is yaml.MappingNode and tag == _MAP and not any(k.tag == _MERGE for k, _ in node.value):
        mapping: dict = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR else _construct(loader, key_node, memo)
            mapping[key] = _construct(loader, value_node, memo)
        return mapping
    elif cls is yaml.SequenceNode and tag == _SEQ:
        sequence: list = []
        memo[id(node)] = sequence
        sequence.extend(_construct(loader, item, memo) for item in node.value)
        return sequence
    value = loader.construct_document(node)
    memo[id(node)] = value
    return value


def kubernetes_objects(doc: Document) -> Iterator[tuple[yaml.Node, dict]]:
    """(node, object) for the Kubernetes objects in a document: the object itself, or a v1 List's items."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("kind"), str) or "apiVersion" not in data:
        return
    if data["kind"] == "List" and isinstance(data.get("items"), list):
        items = _child(doc.node, "items")
        nodes = items.value if isinstance(items, yaml.SequenceNode) else []
        for i, item in enumerate(data["items"]):
            if isinstance(item, dict) and "kind" in item:
                yield (nodes[i] if i < len(nodes) else doc.node), item
    else:
        yield doc.node, data


def _child(node: yaml.Node, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def line_of(node: yaml.Node, path: str) -> int:
    """1-based line of the key a finding's dotted path names inside an object's node.

    Paths are the rules' own (`a.b[2].c`); keys may hold dots (`limits.nvidia.com/gpu`, a ConfigMap's
    `alertmanager.yaml`), so at each mapping the longest key that prefixes the rest wins. Where the
    path leaves the YAML (a key the finding says is missing), the deepest key found is the answer.
    """
    line = node.start_mark.line + 1
    rest = path
    while rest:
        if rest.startswith("["):
            index, _, rest = rest[1:].partition("]")
            rest = rest.removeprefix(".")
            if not (isinstance(node, yaml.SequenceNode) and index.isdigit() and int(index) < len(node.value)):
                break
            node = node.value[int(index)]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            break
        best: tuple[yaml.Node, yaml.Node] | None = None
        for key, value in node.value:
            k = key.value
            if (
                isinstance(key, yaml.ScalarNode)
                and k
                and rest.startswith(k)
                and (len(rest) == len(k) or rest[len(k)] in ".[")
                and (best is None or len(k) > len(best[0].value))
            ):
                best = (key, value)
        if best is None:
            break
        key, node = best
        line = key.start_mark.line + 1
        rest = rest[len(key.value) :].removeprefix(".")
    return line
