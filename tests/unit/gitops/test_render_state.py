"""The render state's keyed digests of Secret plaintexts: a match keeps the file, anything else does not,
and the state never holds the plaintext (ADR 0023)."""

from __future__ import annotations

import hashlib
import json
import stat

from gitops.render_state import STATE_FILE, SecretDigests, canonical

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "grafana-oauth"},
    "stringData": {"v": "pw-1"},
}
REL = "clusters/k3s-home/apps/auth/authentik-sso/secret-auth-grafana-oauth.yaml"


def test_canonical_ignores_key_order():
    assert canonical([{"a": 1, "b": {"c": 2, "d": 3}}]) == canonical([{"b": {"d": 3, "c": 2}, "a": 1}])


def test_a_saved_digest_keeps_exactly_the_file_written_for_that_plaintext(tmp_path):
    digests = SecretDigests.load(tmp_path)
    d = digests.digest(REL, [SECRET])
    digests.save({REL: (d, b"ENC-bytes-1")})
    again = SecretDigests.load(tmp_path)
    assert again.key == digests.key
    assert again.unchanged(REL, again.digest(REL, [SECRET]), b"ENC-bytes-1")
    changed = {**SECRET, "stringData": {"v": "pw-2"}}
    assert not again.unchanged(REL, again.digest(REL, [changed]), b"ENC-bytes-1")  # plaintext changed
    assert not again.unchanged(REL, again.digest(REL, [SECRET]), b"ENC-bytes-2")  # file replaced
    assert not again.unchanged(
        "other/secret.yaml", again.digest("other/secret.yaml", [SECRET]), b"ENC-bytes-1"
    )


def test_the_state_is_private_and_holds_no_plaintext_nor_an_unkeyed_hash(tmp_path):
    digests = SecretDigests.load(tmp_path)
    digests.save({REL: (digests.digest(REL, [SECRET]), b"ENC")})
    path = tmp_path / STATE_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "pw-1" not in text and 'grafana-oauth"' not in text.replace(REL, "")
    assert hashlib.sha256(canonical([SECRET])).hexdigest() not in text
    assert set(json.loads(text)["files"]) == {REL}


def test_another_key_gives_another_digest(tmp_path):
    first, second = SecretDigests.load(tmp_path / "a"), SecretDigests.load(tmp_path / "b")
    assert first.key != second.key
    assert first.digest(REL, [SECRET]) != second.digest(REL, [SECRET])


def test_an_unreadable_state_starts_afresh(tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")
    digests = SecretDigests.load(tmp_path)
    assert digests.files == {} and len(digests.key) == 32
    (tmp_path / STATE_FILE).write_text(json.dumps({"key": "ab", "files": {}}))
    assert len(SecretDigests.load(tmp_path).key) == 32  # a short key is not trusted


def test_save_records_only_the_files_of_this_render(tmp_path):
    digests = SecretDigests.load(tmp_path)
    digests.save({REL: ("x", b"1"), "b.yaml": ("y", b"2")})
    digests.save({REL: ("x", b"1")})
    assert set(SecretDigests.load(tmp_path).files) == {REL}
