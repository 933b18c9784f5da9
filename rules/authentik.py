"""Authentik rules over Kubernetes objects carrying blueprints (ConfigMaps and Secrets).

- `authentik-mfa`: directive prohibition 1, "NO enabling Authentik 2FA before 30-day stability".
  MFA counts as enabled when an authenticator-validate stage has `not_configured_action: configure`
  or `deny` (users without a device are forced to enrol or are refused). The stack config model
  refuses to emit such a stage through the same `mfa_block_reason`.
- `authentik-blueprint-format`: blueprints must be in the format of the authentik release the Flux repo
  pins (rules/authentik_release.py: on 2023.10 redirect URIs are one string of regex lines and there is
  no invalidation flow; from 2024.10.3 they are a list of `{matching_mode, url}` next to a required
  `invalidation_flow`), be structurally valid (`validate_blueprint`) and pass the serializer rules we
  know of (`serializer_problems`). The live Flux blueprint (authentik/authentik-blueprint-longhorn) is
  in the 2023.10 format, but its entries have no identifiers, which 2023.10.7 refuses too (ADR 0024).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import yaml

import facts
from rules.authentik_release import Release, format_problems, release_for, unsupported
from rules.blueprint_yaml import Tag, loads

from . import Config, Finding, Severity, object_name

RULE_MFA = "authentik-mfa"
RULE_FORMAT = "authentik-blueprint-format"

MFA_STAGE_MODEL = "authentik_stages_authenticator_validate.authenticatorvalidatestage"
OAUTH2_PROVIDER_MODEL = "authentik_providers_oauth2.oauth2provider"
MFA_ENFORCING_ACTIONS = frozenset({"configure", "deny"})
STABILITY_DAYS = 30  # the directive's number; config may only raise it


# --- the 2FA prohibition as pure functions -------------------------------------------------------


def mfa_allowed_from(since: date | None, required_days: int = STABILITY_DAYS) -> date | None:
    """First day MFA may be enforced, or None while no stability start is recorded."""
    return None if since is None else since + timedelta(days=required_days)


def mfa_block_reason(
    action: str | None, since: date | None, required_days: int = STABILITY_DAYS, *, on: date
) -> str | None:
    """Why enforcing MFA with `not_configured_action: action` is prohibited on day `on`, else None."""
    if action not in MFA_ENFORCING_ACTIONS:
        return None
    allowed = mfa_allowed_from(since, required_days)
    if allowed is None:
        return (
            f"not_configured_action: {action} enforces MFA, but no stability start date is recorded; "
            "set authentik.stability.since (directive prohibition 1)"
        )
    if on < allowed:
        return (
            f"not_configured_action: {action} enforces MFA before {allowed.isoformat()} "
            f"({required_days} days after stability since {since.isoformat()}); directive prohibition 1 "
            "forbids 2FA before 30-day stability; use skip until then"
        )
    return None


# --- parsing and structural validation ----------------------------------------------------------


def parse_blueprint(text: str) -> dict | None:
    """The blueprint in `text` (authentik tags kept as `Tag`s), or None when it is not one.

    "Is a blueprint" means: YAML that parses to a mapping with an `entries` key. Anything else
    (other config files, broken YAML) is not our business and yields None.
    """
    try:
        doc = loads(text)
    except yaml.YAMLError:
        return None
    return doc if isinstance(doc, dict) and "entries" in doc else None


def _key_of_refs(value: Any) -> Iterator[str]:
    if isinstance(value, Tag):
        if value.name == "KeyOf" and isinstance(value.value, str):
            yield value.value
        yield from _key_of_refs(value.value)
    elif isinstance(value, dict):
        for child in value.values():
            yield from _key_of_refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _key_of_refs(child)


def validate_blueprint(doc: Any) -> list[str]:
    """Structural problems of a blueprint document; [] when authentik would accept its shape."""
    if not isinstance(doc, dict):
        return ["blueprint is not a mapping"]
    problems: list[str] = []
    if doc.get("version") != 1:
        problems.append(f"version must be 1, got {doc.get('version')!r}")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        problems.append("metadata.name is required (authentik names the blueprint instance after it)")
    entries = doc.get("entries")
    if not isinstance(entries, list) or not entries:
        problems.append("entries must be a non-empty list")
        return problems
    seen_ids: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"entries[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} is not a mapping")
            continue
        model = entry.get("model")
        if not isinstance(model, str) or model.count(".") != 1:
            problems.append(f"{where}.model must be 'app_label.model', got {model!r}")
        identifiers = entry.get("identifiers")
        if not isinstance(identifiers, dict) or not identifiers:
            problems.append(f"{where} ({model}) has no identifiers; authentik cannot find or update it")
        # !KeyOf resolves only entries defined earlier in the same blueprint.
        for ref in _key_of_refs(entry.get("attrs")):
            if ref not in seen_ids:
                problems.append(f"{where}: !KeyOf {ref} does not name an earlier entry id")
        entry_id = entry.get("id")
        if isinstance(entry_id, str):
            if entry_id in seen_ids:
                problems.append(f"{where}: duplicate id {entry_id}")
            seen_ids.add(entry_id)
    return problems


def pinned_release(config: Config = None) -> tuple[Release | None, str, str]:
    """(format, version, source) of the authentik release the cluster runs: the validated config's (read
    from the facts when it was validated), else the facts' own; the format is None when none covers it."""
    if config is not None:
        pinned = config.authentik.pinned
        return pinned.release, pinned.version, pinned.source
    release = facts.load().release("authentik", "authentik")
    version = release.app_version or release.version
    source = release.app_version_source or release.version_source
    return release_for(version), version, source


