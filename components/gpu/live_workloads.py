"""What runs on the target cluster now: the pod templates and pods the GPU admission policy would judge.

Read once per program run (preview and up alike) from $KUBECONFIG, the cluster the kubernetes provider
talks to (k3s_home.target sets it), with a bounded timeout. When it cannot be read, `LiveWorkloads`
says why instead of raising: components.gpu.enforcement then keeps the binding at [Warn, Audit], never
Deny blindly (ADR 0030).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The kinds whose pod templates make pods, then the pods themselves.
TEMPLATE_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob")
READ_SECONDS = 20.0  # the whole read, all kinds together
REQUEST_SECONDS = 5.0  # one list call


@dataclass(frozen=True)
class LiveWorkloads:
    """The target's pod templates and pods (plain dicts with kind and apiVersion), or why there are none."""

    objects: tuple[dict[str, Any], ...] = ()
    unreadable: str | None = None  # one line: why the target could not be read; None when it was
    target: str = ""  # which cluster, for the summary
    kinds: tuple[str, ...] = field(default=())  # what was read

    @classmethod
    def not_read(cls, reason: str, target: str = "") -> LiveWorkloads:
        return cls(unreadable=reason, target=target)


def _resources() -> dict[str, Any]:
    from lightkube.resources.apps_v1 import DaemonSet, Deployment, ReplicaSet, StatefulSet
    from lightkube.resources.batch_v1 import CronJob, Job
    from lightkube.resources.core_v1 import Pod

    return {
        "Deployment": Deployment,
        "ReplicaSet": ReplicaSet,
        "StatefulSet": StatefulSet,
        "DaemonSet": DaemonSet,
        "Job": Job,
        "CronJob": CronJob,
        "Pod": Pod,
    }


def _controlled(obj: dict[str, Any]) -> bool:
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(o.get("controller") for o in owners)


def judged(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the policy's verdict depends on: the templates the next pods are made from, and the pods no
    controller makes. A pod or ReplicaSet that a controller made is judged through that controller's
    template (the Deployment's, not its ReplicaSets'); a Succeeded or Failed pod is never made again."""
    out = []
    for obj in objects:
        kind = obj.get("kind")
        if kind == "ReplicaSet" and _controlled(obj):
            continue
        if kind == "Pod":
            phase = (obj.get("status") or {}).get("phase") or "Pending"
            if _controlled(obj) or phase not in ("Pending", "Running"):
                continue
        out.append(obj)
    return out


def read(
    kubeconfig: str | None = None,
    *,
    timeout: float = READ_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> LiveWorkloads:
    """Every Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet and Pod of the target,
    cluster-wide, that `judged` keeps.

    `kubeconfig` defaults to $KUBECONFIG; without one there is no target to read (render mode, a unit
    test): that is said, not guessed from ~/.kube/config."""
    path = kubeconfig if kubeconfig is not None else os.environ.get("KUBECONFIG", "")
    path = path.split(":")[0]
    if not path:
        return LiveWorkloads.not_read("no target cluster (KUBECONFIG is not set)")
    target = path
    try:
        from lightkube import Client, KubeConfig

        client = Client(KubeConfig.from_file(path), timeout=REQUEST_SECONDS)
    except Exception as err:  # any failure to build a client: not read, said once
        return LiveWorkloads.not_read(f"cannot use {path}: {_one_line(err)}", target)
    deadline = clock() + timeout
    objects: list[dict[str, Any]] = []
    for kind, resource in _resources().items():
        if clock() > deadline:
            return LiveWorkloads.not_read(f"reading {kind}s took longer than {timeout:.0f}s", target)
        try:
            found = [
                {"kind": kind, "apiVersion": resource._api_info.resource.api_version, **obj.to_dict()}
                for obj in client.list(resource, namespace="*")
            ]
        except Exception as err:  # forbidden, timeout, refused: not read
            return LiveWorkloads.not_read(f"cannot list {kind}s: {_one_line(err)}", target)
        objects.extend(found)
    return LiveWorkloads(tuple(judged(objects)), None, target, (*TEMPLATE_KINDS, "Pod"))


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:200]
