"""Before a claim is replaced: a bounded wait until no pod uses it, naming the pod that still does.

The pvc-protection controller keeps a deleted claim (Terminating) while any *scheduled* pod names it,
whatever that pod's phase: a completed Job pod holds the claim as firmly as a running one. A claim stuck
Terminating blocks the claim of the same name that cutover creates, with the owners at 0. So cutover
registers one `ClaimFree` check per claim, and the claim's replacement depends on it: the check waits
(bounded) and fails the `up` with the pods' names, before anything is deleted.

`users` and `wait_until_free` are pure (the pod list and the clock are passed in); `ClaimFree` is the
Pulumi dynamic resource that runs them against the target cluster ($KUBECONFIG) during `up`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

WAIT_SECONDS = 120
CHECKED = "k3s-home.fletcherlabs.net/checked-free"  # on the recreated claim: which check let it through
POLL_SECONDS = 2.0


class ClaimInUse(Exception):
    """The claim still has a user pod after the bounded wait."""


def users(pods: Iterable[dict[str, Any]], claim: str) -> list[str]:
    """`name (phase[, Job owner])` of every scheduled pod whose volumes name `claim`, as pvc-protection
    counts them: any phase, Succeeded and Failed included."""
    out = []
    for pod in pods:
        spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
        if not spec.get("nodeName"):
            continue
        names = [(v.get("persistentVolumeClaim") or {}).get("claimName") for v in spec.get("volumes") or []]
        if claim not in names:
            continue
        phase = (pod.get("status") or {}).get("phase") or "Unknown"
        jobs = [o["name"] for o in meta.get("ownerReferences") or [] if o.get("kind") == "Job"]
        owner = f", Job {jobs[0]}" if jobs else ""
        out.append(f"{meta.get('name')} ({phase}{owner})")
    return sorted(out)


def wait_until_free(
    list_pods: Callable[[], list[dict[str, Any]]],
    namespace: str,
    claim: str,
    timeout: float = WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once no pod uses the claim; raise ClaimInUse naming the pods after `timeout` seconds."""
    deadline = clock() + timeout
    while True:
        held = users(list_pods(), claim)
        if not held:
            return
        if clock() >= deadline:
            raise ClaimInUse(
                f"claim {namespace}/{claim} is still used by pod {', '.join(held)} after {timeout:.0f} s; "
                "it would stay Terminating if replaced. Nothing was deleted. A Job pod goes with phase "
                "detach; an owner pod goes when its StatefulSet or Deployment is at 0 (phase copy)"
            )
        sleep(POLL_SECONDS)


def _cluster_pods(namespace: str) -> Callable[[], list[dict[str, Any]]]:
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import Pod

    config = KubeConfig.from_file(os.environ["KUBECONFIG"]) if os.environ.get("KUBECONFIG") else None
    client = Client(config, timeout=15) if config else Client(timeout=15)
    return lambda: [p.to_dict() for p in client.list(Pod, namespace=namespace)]


class _ClaimFreeProvider(ResourceProvider):
    def create(self, props):
        wait_until_free(
            _cluster_pods(props["namespace"]), props["namespace"], props["claim"], float(props["timeout"])
        )
        key = f"{props['namespace']}/{props['claim']}"
        return CreateResult(id_=key, outs={**props, "checked": key})

    def diff(self, _id, olds, news):
        # A check, not a thing: it ran when created; nothing to change afterwards.
        return DiffResult(changes=False)


class ClaimFree(Resource, module="k3s-home", name="ClaimFree"):
    """`pulumi-python:dynamic/k3s-home:ClaimFree`: created only when the claim has no user pod.

    `checked` (`namespace/claim`) is known only once the check passed. The recreated claim carries it in
    an annotation: a real data dependency, and an input unknown at preview, so the provider does not
    dry-run the claim's create against the live claim of the same name that cutover deletes first."""

    checked: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        namespace: str,
        claim: str,
        timeout: float = WAIT_SECONDS,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(
            _ClaimFreeProvider(),
            name,
            {"namespace": namespace, "claim": claim, "timeout": timeout, "checked": None},
            opts,
        )
