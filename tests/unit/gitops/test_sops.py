"""Encryption with the real sops binary and the target repo's own creation rules, a throwaway age key."""

from __future__ import annotations

from pathlib import Path

import pyrage
import pytest
import yaml

from gitops import sops
from gitops.layout import File
from gitops.render import Refusal, final_bytes

# The real repo's rules (sudoflux/flux-k3s .sops.yaml), with a throwaway recipient in place of its own.
SOPS_YAML = """creation_rules:
  - path_regex: .*secret.*\\.yaml$
    encrypted_regex: ^(data|stringData)$
    age: {recipient}
  - path_regex: .*\\.enc\\.yaml$
    age: {recipient}
"""
SECRET = """---
apiVersion: v1
data:
  password: c2VjcmV0LXZhbHVlLTQyNDI0Mg==
kind: Secret
metadata:
  name: app-sso
  namespace: media
type: Opaque
"""
PLAIN_VALUE = "c2VjcmV0LXZhbHVlLTQyNDI0Mg=="


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    identity = pyrage.x25519.Identity.generate()
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".sops.yaml").write_text(SOPS_YAML.format(recipient=identity.to_public()))
    monkeypatch.setenv("SOPS_AGE_KEY", str(identity))
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    return root


@pytest.fixture
def private(tmp_path: Path) -> Path:
    path = tmp_path / "private"
    path.mkdir(mode=0o700)
    return path


def test_only_data_is_encrypted_and_it_decrypts_to_the_plaintext(repo: Path, private: Path) -> None:
    rel = "clusters/k3s-home/apps/x/secret-media-app-sso.yaml"
    data = final_bytes(File(rel, SECRET, secret=True), repo, private)
    doc = yaml.safe_load(data)
    assert PLAIN_VALUE.encode() not in data
    assert doc["data"]["password"].startswith("ENC[AES256_GCM,")
    assert doc["metadata"] == {"name": "app-sso", "namespace": "media"}  # readable in review
    assert doc["sops"]["encrypted_regex"] == "^(data|stringData)$"
    target = repo / rel
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    assert sops.decrypted_docs(target, repo) == [yaml.safe_load(SECRET)]
    assert list(private.rglob("*.yaml")) == []  # the plaintext copy is gone


def test_unchanged_plaintext_keeps_the_ciphertext_byte_for_byte(repo: Path, private: Path) -> None:
    rel = "clusters/k3s-home/apps/x/secret-media-app-sso.yaml"
    target = repo / rel
    target.parent.mkdir(parents=True)
    target.write_bytes(final_bytes(File(rel, SECRET, secret=True), repo, private))
    before = target.read_bytes()
    assert final_bytes(File(rel, SECRET, secret=True), repo, private) == before
    changed = SECRET.replace(PLAIN_VALUE, "b3RoZXItdmFsdWU=")
    again = final_bytes(File(rel, changed, secret=True), repo, private)
    assert again != before
    target.write_bytes(again)
    assert sops.decrypted_docs(target, repo) == [yaml.safe_load(changed)]


