"""Authentik's custom YAML tags survive a round trip through the loader/dumper pair."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from components.sso.blueprint import build_blueprint, render_blueprint
from rules import blueprint_yaml as ay


@pytest.mark.parametrize(
    "tag, text",
    [
        (ay.key_of("provider-grafana"), "!KeyOf 'provider-grafana'"),
        (ay.find("authentik_flows.flow", ("slug", "x")), "!Find [authentik_flows.flow, [slug, x]]"),
        (ay.env("SSO_CLIENT_SECRET_GRAFANA"), "!Env 'SSO_CLIENT_SECRET_GRAFANA'"),
        (ay.env("NAME", "fallback"), "!Env [NAME, fallback]"),
        (ay.file("/secrets/client"), "!File '/secrets/client'"),
        (ay.file("/secrets/client", "none"), "!File [/secrets/client, none]"),
        (ay.context("goauthentik.io/enabled"), "!Context 'goauthentik.io/enabled'"),
        (ay.context("key", "default"), "!Context [key, default]"),
    ],
)
def test_each_tag_is_written_as_a_real_tag_and_read_back(tag, text):
    dumped = ay.dumps({"value": tag})
    assert dumped == f"value: {text}\n"
    assert ay.loads(dumped) == {"value": tag}


def test_dumped_tags_are_not_python_objects():
    dumped = ay.dumps([ay.key_of("a"), ay.env("B")])
    assert "python" not in dumped
    # A plain safe loader refuses them: they are real tags, not strings.
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load(dumped)


def test_tags_authentik_has_but_we_do_not_emit_survive():
    text = "name: !Format ['%s-%s', !Context a, b]\nmap: !If\n  k: v\n"
    doc = ay.loads(text)
    assert doc == {
        "name": ay.Tag("Format", ["%s-%s", ay.Tag("Context", "a"), "b"]),
        "map": ay.Tag("If", {"k": "v"}),
    }
    assert ay.loads(ay.dumps(doc)) == doc


def test_live_style_find_is_parsed():
    doc = ay.loads("f: !Find [authentik_providers_oauth2.scopemapping, [scope_name, openid]]")
    assert doc["f"] == ay.find("authentik_providers_oauth2.scopemapping", ("scope_name", "openid"))


def test_no_anchors_for_repeated_values():
    scopes = ["openid", "email"]
    dumped = ay.dumps({"a": scopes, "b": scopes})
    assert "&" not in dumped and "*" not in dumped


def test_the_generated_blueprint_round_trips(real_config):
    text = render_blueprint(real_config.authentik)
    assert ay.loads(text) == build_blueprint(real_config.authentik)
    for tag in ("!Find", "!Env", "!KeyOf"):
        assert tag in text


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
_values = st.one_of(_text, st.lists(st.one_of(_text, st.lists(_text, max_size=3)), min_size=1, max_size=4))


@pytest.mark.slow  # a long property run (100 examples, about a second)
@given(name=st.sampled_from(ay.KNOWN_TAGS), value=_values)
def test_any_known_tag_with_any_value_round_trips(name, value):
    doc = {"entries": [{"attrs": {"x": ay.Tag(name, value)}}]}
    assert ay.loads(ay.dumps(doc)) == doc
