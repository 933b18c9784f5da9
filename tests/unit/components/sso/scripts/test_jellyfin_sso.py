"""The Jellyfin configuring Job keeps what users linked: the merge as a pure function, and the Job's own
script run twice against a small fake Jellyfin that stores configs the way the SSO plugin does.

The fake mirrors SSO-Auth/Api/SSOController.cs: `POST /sso/OID/Add/<p>` replaces the provider's whole
OidConfig, `GET /sso/OID/Get` returns every provider keyed by name, both need the admin API key, and JSON
names are matched case-insensitively on input and written in PascalCase (docs/upstream-facts.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.sso.app_settings import jellyfin_oid_config
from components.sso.jellyfin_job import SCRIPT
from components.sso.scripts.jellyfin_sso import merge
from tests.unit.components.sso.keys import OID_FIELDS

API_KEY = "test-admin-key"
SECRET = "generated-client-secret-do-not-print"
ALICE = "5f0c8c1b2a6e4b7c9d3e1f2a3b4c5d6e"
BOB = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class FakeJellyfin:
    def __init__(self) -> None:
        self.configs: dict[str, dict] = {}
        self.posts = 0
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # shutdown() waits up to one poll interval (0.5 s by default) for the loop to notice.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)

    @staticmethod
    def as_oid_config(body: dict) -> dict:
        by_lower = {k.lower(): v for k, v in body.items()}
        return {name: by_lower[name.lower()] for name in OID_FIELDS if name.lower() in by_lower}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") != f'MediaBrowser Token="{API_KEY}"':
                    self.send_response(401)
                    self.end_headers()
                    return False
                return True

            def _json(self, status: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                if self.path.lower() == "/sso/oid/get":
                    self._json(200, fake.configs)
                else:
                    self._json(404, {})

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                prefix = "/sso/oid/add/"
                if not self.path.lower().startswith(prefix):
                    self._json(404, {})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.configs[self.path[len(prefix) :]] = fake.as_oid_config(body)
                fake.posts += 1
                self.send_response(204)
                self.end_headers()

        return Handler

    def __enter__(self) -> FakeJellyfin:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def jellyfin() -> Iterator[FakeJellyfin]:
    with FakeJellyfin() as fake:
        yield fake


@pytest.fixture
def desired(real_config) -> dict:
    """What the stack generates for the real Jellyfin client (the body the Job reads)."""
    (client,) = [c for c in real_config.authentik.clients if c.jellyfin]
    return jellyfin_oid_config(real_config.authentik, client, SECRET)


def run_job(jellyfin: FakeJellyfin, tmp_path: Path, config: dict, api_key: str = API_KEY):
    body = tmp_path / "oid-config.json"
    body.write_text(json.dumps(config))
    env = {
        "JELLYFIN_URL": jellyfin.url,
        "PROVIDER": "authentik",
        "JELLYFIN_API_KEY": api_key,
        "RETRIES": "2",
        "RETRY_DELAY": "0",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(body)], env=env, capture_output=True, text=True, timeout=60
    )


# --- the merge, pure -------------------------------------------------------------------------------------


def test_merge_keeps_links_and_fields_it_does_not_own(desired):
    live = {
        "OidSecret": "old",
        "CanonicalLinks": {"alice": ALICE},
        "DefaultUsernameClaim": "preferred_username",
        "SchemeOverride": None,
    }
    merged = merge(live, desired)
    assert merged["CanonicalLinks"] == {"alice": ALICE}
    assert merged["DefaultUsernameClaim"] == "preferred_username"
    assert merged["SchemeOverride"] == "https" and merged["OidSecret"] == SECRET


def test_merge_matches_keys_case_insensitively_and_keeps_one_spelling(desired):
    merged = merge({"schemeoverride": "http", "canonicalLinks": {"bob": BOB}}, desired)
    assert [k for k in merged if k.lower() == "schemeoverride"] == ["SchemeOverride"]
    assert merged["canonicalLinks"] == {"bob": BOB}


def test_merge_without_a_live_provider_is_the_generated_config(desired):
    assert merge(None, desired) == desired


def test_the_generated_config_may_not_carry_links(desired):
    with pytest.raises(ValueError, match="CanonicalLinks"):
        merge({}, {**desired, "canonicalLinks": {}})


# --- the Job's script against the fake Jellyfin ---------------------------------------------------------


def test_links_survive_two_runs_and_a_link_made_between_them(jellyfin, tmp_path, desired):
    jellyfin.configs["authentik"] = {
        "OidEndpoint": "https://old",
        "OidSecret": "old",
        "SchemeOverride": "",
        "CanonicalLinks": {"alice": ALICE},
    }
    first = run_job(jellyfin, tmp_path, desired)
    assert first.returncode == 0, first.stderr
    assert "kept 1 user link" in first.stdout
    assert jellyfin.configs["authentik"]["CanonicalLinks"] == {"alice": ALICE}
    assert jellyfin.configs["authentik"]["SchemeOverride"] == "https"

    jellyfin.configs["authentik"]["CanonicalLinks"]["bob"] = BOB  # a user links between runs
    second = run_job(jellyfin, tmp_path, desired)
    assert second.returncode == 0, second.stderr
    assert jellyfin.configs["authentik"]["CanonicalLinks"] == {"alice": ALICE, "bob": BOB}
    assert jellyfin.posts == 2
    for result in (first, second):
        assert SECRET not in result.stdout + result.stderr


def test_the_fake_reproduces_the_plugin_wiping_links_on_a_plain_post(jellyfin, tmp_path, desired):
    # What the old curl Job did: post the generated config as is. The fake must lose the links, or the
    # test above could not tell a merging Job from a replacing one.
    jellyfin.configs["authentik"] = {"CanonicalLinks": {"alice": ALICE}}
    import urllib.request

    request = urllib.request.Request(
        f"{jellyfin.url}/sso/OID/Add/authentik",
        method="POST",
        data=json.dumps(desired).encode(),
        headers={"Authorization": f'MediaBrowser Token="{API_KEY}"', "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    assert "CanonicalLinks" not in jellyfin.configs["authentik"]


def test_first_run_creates_the_provider(jellyfin, tmp_path, desired):
    result = run_job(jellyfin, tmp_path, desired)
    assert result.returncode == 0, result.stderr
    assert "kept 0 user link" in result.stdout
    assert jellyfin.configs["authentik"]["OidClientId"] == "jellyfin"


def test_an_unknown_field_name_fails_the_read_back(jellyfin, tmp_path, desired):
    result = run_job(jellyfin, tmp_path, {**desired, "SchemeOveride": "https"})
    assert result.returncode == 1
    assert "SchemeOveride" in result.stdout


def test_a_wrong_api_key_fails_without_printing_secrets(jellyfin, tmp_path, desired):
    result = run_job(jellyfin, tmp_path, desired, api_key="wrong")
    assert result.returncode == 3
    assert "HTTP 401" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "wrong" not in result.stdout + result.stderr
    assert jellyfin.posts == 0
