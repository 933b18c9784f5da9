"""config.yaml as text: blocks that join back to the file, effective values with k3s defaults, and a merge
that rewrites only owned keys."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.config import k3s_config_file as k3s
from tests.unit.components.control_plane.helpers import NODES, live_text

OWNED = ("server", "token", "tls-san")


def joined(cfg: k3s.ConfigFile) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in cfg.parts)


@pytest.mark.parametrize("name", NODES)
def test_parts_join_back_to_the_file(name):
    text = live_text(name)
    cfg = k3s.parse(text)
    assert joined(cfg) == text
    assert cfg.values == yaml.safe_load(text)


def test_comments_directly_above_a_key_belong_to_it():
    cfg = k3s.parse("a: 1\n\n# about b\nb: 2\n# loose\n\nc: 3\n")
    blocks = {p.key: p.text for p in cfg.parts if isinstance(p, k3s.Block)}
    assert blocks == {"a": "a: 1\n", "b": "# about b\nb: 2\n", "c": "c: 3\n"}
    assert [p for p in cfg.parts if isinstance(p, str)] == ["\n", "# loose\n\n"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: 1\na: 2\n", "sets a twice; k3s would use only the last one"),
        ("{a: 1}\n", "must be a block mapping of k3s flags (key: value per line)"),
        ("- a\n", "must be a block mapping of k3s flags (key: value per line)"),
        ("a: [1\n", "is not valid YAML (while parsing a flow sequence)"),
    ],
)
def test_unusable_files_are_refused(text, reason):
    with pytest.raises(ValueError) as caught:
        k3s.parse(text)
    assert str(caught.value) == reason


def test_empty_file_has_no_keys():
    assert k3s.parse("").values == {} and k3s.parse("# nothing\n").values == {}


@pytest.mark.parametrize(
    ("values", "root"),
    [
        ({}, "/var/lib/kubelet"),
        ({"kubelet-arg": ["max-pods=150"]}, "/var/lib/kubelet"),
        (
            {"kubelet-arg": ["root-dir=/var/lib/rancher/k3s/agent/kubelet"]},
            "/var/lib/rancher/k3s/agent/kubelet",
        ),
        ({"kubelet-arg": "--root-dir=/srv/kubelet,max-pods=10"}, "/srv/kubelet"),
        ({"kubelet-arg+": ["root-dir=/srv/kubelet"]}, "/srv/kubelet"),
        ({"rootless": True}, "/var/lib/rancher/k3s/agent/kubelet"),
        ({"rootless": True, "data-dir": "/opt/k3s"}, "/opt/k3s/agent/kubelet"),
    ],
)
def test_kubelet_root_dir(values, root):
    assert k3s.kubelet_root_dir(values) == root


def test_effective_values_fall_back_to_the_k3s_defaults():
    assert k3s.effective({}, "cluster-domain") == "cluster.local"
    assert k3s.effective({"disable-kube-proxy": "true"}, "disable-kube-proxy") is True
    assert k3s.effective({"cluster-cidr": "10.42.0.0/16"}, "cluster-cidr") == k3s.effective(
        {}, "cluster-cidr"
    )


def test_merge_replaces_owned_keys_in_place_and_appends_the_rest():
    live = k3s.parse("# top\nserver: https://old:6443\nnode-label: [a=b]\n")
    out = k3s.merge(live, OWNED, {"server": "https://new:6443", "token": "T"}, ["head"])
    assert out == ("# k3s-home: head\n\n# top\nserver: https://new:6443\nnode-label: [a=b]\ntoken: T\n")


def test_merge_removes_owned_keys_without_a_value_and_keeps_unchanged_ones_as_written():
    live = k3s.parse("tls-san:\n  - a\nserver: https://x:6443\n")
    out = k3s.merge(live, OWNED, {"tls-san": ["a"]}, [])
    assert out == "tls-san:\n  - a\n"


def test_merge_writes_an_owned_key_once_even_with_an_append_variant():
    live = k3s.parse("tls-san: [a]\ntls-san+: [b]\n")
    assert yaml.safe_load(k3s.merge(live, OWNED, {"tls-san": ["c"]}, [])) == {"tls-san": ["c"]}


# A key YAML 1.1 reads as something else ("no", "on", "y") is not a k3s flag name; k3s would not read it
# as that flag either, so it is outside what the merge promises.
_keys = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True).filter(
    lambda k: k.rstrip("+") not in OWNED and yaml.safe_load(f"{k}: 1") == {k: 1}
)
_values = st.one_of(
    st.booleans(),
    st.integers(-10, 10_000),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20),
    st.lists(
        st.text(st.characters(min_codepoint=48, max_codepoint=122), min_size=1, max_size=10), max_size=3
    ),
)
_styles = st.sampled_from(["block", "json"])  # as yaml writes it, or JSON (flow) after the key


@pytest.mark.slow  # a long property run (60 examples of a whole file merge)
@settings(max_examples=60, deadline=None)
@given(
    foreign=st.dictionaries(_keys, st.tuples(_values, _styles), min_size=1, max_size=6),
    has_server=st.booleans(),
)
def test_any_foreign_key_survives_a_merge_byte_for_byte(foreign, has_server):
    text = "".join(
        yaml.safe_dump({k: v}, default_flow_style=False) if style == "block" else f"{k}: {json.dumps(v)}\n"
        for k, (v, style) in foreign.items()
    )
    if has_server:
        text = "server: https://old:6443\n" + text
    live = k3s.parse(text)
    out = k3s.merge(live, OWNED, {"server": "https://new:6443", "token": "T"}, ["h"])
    for block in (p for p in live.parts if isinstance(p, k3s.Block) and p.key != "server"):
        assert block.text in out
    merged = yaml.safe_load(out)
    assert merged == {**{k: v for k, (v, _) in foreign.items()}, "server": "https://new:6443", "token": "T"}
    # And merging the result again is a fixed point.
    assert k3s.merge(k3s.parse(out), OWNED, {"server": "https://new:6443", "token": "T"}, ["h"]) == out
