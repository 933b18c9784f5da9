"""rules.source: libyaml documents keep their nodes, and a finding's dotted path maps to its key's line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.source import documents, kubernetes_objects, line_of

OBJECT = """\
apiVersion: v1
kind: ResourceQuota
metadata:
  name: q
spec:
  hard:
    requests.nvidia.com/gpu: "1"
    limits.nvidia.com/gpu: "1"
  list:
    - name: a
    - name: b
      value:
        deep: true
"""


@pytest.fixture
def node() -> yaml.Node:
    return yaml.compose(OBJECT, Loader=yaml.CSafeLoader)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("", 1),
        ("kind", 2),
        ("metadata.name", 4),
        ("spec.hard.requests.nvidia.com/gpu", 7),  # keys with dots: the longest key that prefixes wins
        ("spec.hard.limits.nvidia.com/gpu", 8),
        ("spec.list[1]", 11),
        ("spec.list[1].value.deep", 13),
        ("spec.list[0].value", 10),  # missing key: the deepest node found
        ("spec.list[7].name", 9),  # index out of range: the list's key
        ("spec.storageClassName", 5),
        ("pool nvidia.com/gpu", 1),  # not a path into the object at all
    ],
)
def test_line_of_a_path(node, path, line):
    assert line_of(node, path) == line


def test_documents_match_pyyaml_and_keep_start_lines(tmp_path: Path):
    text = "# c\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\nx: !KeyOf thing\n"
    path = tmp_path / "f.yaml"
    path.write_text(text)
    docs = documents(path)
    assert [d.line for d in docs] == [3, 8]
    assert docs[0].data == yaml.safe_load(text.split("---")[1])
    assert docs[1].data == {"x": "thing"}  # unknown tags (authentik's) read as plain values


def test_broken_yaml_raises(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text("a: [1, 2\n")
    with pytest.raises(yaml.YAMLError):
        documents(path)


def test_list_items_come_with_their_own_nodes(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text(
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "  - not-an-object\n"
        "  - apiVersion: v1\n    kind: Secret\n    metadata: {name: b}\n"
    )
    [doc] = documents(path)
    found = [(node.start_mark.line + 1, obj["metadata"]["name"]) for node, obj in kubernetes_objects(doc)]
    assert found == [(4, "a"), (6, "b")]


class _PurePython(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader with the audit's reading of unknown tags: the reference."""


_PurePython.add_multi_constructor(
    "!",
    lambda loader, _suffix, node: (
        loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node)
    ),
)

TRICKY = """\
base: &base {a: 1, b: [x, y]}
merged: {<<: *base, b: 2}
alias: *base
types: [1, 0x1f, 1.5, .inf, ~, null, true, yes, Off, 2025-06-18, 2025-06-18T10:00:00Z, "1", '2', !!str 3]
tagged: !KeyOf provider
found: !Find [authentik_flows.flow, [slug, default-authentication-flow]]
block: |
  line one
  line two
nested: [[1, {k: v}], {}, []]
"""


@pytest.mark.parametrize("text", [TRICKY, "a: 1\n---\n- 2\n---\nplain\n", "&r [*r]\n"])
def test_values_equal_pure_python_pyyaml(tmp_path: Path, text: str):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    got = [d.data for d in documents(path)]
    want = list(yaml.load_all(text, Loader=_PurePython))
    assert repr(got) == repr(want)  # repr: also catches a str where PyYAML gives an int, and recursion


def test_aliases_share_one_object_as_in_pyyaml(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text(TRICKY)
    [doc] = documents(path)
    assert doc.data["alias"] is doc.data["base"]


def test_unhashable_key_is_a_yaml_error(tmp_path: Path):
    path = tmp_path / "f.yaml"
    path.write_text("? [a, b]\n: value\n")
    with pytest.raises(yaml.YAMLError):
        documents(path)


def test_the_real_repo_fixture_reads_as_pure_python_pyyaml_reads_it():
    fixture = Path(__file__).parents[1] / "fixtures" / "flux-k3s"
    files = sorted(fixture.rglob("*.yaml"))
    assert len(files) > 30
    for path in files:
        want = list(yaml.load_all(path.read_text(), Loader=_PurePython))
        assert [d.data for d in documents(path)] == want, path
