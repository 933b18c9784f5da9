"""Mandatory practice 4: all secrets SOPS-encrypted, which for this program means Pulumi secrets.

A Secret's values must reach the engine as secret outputs, so the state file holds them encrypted.
Whether a value was secret is known only to the caller: the policy pack sees the engine's secret
markers, while a plain YAML file in a Flux repo is plaintext by definition (SOPS-encrypted files are
skipped before any rule runs). So the rule takes a predicate over the value's path.

Credential-looking keys in a ConfigMap, or in HelmRelease values, are likely secrets stored in the
open; that is a judgement call, so it is reported as advisory.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import Config, Finding, Severity, object_name
from .walk import helm_values, walk

RULE = "secret-plaintext"
SECRET_DATA_KEYS = ("data", "stringData")

IsSecret = Callable[[str], bool]

_CREDENTIAL_WORDS = {
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "credentials",
    "privatekey",
}
# Words that turn a credential-looking key into a reference to one (existingSecret, secretName, tokenFile...).
_REFERENCE_WORDS = {
    "name",
    "names",
    "ref",
    "file",
    "path",
    "enabled",
    "existing",
    "mount",
    "dir",
    "field",
    "length",
}
_REFERENCE_VALUE = re.compile(r"\$\{|\{\{|\$__file\{|\$__env\{|^!Env\b|^!File\b")


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    # Join the two-word spellings (api_key, private-key, clientSecret stays "secret").
    joined: list[str] = []
    for word in words:
        if joined and joined[-1] in ("api", "private") and word == "key":
            joined[-1] += "key"
        else:
            joined.append(word)
    return joined


def credential_key(key: str) -> bool:
    """True for keys like password, OAUTH_CLIENT_SECRET, api-key; False for existingSecret, secretName."""
    words = _words(key)
    if not words or words[-1] in _REFERENCE_WORDS or words[0] == "existing":
        return False
    return bool(_CREDENTIAL_WORDS & set(words))


def _plain_credential(value: object) -> bool:
    return isinstance(value, str) and value.strip() != "" and not _REFERENCE_VALUE.search(value.strip())


def secret_plaintext(obj: dict, cfg: Config, is_secret: IsSecret | None = None) -> list[Finding]:
    """`is_secret(path)` says whether the value at `data.KEY`/`stringData.KEY` was a secret output.

    Without a predicate (YAML on disk, component checks before the engine) nothing counts as secret.
    """
    kind = obj.get("kind")
    if kind == "Secret":
        return _secret_values(obj, is_secret or (lambda _path: False))
    if kind == "ConfigMap":
        return _advisories(obj, [(f"data.{k}", k, v) for k, v in (obj.get("data") or {}).items()])
    if (values := helm_values(obj)) is not None:
        return _advisories(obj, _helm_leaves(values))
    return []


def _helm_leaves(values: dict):
    """(path, key, value) for every scalar in the values, and for env-style {name, value} pairs."""
    for path, node in walk(values, "spec.values"):
        if isinstance(node, dict) and isinstance(node.get("name"), str) and "value" in node:
            yield f"{path}.value", node["name"], node["value"]
        elif not isinstance(node, dict | list):
            yield path, path.rsplit(".", 1)[-1], node


def _secret_values(obj: dict, is_secret: IsSecret) -> list[Finding]:
    findings = []
    for field in SECRET_DATA_KEYS:
        data = obj.get(field)
        if not isinstance(data, dict):
            continue
        for key, value in data.items():
            path = f"{field}.{key}"
            if value in (None, "") or is_secret(path):
                continue
            findings.append(
                Finding(
                    RULE,
                    f"{object_name(obj)}: {path} is plaintext; pass it as a Pulumi secret "
                    "(pulumi.Output.secret / a generated secret) or keep it SOPS-encrypted in Flux",
                    path=path,
                )
            )
    return findings


def _advisories(obj: dict, entries) -> list[Finding]:
    return [
        Finding(
            RULE,
            f"{object_name(obj)}: {path} looks like a credential stored in plain text; move it to a Secret",
            severity=Severity.ADVISORY,
            path=path,
        )
        for path, key, value in entries
        if isinstance(key, str) and credential_key(key) and _plain_credential(value)
    ]


# The registry passes the policy pack's predicate to this function; everything else calls it bare.
