"""The config against the cluster's facts and against the directive: each disagreement is a config error.

The config states intent; the facts (facts/k3s-home.yaml, derived from the Flux repo) say what the cluster
is, and the directive (rules/directive.py) what it must become. A value that contradicts a fact is an
error naming the key and the fact's `file:line`, unless `cluster.departures` lists the key as a deliberate
departure (a planned upgrade, say); one that departs from the directive is an error unless
`cluster.waivers` names the key and the directive's line. Departures and waivers are printed by every
preview (`departures` output), so they are reviewed, never silent.

Each check is a pure function of (config, facts) yielding (key, reason); `check` raises the first one
that no departure or waiver covers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from facts.model import Facts
from rules import directive
from rules.data_loss import Phase

from .base import KeyedValueError

if TYPE_CHECKING:
    from . import StackConfig

Key = tuple[str | int, ...]


def dotted(key: Key) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def gpu_pools(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    for i, pool in enumerate(config.gpu.pools):
        fact = facts.pool(pool.resource)
        where = ("gpu", "pools", i)
        if fact is None:
            yield (*where, "resource"), f"no device plugin in the Flux repo advertises {pool.resource}"
            continue
        if sorted(pool.nodes) != sorted(fact.nodes):
            yield (
                (*where, "nodes"),
                (
                    f"{pool.nodes} contradicts the Flux repo: {pool.resource} is on {fact.nodes} "
                    f"({fact.devices_source})"
                ),
            )
        if pool.devices_per_node != fact.devices_per_node:
            seed = f"; the seed's {fact.seed.value} ({fact.seed.source}) is older" if fact.seed else ""
            yield (
                (*where, "devicesPerNode"),
                (
                    f"{pool.devices_per_node} contradicts the Flux repo: {fact.devices_per_node} per node "
                    f"({fact.devices_source}{seed})"
                ),
            )
        sharing = ("timeSlicing", "replicas") if pool.time_slicing else ("sharedDevNum",)
        if pool.slices_per_device != fact.replicas:
            yield (
                (*where, *sharing),
                (
                    f"{pool.slices_per_device} contradicts the Flux repo: {fact.replicas} "
                    f"({fact.replicas_source})"
                ),
            )


def live_priority_classes(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    deployed = {pc.name: pc for pc in facts.priority_classes if pc.deployed}
    for i, pc in enumerate(config.cluster.priority_classes):
        fact = deployed.get(pc.name)
        where = ("cluster", "priorityClasses", i)
        if fact is None:
            yield (*where, "name"), f"PriorityClass {pc.name} is applied by no Flux Kustomization"
        elif (pc.value, pc.global_default) != (fact.value, fact.global_default):
            yield (
                (*where, "value"),
                (
                    f"{pc.name} {pc.value} (globalDefault {pc.global_default}) contradicts the Flux repo: "
                    f"{fact.value} (globalDefault {fact.global_default}) ({fact.source})"
                ),
            )


def adopted(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    for i, ref in enumerate(config.cluster.adopt):
        kind, *rest = ref.split("/")
        name, namespace = rest[-1], (rest[0] if len(rest) == 2 else None)
        if facts.owner(kind, name, namespace) is None:
            declared = next(
                (c.source for c in facts.storage_classes if kind == "StorageClass" and c.name == name), None
            )
            why = (
                f"declared in {declared}, reached by no Kustomization" if declared else "not in the Flux repo"
            )
            yield ("cluster", "adopt", i), f"{ref} is not live: Flux applies no such object ({why})"


def flux_kept(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    """An object Flux keeps (ADR 0029) must be one a Flux file declares: its edit goes there."""
    for i, ref in enumerate(config.cluster.flux_keeps):
        kind, *rest = ref.split("/")
        name, namespace = rest[-1], (rest[0] if len(rest) == 2 else None)
        if facts.owner(kind, name, namespace) is None:
            yield (
                ("cluster", "fluxKeeps", i),
                f"{ref}: no Flux file declares it (facts objects), so Flux keeps nothing",
            )


def releases(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    pinned = [
        (("storage", "releases", i), r.namespace, r.name, r.chart, r.version)
        for i, r in enumerate(config.storage.releases)
    ]
    dcgm = config.gpu.monitoring.dcgm_exporter
    pinned.append(
        (
            ("gpu", "monitoring", "dcgmExporter"),
            config.gpu.monitoring.namespace,
            dcgm.release_name,
            dcgm.chart,
            dcgm.version,
        )
    )
    for where, namespace, name, chart, version in pinned:
        try:
            fact = facts.release(namespace, name)
        except KeyError:
            continue  # a release the stack creates itself: no fact to contradict
        if chart != fact.chart:
            yield (*where, "chart"), f"{chart} contradicts the Flux repo: chart {fact.chart} ({fact.source})"
        if version != fact.version:
            yield (
                (*where, "version"),
                f"{version} contradicts the Flux repo: {fact.version} ({fact.version_source})",
            )


def migration_targets(config: StackConfig, facts: Facts) -> Iterator[tuple[Key, str]]:
    """A migration past `plan` writes to its target class: its provisioner must run on the cluster."""
    standard = config.storage.storage_class
    for i, migration in enumerate(config.storage.migrations):
        if not migration.phase.at_least(Phase.COPY):
            continue
        fact = facts.storage_class(migration.target_class)
        provisioner = standard.provisioner if migration.target_class == standard.name else None
        provisioner = provisioner or (fact.provisioner if fact else None)
        if provisioner is None:
            yield (
                ("storage", "migrations", i, "targetClass"),
                (f"{migration.target_class}: no such class in the stack or the Flux repo"),
            )
        elif provisioner not in facts.provisioners:
            declared = f" (declared in {fact.source}, reached by no Kustomization)" if fact else ""
            yield (
                ("storage", "migrations", i, "phase"),
                (
                    f"{migration.phase} needs class {migration.target_class}, whose provisioner "
                    f"{provisioner} the Flux repo does not deploy{declared}; a migration stays at plan "
                    "until it runs (ADR 0028)"
                ),
            )


def directive_values(config: StackConfig) -> Iterator[tuple[Key, str, directive.DirectiveValue]]:
    for i, pc in enumerate(config.gpu.priority_classes):
        for field, table, actual in (
            ("value", directive.PRIORITY_CLASS_VALUES, pc.value),
            ("description", directive.PRIORITY_CLASS_DESCRIPTIONS, pc.description),
        ):
            expected = table.get(pc.name)
            why = expected and directive.departure(expected, actual)
            if why:
                yield ("gpu", "priorityClasses", i, field), why, expected
    for i, tenant in enumerate(config.gpu.tenants):
        share = tenant.pools.get(directive.TIME_SLICED_RESOURCE)
        for (namespace, field), expected in directive.TENANT_SLICES.items():
            if tenant.namespace != namespace:
                continue
            actual = getattr(share, field) if share else None
            why = directive.departure(expected, actual)
            if why:
                yield ("gpu", "tenants", i, "pools", directive.TIME_SLICED_RESOURCE, field), why, expected
    why = directive.departure(directive.STORAGE_CLASS, config.storage.storage_class.name)
    if why:
        yield ("storage", "storageClass", "name"), why, directive.STORAGE_CLASS


FACT_CHECKS = (gpu_pools, live_priority_classes, adopted, flux_kept, releases, migration_targets)


def check(config: StackConfig, facts: Facts) -> None:
    """Raise KeyedValueError for the first contradiction no departure covers, or directive departure no
    waiver names."""
    departed = {d.key for d in config.cluster.departures}
    for rule in FACT_CHECKS:
        for key, reason in rule(config, facts):
            if dotted(key) not in departed:
                raise KeyedValueError(key, f"{reason}; if meant, list it in cluster.departures")
    waived = {(w.key, w.directive) for w in config.cluster.waivers}
    for key, reason, expected in directive_values(config):
        if (dotted(key), expected.source) not in waived:
            raise KeyedValueError(key, f"{reason}; a departure needs a waiver naming {expected.source}")


def in_effect(config: StackConfig, facts: Facts) -> list[str]:
    """Every departure and waiver the config uses, in one line each, for the preview to show."""
    lines = []
    found = {dotted(k): r for rule in FACT_CHECKS for k, r in rule(config, facts)}
    for d in config.cluster.departures:
        lines.append(f"departure {d.key}: {found.get(d.key, 'no longer contradicts a fact')} ({d.reason})")
    found_d = {dotted(k): r for k, r, _ in directive_values(config)}
    for w in config.cluster.waivers:
        lines.append(
            f"waiver {w.key} ({w.directive}, approved by {w.approved_by}): "
            f"{found_d.get(w.key, 'no longer departs')} ({w.reason})"
        )
    return lines
