"""Who owns each object the directive changes, and each field of it: today and wanted (ADR 0029).

Today's owner is a fact: the Flux file (`file:line`) that declares the object, from `facts.load().owner`
(`facts/k3s-home.yaml`, objects). The wanted owner is a decision of the stack config:

- **Flux keeps it** (`k3s-home:cluster.fluxKeeps`, and every GPU workload's HelmRelease, which the stack
  never builds): the directive's fields are edits of that file (`flux.edits`, `make render FLUX_REPO=DIR`);
  the stack registers nothing for it in either mode.
- **Handed over to the stack** (`k3s-home:cluster.adopt`, ADR 0003): imported as live today, which changes
  nothing in the cluster; its fields become the stack's only at step 2 (removed from Flux with
  `kustomize.toolkit.fluxcd.io/prune: disabled` first). Not done by this change: listed with its step.

Pure: config and facts in, rows out. `make owners` prints them (gitops/owners.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import StackConfig
from facts.model import Facts

FLUX_EDIT = "Flux (edit its file: make render FLUX_REPO=DIR)"
HANDOVER = "the stack (handover, ADR 0003 step 2)"


@dataclass(frozen=True)
class Ownership:
    ref: str  # Kind/namespace/name or Kind/name
    fields: str  # what the directive changes in it
    today: str  # the Flux file:line that declares it, or what else applies it
    wanted: str
    step: str

    def __str__(self) -> str:
        return f"{self.ref} [{self.fields}]: {self.today} -> {self.wanted}\n     {self.step}"


def _ref(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def _split(ref: str) -> tuple[str, str | None, str]:
    parts = ref.split("/")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else (parts[0], None, parts[1])


def today(facts: Facts, kind: str, name: str, namespace: str | None) -> str:
    owner = facts.owner(kind, name, namespace)
    return f"Flux {owner.source} ({owner.kustomization})" if owner else "no Flux file"


def _priority_class(config: StackConfig, facts: Facts, name: str) -> Ownership:
    pc = config.gpu.priority_class(name)
    live = next((p for p in facts.priority_classes if p.name == name and p.deployed), None)
    if live is not None and live.value != pc.value:
        step = (
            f"value {live.value} -> {pc.value} is immutable: the edit adds "
            "kustomize.toolkit.fluxcd.io/force: enabled, so kustomize-controller deletes and "
            "recreates the class; pods naming it are refused "
            "while it is missing: merge in a quiet window, then restart the workloads that name it"
        )
    else:
        step = "merge the edit; Flux applies it in place"
    return Ownership(
        _ref("PriorityClass", None, name),
        "value, description, globalDefault",
        today(facts, "PriorityClass", name, None),
        FLUX_EDIT,
        step,
    )


def decide(config: StackConfig, facts: Facts) -> list[Ownership]:
    """One row per object the directive changes, Flux-kept first, then the handovers."""
    rows: list[Ownership] = []
    mon, dcgm = config.gpu.monitoring, config.gpu.monitoring.dcgm_exporter
    for ref in config.cluster.flux_keeps:
        kind, namespace, name = _split(ref)
        now = today(facts, kind, name, namespace)
        if kind == "PriorityClass":
            rows.append(_priority_class(config, facts, name))
        elif kind == "ResourceQuota":
            rows.append(
                Ownership(
                    ref,
                    "spec.hard: requests.<gpu> at the tenant's caps, limits.<gpu> removed",
                    now,
                    FLUX_EDIT,
                    "merge the edit; Flux applies it in place (quota keys are mutable)",
                )
            )
        elif (kind, namespace, name) == ("HelmRelease", mon.namespace, dcgm.release_name):
            rows.append(
                Ownership(
                    ref,
                    "values.serviceMonitor (enabled, additionalLabels)",
                    now,
                    FLUX_EDIT,
                    "merge the edit (none when already so); the stack ships no ServiceMonitor of its own",
                )
            )
            rows.append(
                Ownership(
                    _ref("ServiceMonitor", mon.namespace, dcgm.release_name),
                    "the whole object",
                    f"the {dcgm.chart} chart of {now}",
                    f"the {dcgm.chart} chart (Flux's HelmRelease)",
                    "one owner: the stack no longer renders or registers a ServiceMonitor of this name",
                )
            )
        else:
            rows.append(Ownership(ref, "none of the directive's", now, "Flux (as it is)", "nothing to do"))
    for w in facts.gpu_workloads:
        tenant = config.gpu.tenant(w.namespace)
        if tenant is None or not w.deployed:
            continue
        have = w.priority_class or "none"
        step = (
            "merge the edit; helm-controller upgrades the release and the pods restart with the class"
            if have != tenant.priority_class_name
            else "already so"
        )
        rows.append(
            Ownership(
                _ref("HelmRelease", w.namespace, w.name),
                f"values priorityClassName: {have} -> {tenant.priority_class_name}"
                f" ({w.priority_class_source or w.requests_source})",
                today(facts, "HelmRelease", w.name, w.namespace),
                FLUX_EDIT,
                step,
            )
        )
    for ref in config.cluster.adopt:
        kind, namespace, name = _split(ref)
        rows.append(
            Ownership(
                ref,
                "the stack's values",
                today(facts, kind, name, namespace),
                HANDOVER,
                "not done (adopted as live changes nothing): annotate kustomize.toolkit.fluxcd.io/prune: "
                "disabled, remove it from Flux's file and from cluster.adopt in one change",
            )
        )
    return rows
