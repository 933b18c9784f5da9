"""What the render remembers about the Secret files it wrote, so that a render with nothing changed leaves
each of them byte for byte, with or without the age identity (ADR 0023).

sops encrypts with a fresh data key and IV every time, so the same plaintext never gives the same file
twice; without the age identity the render cannot decrypt a file to see that it is unchanged. The render
state (`<run>/render/secret-digests.json`, mode 600, beside the render's Pulumi state) therefore records,
per Secret file it wrote:

- `plaintext`: HMAC-SHA256 of the file's plaintext documents (canonical JSON), keyed with a random key kept
  in the same state file. Never the plaintext, nor an unkeyed hash of it that could be checked against
  guesses by anyone reading the state or a log.
- `file`: SHA-256 of the encrypted bytes written, so a file someone else changed (a re-key, a checkout of
  another revision) is not taken for the one the render wrote.

A file is kept when both match; otherwise the render decrypts to compare (when it can) or encrypts anew.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "secret-digests.json"
KEY_BYTES = 32


def canonical(docs: list[dict]) -> bytes:
    """The documents as one byte string that does not depend on key order or YAML layout."""
    return json.dumps(docs, sort_keys=True, separators=(",", ":"), default=str).encode()


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class SecretDigests:
    path: Path
    key: bytes
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, render_dir: Path) -> SecretDigests:
        """The recorded digests, or an empty record with a new key when there are none or they are unreadable
        (every Secret is then compared by decryption or encrypted anew, as without this state)."""
        path = render_dir / STATE_FILE
        try:
            doc = json.loads(path.read_text())
            key = bytes.fromhex(doc["key"])
            files = {
                str(rel): {"plaintext": str(entry["plaintext"]), "file": str(entry["file"])}
                for rel, entry in doc["files"].items()
            }
            if len(key) != KEY_BYTES:
                raise ValueError("short key")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(path, secrets.token_bytes(KEY_BYTES))
        return cls(path, key, files)

    def digest(self, relpath: str, docs: list[dict]) -> str:
        """Keyed digest of a Secret file's plaintext documents at `relpath` in the repo."""
        message = relpath.encode() + b"\0" + canonical(docs)
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def unchanged(self, relpath: str, plaintext_digest: str, current: bytes) -> bool:
        """True when `current` is the file the render wrote for exactly this plaintext."""
        entry = self.files.get(relpath)
        if entry is None:
            return False
        return hmac.compare_digest(entry["plaintext"], plaintext_digest) and hmac.compare_digest(
            entry["file"], file_digest(current)
        )

    def save(self, written: dict[str, tuple[str, bytes]]) -> None:
        """Record exactly these Secret files (path -> (plaintext digest, bytes in the repo)), replacing the
        previous record atomically; the file is readable by this user only."""
        self.files = {rel: {"plaintext": d, "file": file_digest(data)} for rel, (d, data) in written.items()}
        doc = {"key": self.key.hex(), "files": dict(sorted(self.files.items()))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secret-digests-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
