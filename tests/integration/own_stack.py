"""A stack of a test's own on the shared embedded cluster: its run directory, and a teardown that leaves
the cluster as the next test expects it (what Flux keeps live, and nothing the stack created).

The gated destroy keeps what is retained on delete (the generated credentials' Secrets, among others):
right for a real cluster, but a later test's fresh stack would find them as collisions, so the teardown
deletes every object the stack created that is still there. Adopted objects stay, as Flux left them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lightkube.core.exceptions import ApiError, LoadResourceError
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_global_resource, create_namespaced_resource


def env_for(run_dir: Path) -> dict[str, str]:
    (run_dir / "state").mkdir(parents=True, exist_ok=True)
    return {"K3S_HOME_RUN_DIR": str(run_dir), "PULUMI_BACKEND_URL": f"file://{run_dir}/state"}


def created(events: Path) -> dict[str, dict]:
    """URN -> inputs of each Kubernetes object the preview plans to create (not adopt)."""
    out = {}
    for line in events.read_text().splitlines():
        meta = json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
        if meta.get("op") == "create" and meta.get("type", "").startswith("kubernetes:"):
            out[meta["urn"]] = meta["new"]["inputs"]
    return out


def resource_class(obj: dict):
    """The lightkube class of a Kubernetes object: the built-in one, else a generic one (CRDs)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    kind = obj["kind"]
    try:
        return resource_registry.load(obj["apiVersion"], kind)
    except LoadResourceError:
        plural = kind.lower() + ("es" if kind.endswith("s") else "s")
        make = create_namespaced_resource if obj["metadata"].get("namespace") else create_global_resource
        return make(group, version, kind, plural)


def exists(kube, obj: dict) -> bool:
    try:
        kube.get(resource_class(obj), obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))
    except ApiError as err:
        assert err.status.code == 404, err
        return False
    return True


def delete(kube, obj: dict) -> None:
    kube.delete(resource_class(obj), obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))


def teardown(stack: Callable, env: dict[str, str], kube, objects: dict[str, dict]) -> None:
    """The gated destroy with the acknowledgements it asks for, then the created objects it retained."""
    refused = stack("destroy", "--yes", env=env)
    blocked = [line.split()[3] for line in refused.stdout.splitlines() if line.startswith("!! delete")]
    if refused.returncode != 0 and blocked:
        stack("destroy", "--yes", *(a for n in blocked for a in ("--ack", n)), env=env)
    for obj in objects.values():
        if exists(kube, obj):
            delete(kube, obj)
