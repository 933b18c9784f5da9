"""toolchain/live-baseline against the API server's own schemas, with strict field validation.

The seed creates these objects, and a create keeps quiet about fields the schema does not know: it drops
them. A server-side apply dry run with fieldValidation=Strict refuses them instead, so a field the real
cluster would silently lose (a pod-level field put on a container, say) fails here, naming the object.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from lightkube import KubeConfig
from lightkube.config import client_adapter

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "toolchain" / "live-baseline"
STANDINS = ROOT / "tests" / "integration" / "standins"  # seeded in the test sessions too (ADR 0025)


def _http(kubeconfig: str):
    return client_adapter.Client(KubeConfig.from_file(kubeconfig).get(), client_adapter.ConnectionParams())


def _resources(http) -> dict[tuple[str, str], tuple[str, str, bool]]:
    """(apiVersion, kind) -> (path prefix, plural, namespaced), from the server's discovery."""
    prefixes = [f"/api/{v}" for v in http.get("/api").json()["versions"]]
    prefixes += [
        f"/apis/{v['groupVersion']}" for g in http.get("/apis").json()["groups"] for v in g["versions"]
    ]
    out = {}
    for prefix in prefixes:
        for r in http.get(prefix).json()["resources"]:
            if "/" not in r["name"]:  # not a subresource
                api_version = prefix.removeprefix("/api/").removeprefix("/apis/")
                out[(api_version, r["kind"])] = (prefix, r["name"], r["namespaced"])
    return out


def test_every_baseline_object_passes_strict_server_side_validation(embedded_kubeconfig):
    http = _http(embedded_kubeconfig)
    resources = _resources(http)
    objects = [
        (path.name, doc)
        for path in [*sorted(BASELINE.glob("*.yaml")), *sorted(STANDINS.glob("*.yaml"))]
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]
    assert objects
    params = {"dryRun": "All", "fieldValidation": "Strict", "fieldManager": "strict-check", "force": "true"}
    refused = []
    for file, obj in objects:
        meta = obj["metadata"]
        prefix, plural, namespaced = resources[(obj["apiVersion"], obj["kind"])]
        assert namespaced == ("namespace" in meta), f"{file}: {obj['kind']} {meta['name']}"
        scope = f"/namespaces/{meta['namespace']}" if namespaced else ""
        reply = http.patch(
            f"{prefix}{scope}/{plural}/{meta['name']}",
            params=params,
            content=json.dumps(obj),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        if reply.status_code >= 300:
            refused.append(f"{file}: {obj['kind']} {meta['name']}: {reply.json().get('message')}")
    assert not refused, "\n".join(refused)
