"""Whether the GPU admission binding may Deny: a pure function of (config, facts, live workloads), ADR 0030.

A Deny binding refuses every pod its CEL refuses, including the pods a controller recreates for a workload
that already runs: a Deployment whose template the policy refuses is an outage waiting for its next pod.
So the binding denies only once no live workload would be refused:

- every GPU workload the Flux repo deploys (facts.gpu_workloads, each with its file:line), and
- when the target can be read (components.gpu.live_workloads), every pod template and live pod on it,

each judged by rules.gpu.admission_refusals, the CEL's clauses in Python. While one would be refused the
binding is [Warn, Audit]: the API server admits the pod and returns the policy's message as a warning
(kubectl prints it, the audit log records it), and the stack names the workload in one advisory line.
An unreadable target is no proof that nothing would be refused: [Warn, Audit] too, and the summary says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.gpu.live_workloads import LiveWorkloads
from facts.model import Facts, GpuWorkload
from rules import object_name
from rules.gpu import admission_refusals

DENY = ("Deny",)
WARN = ("Warn", "Audit")


@dataclass(frozen=True)
class Refused:
    """A live workload the policy would refuse, where it comes from, and the policy's reason."""

    workload: str  # "HelmRelease media/jellyfin", "Deployment media/jellyfin"
    where: str  # the Flux repo's file:line, or "live on <target>"
    reason: str

    def line(self, actions: tuple[str, ...]) -> str:
        return (
            f"GPU admission stays [{', '.join(actions)}]: {self.workload} ({self.where}) would be refused: "
            f"{self.reason}"
        )


@dataclass(frozen=True)
class Enforcement:
    actions: tuple[str, ...]
    why: str
    refused: tuple[Refused, ...] = ()
    unreadable: str | None = None

    def advisories(self) -> list[str]:
        lines = [r.line(self.actions) for r in self.refused]
        if self.unreadable is not None:
            lines.append(
                f"GPU admission stays [{', '.join(self.actions)}]: the target cluster could not be read "
                f"({self.unreadable}); it denies only once every live workload is known to pass"
            )
        return lines


def fact_pod(workload: GpuWorkload) -> dict[str, Any]:
    """The pod a HelmRelease of the facts makes: its GPU requests and its priority class."""
    requests = {k: str(v) for k, v in workload.requests.items()}
    spec: dict[str, Any] = {
        "containers": [{"name": workload.name, "resources": {"requests": requests, "limits": requests}}]
    }
    if workload.priority_class:
        spec["priorityClassName"] = workload.priority_class
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": spec,
    }


def _reason(message: str, who: str) -> str:
    return message[len(who) + 2 :] if message.startswith(who + ": ") else message


def refusals(config: Any, facts: Facts, live: LiveWorkloads) -> list[Refused]:
    """Every live workload (the facts' deployed GPU releases, the target's templates and pods) the policy
    would refuse, one entry per workload with its first reason."""
    out: list[Refused] = []
    for workload in facts.gpu_workloads:
        if not workload.deployed:
            continue
        pod = fact_pod(workload)
        found = admission_refusals(pod, config)
        if found:
            where = workload.priority_class_source or workload.requests_source
            reason = _reason(found[0].message, object_name(pod))
            out.append(Refused(f"HelmRelease {workload.namespace}/{workload.name}", where, reason))
    for obj in live.objects:
        found = admission_refusals(obj, config)
        if found:
            who = object_name(obj)
            out.append(Refused(who, f"live on {live.target or 'the target'}", _reason(found[0].message, who)))
    return out


def decide(config: Any, facts: Facts, live: LiveWorkloads) -> Enforcement:
    """The binding's validationActions: [Deny] only when the target was read and nothing live would be
    refused; otherwise [Warn, Audit], with the reason (ADR 0030)."""
    refused = tuple(refusals(config, facts, live))
    if refused:
        names = ", ".join(r.workload for r in refused)
        why = f"{len(refused)} live workload(s) would be refused ({names}); Deny once they are fixed"
        return Enforcement(WARN, why, refused, live.unreadable)
    if live.unreadable is not None:
        why = f"the target cluster could not be read ({live.unreadable}); never Deny blindly"
        return Enforcement(WARN, why, (), live.unreadable)
    checked = len(live.objects) + sum(1 for w in facts.gpu_workloads if w.deployed)
    why = (
        f"no live workload would be refused ({checked} checked: the Flux repo's GPU releases, {live.target})"
    )
    return Enforcement(DENY, why)