def test_without_the_key_an_existing_file_is_re_encrypted_not_trusted(
    repo: Path, private: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = "clusters/k3s-home/apps/x/secret-media-app-sso.yaml"
    target = repo / rel
    target.parent.mkdir(parents=True)
    target.write_bytes(final_bytes(File(rel, SECRET, secret=True), repo, private))
    monkeypatch.setenv("SOPS_AGE_KEY", str(pyrage.x25519.Identity.generate()))  # not the recipient's
    assert sops.decrypted_docs(target, repo) is None
    assert final_bytes(File(rel, SECRET, secret=True), repo, private) != target.read_bytes()


def test_a_path_no_rule_matches_fails_closed(repo: Path, private: Path) -> None:
    with pytest.raises(sops.SopsError, match=r"could not encrypt clusters/x/credentials\.yaml"):
        final_bytes(File("clusters/x/credentials.yaml", SECRET, secret=True), repo, private)


def test_ordinary_files_are_written_as_rendered(repo: Path, private: Path) -> None:
    text = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    assert final_bytes(File("clusters/x/configmaps.yaml", text), repo, private) == text.encode()


def test_a_rule_that_skips_data_leaves_plaintext_and_the_render_refuses(
    repo: Path, private: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real sops, a `.sops.yaml` whose encrypted_regex is ^(stringData)$: it exits 0, writes a valid
    sops block and leaves data.password in plaintext. Fail closed, naming the file and the key."""
    identity = pyrage.x25519.Identity.generate()
    rules = SOPS_YAML.replace("^(data|stringData)$", "^(stringData)$").format(recipient=identity.to_public())
    (repo / ".sops.yaml").write_text(rules)
    monkeypatch.setenv("SOPS_AGE_KEY", str(identity))
    rel = "clusters/k3s-home/apps/x/secret-media-app-sso.yaml"
    raw = sops.encrypt(_plain(repo.parent, SECRET), repo, rel)  # what sops really hands back
    [doc] = yaml.safe_load_all(raw)
    assert sops.written_by_sops(doc) and doc["data"]["password"] == PLAIN_VALUE
    assert not sops.is_encrypted(doc) and sops.plaintext_keys(doc) == ["data.password"]
    with pytest.raises(Refusal) as refused:
        final_bytes(File(rel, SECRET, secret=True), repo, private)
    assert str(refused.value) == (
        f"{rel}: sops left data.password in plaintext (the repo's .sops.yaml encrypted_regex must cover "
        "data and stringData); nothing written"
    )
    assert list(private.rglob("*.yaml")) == []  # the plaintext copy is gone all the same


@pytest.mark.parametrize(
    ("doc", "plain"),
    [
        ({"kind": "Secret", "data": {"a": "ENC[AES256_GCM,data:x]"}, "stringData": {"b": "ENC[x]"}}, []),
        ({"kind": "Secret", "data": {"a": "ENC[x]", "b": "cGxhaW4="}}, ["data.b"]),
        ({"kind": "Secret", "stringData": {"token": "plain"}}, ["stringData.token"]),
        ({"kind": "Secret", "stringData": {"n": 42}}, ["stringData.n"]),  # not even a string
        ({"kind": "Secret", "data": "cGxhaW4="}, ["data"]),  # not a map: nothing sops encrypts
        ({"kind": "Secret", "type": "Opaque"}, []),  # no values at all
        ({"kind": "ConfigMap", "data": {"a": "b"}}, []),  # not a Secret: plaintext by design
    ],
)
def test_plaintext_keys_of_secrets(doc: dict, plain: list[str]) -> None:
    assert sops.plaintext_keys(doc) == plain
    signed = {**doc, "sops": {"mac": "ENC[x]"}}
    assert sops.is_encrypted(signed) is (plain == [])
    assert not sops.is_encrypted(doc)  # no sops block: never encrypted


def _plain(where: Path, text: str) -> Path:
    path = where / "plain.yaml"
    path.write_text(text)
    return path


def _sops_exits(monkeypatch: pytest.MonkeyPatch, code: int, stderr: bytes) -> None:
    """The sops binary faked at its boundary: the process exits `code` with `stderr`."""
    import subprocess

    def run(args, **kwargs):
        return subprocess.CompletedProcess(args, code, b"", stderr)

    monkeypatch.setattr(sops.subprocess, "run", run)


@pytest.mark.parametrize("code", [1, 128, -9])  # -9: killed by a signal, which is no success either
def test_any_non_zero_exit_is_a_refusal_with_sops_last_line(
    repo: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    _sops_exits(monkeypatch, code, b"config loaded\n\n  error: no matching creation rules found  \n\n")
    with pytest.raises(sops.SopsError) as refused:
        sops.decrypt(repo / "x.yaml", repo)
    assert str(refused.value) == "sops could not decrypt x.yaml: error: no matching creation rules found"


def test_a_refusal_without_a_message_says_so(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sops_exits(monkeypatch, 1, b"\n \n")
    with pytest.raises(sops.SopsError, match=r"^sops could not decrypt x\.yaml: no message$"):
        sops.decrypt(repo / "x.yaml", repo)


def test_every_field_of_a_secret_is_checked_after_a_broken_one() -> None:
    doc = {"kind": "Secret", "data": "cGxhaW4=", "stringData": {"token": "plain", "ok": "ENC[x]"}}
    assert sops.plaintext_keys(doc) == ["data", "stringData.token"]


@pytest.mark.parametrize("kind", ["ServiceAccount", "StatefulSet", "ConfigMap", "Deployment"])
def test_only_secrets_are_held_to_ciphertext(kind: str) -> None:
    assert sops.plaintext_keys({"kind": kind, "data": {"a": "b"}, "stringData": {"c": "d"}}) == []
