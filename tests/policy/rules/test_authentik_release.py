"""rules.authentik_release: which format a version gets, and how each release's fields are written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.authentik_release import (
    RELEASES,
    format_problems,
    inexpressible_redirect,
    redirect_uris_value,
    release_for,
    unsupported,
)

OLD, NEW = release_for("2023.10.7"), release_for("2025.12.0")


@pytest.mark.parametrize(
    "version, name",
    [
        ("2023.10.0", "2023.10"),
        ("2023.10.7", "2023.10"),
        ("2025.12.4", "2025.12"),
        ("2023.100.1", None),  # a prefix of the string is not the release
        ("2023.8.7", None),
        ("2024.10.3", None),  # no schema read for it here: refused, not guessed
    ],
)
def test_release_for(version, name):
    release = release_for(version)
    assert (release.name if release else None) == name


def test_each_release_is_named_once_and_a_miss_says_how_to_add_one():
    assert len({r.name for r in RELEASES}) == len(RELEASES)
    assert unsupported("2024.2.0", "hr.yaml:16") == (
        "authentik 2024.2.0 (pinned at hr.yaml:16) has no blueprint format in rules/authentik_release.py "
        "(known: 2023.10.x, 2025.12.x); add one, checked against that release's blueprint schema, before "
        "generating for it (ADR 0024)"
    )


def test_redirect_uris_one_regex_per_line_on_2023_10_and_a_list_later():
    uris = [("strict", "https://a.example.net/cb"), ("regex", "https://b\\.example\\.net/.*")]
    assert redirect_uris_value(OLD, uris) == "https://a\\.example\\.net/cb\nhttps://b\\.example\\.net/.*"
    assert redirect_uris_value(NEW, uris) == [
        {"matching_mode": "strict", "url": "https://a.example.net/cb"},
        {"matching_mode": "regex", "url": "https://b\\.example\\.net/.*"},
    ]


host = st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){1,3}", fullmatch=True)
path = st.from_regex(r"(/[A-Za-z0-9_.~+-]{0,8}){0,3}", fullmatch=True)


@given(host=host, path=path, other=st.sampled_from("-x0"))
def test_an_escaped_strict_uri_admits_exactly_itself(host, path, other):
    """How 2023.10.7 checks (authorize.py: any(fullmatch(line, redirect_uri) for line in split())):
    the escaped line matches the URI, and a look-alike host with a dot replaced does not."""
    url = f"https://{host}{path}"
    (line,) = redirect_uris_value(OLD, [("strict", url)]).split()
    assert re.fullmatch(line, url)
    lookalike = f"https://{host.replace('.', other, 1)}{path}"
    assert not re.fullmatch(line, lookalike)
    assert not re.fullmatch(line, url + "/evil")


def test_only_whitespace_in_a_regex_cannot_be_written_for_2023_10():
    assert inexpressible_redirect(OLD, "regex", "https://a\\.net/( x)") is not None
    assert inexpressible_redirect(OLD, "regex", "https://a\\.net/\\s") is None
    assert inexpressible_redirect(NEW, "regex", "https://a\\.net/( x)") is None


def _doc(**entry) -> dict:
    return {"version": 1, "entries": [entry]}


def test_format_problems_per_release():
    webauthn_new = "authentik_stages_authenticator_webauthn.authenticatorwebauthnstage"
    doc = _doc(model=webauthn_new, identifiers={"name": "x"})
    assert format_problems(NEW, doc) == []
    assert format_problems(OLD, doc) == [
        f"entries[0].model {webauthn_new} does not exist in authentik 2023.10; its WebAuthn setup stage "
        "is authentik_stages_authenticator_webauthn.authenticatewebauthnstage"
    ]
    stage = "authentik_stages_authenticator_validate.authenticatorvalidatestage"
    doc = _doc(model=stage, identifiers={"name": "x"}, attrs={"device_classes": ["totp", "email"]})
    assert format_problems(NEW, doc) == []
    assert format_problems(OLD, doc) == [
        "entries[0].attrs.device_classes lists email, not a device class of authentik 2023.10 "
        "(static, totp, webauthn, duo, sms)"
    ]
    # An entry that is being removed is not judged.
    assert format_problems(OLD, {**doc, "entries": [{**doc["entries"][0], "state": "absent"}]}) == []
