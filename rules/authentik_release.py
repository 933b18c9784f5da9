"""What one authentik release accepts in a blueprint and its chart's values: one `Release` per format.

authentik applies a blueprint in one transaction, so an entry the running release does not know (a
list of redirect URIs on 2023.10, an `email` device class before 2025) reverts every entry: nothing
is created. The generator (components/sso), the config model and the `authentik-blueprint-format`
rule therefore all ask `release_for(version)` with the version the Flux repo pins (facts), and each
difference between releases is a field here, read in one place by the code that emits it (ADR 0024).

Every field was read in the release's own sources (docs/upstream-facts.md, "authentik releases"):
the blueprint schema at the release tag, the OAuth2 provider model and views, the chart's values.yaml.
A version no entry covers is refused, not guessed: add its entry, with its schema, when upgrading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

OAUTH2_PROVIDER = "authentik_providers_oauth2.oauth2provider"
TOTP_SETUP = "authentik_stages_authenticator_totp.authenticatortotpstage"


@dataclass(frozen=True)
class Release:
    """One blueprint and chart format, and the authentik versions it is right for."""

    name: str  # "2023.10": the versions it covers are `name`.x
    verified: str  # the tags it was read at
    # `lines`: one string, URIs separated by newlines, each a regular expression authentik matches with
    # re.fullmatch against the whole redirect URI (there is no strict mode). `list`: a list of
    # {matching_mode: strict|regex, url}.
    redirect_uris: Literal["lines", "list"]
    # Providers have an invalidation flow (required next to authorization_flow) from 2024.10.
    invalidation_flow: bool
    webauthn_setup_model: str
    totp_digits: int | str  # the schema types it: integer 6 on 2023.10, the string "6" later
    device_classes: tuple[str, ...]  # what the validation stage's device_classes may list
    # `top-level`: the chart's `envFrom` and `blueprints: [ConfigMap names]`; `global`: `global.envFrom`
    # and `blueprints.configMaps`.
    chart_values: Literal["top-level", "global"]

    def covers(self, version: str) -> bool:
        return version == self.name or version.startswith(self.name + ".")


RELEASES: tuple[Release, ...] = (
    Release(
        name="2023.10",
        verified="goauthentik/authentik version/2023.10.0..7 (identical blueprints/schema.json), "
        "goauthentik/helm authentik-2023.10.7",
        redirect_uris="lines",
        invalidation_flow=False,
        webauthn_setup_model="authentik_stages_authenticator_webauthn.authenticatewebauthnstage",
        totp_digits=6,
        device_classes=("static", "totp", "webauthn", "duo", "sms"),
        chart_values="top-level",
    ),
    Release(
        name="2025.12",
        verified="goauthentik/authentik blueprints/schema.json 2025.12.0-rc1, "
        "goauthentik/helm authentik-2025.12.x",
        redirect_uris="list",
        invalidation_flow=True,
        webauthn_setup_model="authentik_stages_authenticator_webauthn.authenticatorwebauthnstage",
        totp_digits="6",
        device_classes=("static", "totp", "webauthn", "duo", "sms", "email"),
        chart_values="global",
    ),
)


def release_for(version: str) -> Release | None:
    """The format for authentik `version` (the chart's, which is the app's: goauthentik's chart
    `X` ships image `X`), or None when no entry covers it."""
    return next((r for r in RELEASES if r.covers(version)), None)


def unsupported(version: str, source: str) -> str:
    """The one-line reason a version without an entry is refused."""
    known = ", ".join(f"{r.name}.x" for r in RELEASES)
    return (
        f"authentik {version} (pinned at {source}) has no blueprint format in rules/authentik_release.py "
        f"(known: {known}); add one, checked against that release's blueprint schema, before generating "
        "for it (ADR 0024)"
    )


def redirect_uris_value(release: Release, uris: list[tuple[str, str]]) -> str | list[dict[str, str]]:
    """`redirect_uris` for (matching_mode, url) pairs in `release`'s format.

    2023.10 matches every line as a regular expression (authorize.py `fullmatch(x, redirect_uri)`), so a
    strict URI is escaped: unescaped, `grafana.example.net` would also admit `grafana-example.net`.
    """
    if release.redirect_uris == "list":
        return [{"matching_mode": mode, "url": url} for mode, url in uris]
    return "\n".join(re.escape(url) if mode == "strict" else url for mode, url in uris)


def inexpressible_redirect(release: Release, mode: str, url: str) -> str | None:
    """Why a configured redirect URI cannot be written for `release`, else None."""
    if release.redirect_uris == "lines" and mode == "regex" and any(c.isspace() for c in url):
        return (
            f"regex redirect URI {url!r} contains whitespace, and authentik {release.name} splits "
            "redirect_uris on whitespace (one regex per line); write \\s instead"
        )
    return None


def format_problems(release: Release, doc: dict) -> list[str]:
    """Provider and stage attributes of `doc` that `release` does not read the way they are written."""
    problems: list[str] = []
    for i, entry in enumerate(doc.get("entries") or []):
        if not isinstance(entry, dict) or entry.get("state") == "absent":
            continue
        model = str(entry.get("model", ""))
        attrs = entry.get("attrs") if isinstance(entry.get("attrs"), dict) else {}
        uris = attrs.get("redirect_uris")
        if model == OAUTH2_PROVIDER and uris is not None:
            if release.redirect_uris == "list" and isinstance(uris, str):
                problems.append(
                    f"entries[{i}].attrs.redirect_uris is a string (authentik before 2024.10.3); "
                    f"authentik {release.name} wants a list of {{matching_mode: strict, url: ...}}"
                )
            elif release.redirect_uris == "lines" and not isinstance(uris, str):
                problems.append(
                    f"entries[{i}].attrs.redirect_uris is a list (authentik 2024.10.3+); authentik "
                    f"{release.name} wants one string, a regular expression per line"
                )
        is_provider = model.startswith("authentik_providers_")
        if is_provider and release.invalidation_flow:
            if "authorization_flow" in attrs and "invalidation_flow" not in attrs:
                problems.append(
                    f"entries[{i}] ({model}) has authorization_flow but no invalidation_flow "
                    f"(required since 2024.10; default-provider-invalidation-flow)"
                )
        elif is_provider and "invalidation_flow" in attrs:
            problems.append(
                f"entries[{i}].attrs.invalidation_flow does not exist in authentik {release.name} "
                "(added in 2024.10)"
            )
        classes = attrs.get("device_classes")
        if isinstance(classes, list):
            unknown = [c for c in classes if isinstance(c, str) and c not in release.device_classes]
            if unknown:
                problems.append(
                    f"entries[{i}].attrs.device_classes lists {', '.join(unknown)}, not a device class of "
                    f"authentik {release.name} ({', '.join(release.device_classes)})"
                )
        webauthn_stage = model.startswith("authentik_stages_authenticator_webauthn.") and model.endswith(
            "stage"
        )
        if webauthn_stage and model != release.webauthn_setup_model:
            problems.append(
                f"entries[{i}].model {model} does not exist in authentik {release.name}; "
                f"its WebAuthn setup stage is {release.webauthn_setup_model}"
            )
    return problems


__all__ = [
    "RELEASES",
    "Release",
    "format_problems",
    "inexpressible_redirect",
    "redirect_uris_value",
    "release_for",
    "unsupported",
]
