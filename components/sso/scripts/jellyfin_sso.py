#!/usr/bin/env python3
"""Configure one OpenID provider of the Jellyfin SSO plugin without losing its user links. Stdlib only.

The configuring Job runs this very file (shipped in a ConfigMap, image `python:3-alpine`), and the tests
run it against a fake Jellyfin, so what is tested is what runs.

    jellyfin_sso.py CONFIG_JSON

Environment: JELLYFIN_URL (base URL), PROVIDER (provider name), JELLYFIN_API_KEY (an admin API key),
optional RETRIES (default 10) and RETRY_DELAY (seconds, default 15) for a Jellyfin that is still starting.

The plugin's `POST /sso/OID/Add/<provider>` stores the body as the provider's whole config, so a body
without `CanonicalLinks` wipes every link between an authentik user and a Jellyfin user. This script
reads the live config (`GET /sso/OID/Get`), overlays the generated fields, posts the result, and reads it
back to prove the links survived. Secrets never reach the output: it prints counts only.

Exit codes: 0 configured, 1 read-back differs, 2 usage or bad input, 3 Jellyfin unreachable or refused.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

LINKS = "CanonicalLinks"  # provider user name -> Jellyfin user id; written only by the plugin itself


class JellyfinError(Exception):
    """Jellyfin could not be reached or answered with an error status."""


def merge(live: dict[str, Any] | None, desired: dict[str, Any]) -> dict[str, Any]:
    """The config to post: `live` with every field of `desired` overlaid; everything else kept.

    Keys compare case-insensitively (Jellyfin reads JSON that way), and the overlaid key takes the
    spelling of `desired`. `desired` must not carry the user links: they are the plugin's data.
    """
    if any(key.lower() == LINKS.lower() for key in desired):
        raise ValueError(f"the generated config must not set {LINKS}; they belong to Jellyfin")
    owned = {key.lower() for key in desired}
    kept = {key: value for key, value in (live or {}).items() if key.lower() not in owned}
    return {**kept, **desired}


def field(config: dict[str, Any] | None, name: str) -> Any:
    """`config[name]`, matching the key case-insensitively; None when absent."""
    return next((v for k, v in (config or {}).items() if k.lower() == name.lower()), None)


def links_of(config: dict[str, Any] | None) -> dict[str, Any]:
    return dict(field(config, LINKS) or {})


def _request(method: str, url: str, api_key: str, body: bytes | None = None) -> bytes:
    headers = {"Authorization": f'MediaBrowser Token="{api_key}"', "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as err:  # the body is not printed: it could echo the request
        raise JellyfinError(f"{method} {url} answered HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        raise JellyfinError(f"{method} {url} failed: {getattr(err, 'reason', err)}") from None


def _with_retries(call, retries: int, delay: float):
    for attempt in range(1, retries + 1):
        try:
            return call()
        except JellyfinError as err:
            if attempt == retries:
                raise
            print(f"attempt {attempt}/{retries}: {err}; retrying in {delay:g} s", flush=True)
            time.sleep(delay)
    raise AssertionError("unreachable")


def read_providers(base: str, api_key: str) -> dict[str, Any]:
    data = json.loads(_request("GET", f"{base}/sso/OID/Get", api_key) or b"{}")
    if not isinstance(data, dict):
        raise JellyfinError(f"GET {base}/sso/OID/Get did not return an object")
    return data


def configure(
    base: str, provider: str, api_key: str, desired: dict[str, Any], retries: int, delay: float
) -> int:
    base = base.rstrip("/")
    live = _with_retries(lambda: read_providers(base, api_key), retries, delay).get(provider)
    before = links_of(live)
    body = json.dumps(merge(live, desired)).encode()
    _with_retries(lambda: _request("POST", f"{base}/sso/OID/Add/{provider}", api_key, body), retries, delay)
    after = read_providers(base, api_key).get(provider)
    if links_of(after) != before:
        print(f"provider {provider}: user links changed by the update; check the plugin", flush=True)
        return 1
    drift = sorted(k for k, v in desired.items() if field(after, k) != v)
    if drift:
        print(f"provider {provider}: read-back differs in {', '.join(drift)}", flush=True)
        return 1
    print(f"jellyfin SSO provider {provider} configured; kept {len(before)} user link(s)", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: jellyfin_sso.py CONFIG_JSON", file=sys.stderr)
        return 2
    try:
        base, provider, api_key = (os.environ[k] for k in ("JELLYFIN_URL", "PROVIDER", "JELLYFIN_API_KEY"))
        retries = int(os.environ.get("RETRIES", "10"))
        delay = float(os.environ.get("RETRY_DELAY", "15"))
        with open(argv[0], encoding="utf-8") as handle:
            desired = json.load(handle)
        if not isinstance(desired, dict):
            raise ValueError(f"{argv[0]} must hold a JSON object")
    except (KeyError, ValueError, OSError) as err:
        print(f"bad input: {err}", file=sys.stderr)
        return 2
    try:
        return configure(base, provider, api_key, desired, max(retries, 1), delay)
    except JellyfinError as err:
        print(str(err), file=sys.stderr)
        return 3
    except ValueError as err:
        print(f"bad input: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