def pinned_format_problems(doc: dict, pinned: tuple[Release | None, str, str]) -> list[str]:
    """Attributes of `doc` that the pinned authentik release (`pinned_release`) does not read as written."""
    release, version, source = pinned
    return [unsupported(version, source)] if release is None else format_problems(release, doc)


def serializer_problems(doc: dict) -> list[str]:
    """Entries authentik's serializers refuse although their shape is valid; one of them reverts the whole
    blueprint (it is applied in one transaction). AuthenticatorValidateStageSerializer refuses
    `not_configured_action: configure` without `configuration_stages` (docs/upstream-facts.md)."""
    problems: list[str] = []
    for i, entry in enumerate(doc.get("entries") or []):
        if (
            not isinstance(entry, dict)
            or entry.get("state") == "absent"
            or entry.get("model") != MFA_STAGE_MODEL
        ):
            continue
        attrs = entry.get("attrs") if isinstance(entry.get("attrs"), dict) else {}
        if attrs.get("not_configured_action") == "configure" and not attrs.get("configuration_stages"):
            problems.append(
                f"entries[{i}] ({MFA_STAGE_MODEL}) has not_configured_action: configure but no "
                "configuration_stages; authentik refuses it and reverts the whole blueprint"
            )
    return problems


def blueprints_in(obj: dict) -> Iterator[tuple[str, dict]]:
    """(path, blueprint) for every ConfigMap/Secret value that parses as a blueprint."""
    kind = obj.get("kind")
    sources: list[tuple[str, dict, bool]] = []
    if kind == "ConfigMap":
        sources.append(("data", obj.get("data") or {}, False))
    elif kind == "Secret":
        sources.append(("stringData", obj.get("stringData") or {}, False))
        sources.append(("data", obj.get("data") or {}, True))
    for field, values, encoded in sources:
        if not isinstance(values, dict):
            continue
        for key, raw in values.items():
            if not isinstance(raw, str):
                continue  # unknown during preview, or not text
            text = raw
            if encoded:
                try:
                    text = base64.b64decode(raw, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    continue
            doc = parse_blueprint(text)
            if doc is not None:
                yield f"{field}.{key}", doc


# --- the rules ------------------------------------------------------------------------------------


def check_mfa(obj: dict, config: Config, on: date | None = None) -> list[Finding]:
    """`authentik-mfa`: no MFA-enforcing authenticator-validate stage before since + 30 days, judged on
    day `on`, by default the day the config was validated (`config.judged_on`)."""
    stability = config.authentik.stability
    findings = []
    for path, doc in blueprints_in(obj):
        for i, entry in enumerate(doc.get("entries") or []):
            if not isinstance(entry, dict) or entry.get("model") != MFA_STAGE_MODEL:
                continue
            if entry.get("state") == "absent":
                continue
            attrs = entry.get("attrs") if isinstance(entry.get("attrs"), dict) else {}
            reason = mfa_block_reason(
                attrs.get("not_configured_action"),
                stability.since,
                stability.required_days,
                on=on or config.judged_on,
            )
            if reason:
                findings.append(
                    Finding(
                        RULE_MFA,
                        f"{object_name(obj)}: {reason}",
                        Severity.MANDATORY,
                        f"{path}.entries[{i}].attrs.not_configured_action",
                    )
                )
    return findings


def check_blueprint_format(obj: dict, config: Config) -> list[Finding]:
    """`authentik-blueprint-format`: structurally valid blueprints in the pinned release's format."""
    findings = []
    for path, doc in blueprints_in(obj):
        format_ = pinned_format_problems(doc, pinned_release(config))
        problems = validate_blueprint(doc) + format_ + serializer_problems(doc)
        for problem in problems:
            findings.append(Finding(RULE_FORMAT, f"{object_name(obj)}: {problem}", Severity.MANDATORY, path))
    return findings


__all__ = [
    "MFA_ENFORCING_ACTIONS",
    "MFA_STAGE_MODEL",
    "OAUTH2_PROVIDER_MODEL",
    "RULE_FORMAT",
    "RULE_MFA",
    "STABILITY_DAYS",
    "blueprints_in",
    "check_blueprint_format",
    "check_mfa",
    "mfa_allowed_from",
    "mfa_block_reason",
    "parse_blueprint",
    "pinned_format_problems",
    "pinned_release",
    "serializer_problems",
    "validate_blueprint",
]
