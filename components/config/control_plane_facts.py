"""The control-plane section against the cluster's facts: the config states intent, the facts state what is.

What the Flux repo says (`facts.load()`: today's servers, datastore and k3s version, each node's address,
role, hardware, VM host, GPUs and, where the repo gives them, cores and memory) is never typed in the stack
config. A key that restates such a fact, or contradicts it, is one config error naming the key and the
fact's `file:line` in the Flux repo. Pure functions over raw dicts and `facts.model.Facts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from facts.model import Facts
from facts.model import Node as NodeFact

from .base import KeyedValueError

FACTS_FILE = "facts/k3s-home.yaml"
_REMOVE = f"remove the key: the model reads it from {FACTS_FILE}"


def _datastore(value: object) -> str:
    return "embedded etcd" if value == "etcd" else str(value)


def _gpus(f: Facts, name: str) -> list[dict[str, Any]]:
    return [{"model": p.resource, "count": p.devices_per_node} for p in f.gpu_pools if name in p.nodes]


def _gpu_source(f: Facts, name: str) -> str:
    sources = [p.devices_source for p in f.gpu_pools if name in p.nodes]
    return ", ".join(sources) or next(n.source for n in f.nodes if n.name == name)


# Section keys the facts hold: key -> (the fact's value, its source, how to show a value).
def _section_facts(f: Facts) -> dict[str, tuple[Any, str, Callable[[object], str]]]:
    cp = f.control_plane
    return {
        "k3sVersion": (cp.k3s_version, cp.k3s_version_source, str),
        "currentDatastore": (cp.datastore, cp.datastore_source, _datastore),
        "currentServers": (cp.servers, cp.servers_source, lambda v: ", ".join(map(str, v))),
    }


def check_section(raw: Mapping[str, Any], f: Facts) -> None:
    """Refuse a section key that restates or contradicts a control-plane fact."""
    for key, (fact, source, show) in _section_facts(f).items():
        if key in raw:
            _refuse((key,), raw[key], fact, source, show, "the cluster runs")


def _node_facts(node: NodeFact, f: Facts) -> dict[str, tuple[Any, str | None, Callable[[object], str]]]:
    return {
        "address": (node.address, node.source, str),
        "role": (node.role, node.source, str),
        "hardware": (node.hardware, node.source, str),
        "vmHost": (node.vm_host, node.source, str),
        "gpus": (_gpus(f, node.name), _gpu_source(f, node.name), _show_gpus),
        # Sizes only where the repo gives them; elsewhere they stay in config as assumptions.
        "cores": (node.cores, node.resources_source, str),
        "memoryGiB": (node.memory_gib, node.resources_source, lambda v: f"{v:g}"),
    }


def _show_gpus(value: object) -> str:
    if not isinstance(value, list) or not value:
        return "none"
    return ", ".join(
        f"{g.get('count', 1)}x {g.get('model')}" if isinstance(g, dict) else str(g) for g in value
    )


def node_fact(f: Facts, name: str) -> NodeFact | None:
    return next((n for n in f.nodes if n.name == name), None)


def _nodes_cited(f: Facts) -> str:
    return ", ".join(f"{n.name} ({n.source})" for n in f.nodes)


def check_node(raw: Mapping[str, Any], f: Facts) -> None:
    """Refuse a node entry for a machine the facts lack, or one that retypes a fact about the node."""
    name = raw.get("name")
    if not isinstance(name, str):
        return  # the field validator names the problem
    node = node_fact(f, name)
    if node is None:
        raise KeyedValueError(
            ("name",),
            f"{name} is not a node of the cluster: the facts list {_nodes_cited(f)}; remove the entry "
            f"(a machine joins the plan once the Flux repo lists it and make facts records it)",
        )
    for key, (fact, source, show) in _node_facts(node, f).items():
        if key not in raw:
            continue
        if key in ("cores", "memoryGiB") and fact is None:
            continue  # an assumption the facts cannot contradict
        _refuse((key,), raw[key], fact, source or node.source, show, f"{name}'s fact is")
    for key in ("cores", "memoryGiB"):
        fact = node.cores if key == "cores" else node.memory_gib
        if fact is None and raw.get(key) is None:
            raise KeyedValueError(
                (key,),
                f"the facts give no {key} for {name} ({node.source}); set it here as an assumption "
                "(and say where the figure comes from)",
            )
    if raw.get("growTo") is not None and node.vm_host is None:
        raise KeyedValueError(
            ("growTo",),
            f"{name} is a physical machine ({node.hardware}, {node.source}), not a VM: only a VM can be "
            "grown by the plan; remove growTo",
        )


def _refuse(
    key: tuple[str, ...], value: Any, fact: Any, source: str, show: Callable[[object], str], what: str
) -> None:
    if _same(value, fact):
        raise KeyedValueError(key, f"{show(value)} restates a fact ({source}); {_REMOVE}")
    raise KeyedValueError(
        key, f"{show(value)} contradicts the facts: {what} {show(fact)} ({source}); {_REMOVE}"
    )


def _same(value: Any, fact: Any) -> bool:
    if isinstance(fact, float | int) and isinstance(value, float | int) and not isinstance(value, bool):
        return float(value) == float(fact)
    return value == fact


def check_coverage(names: list[str], f: Facts) -> None:
    """Every node the facts list has an entry (its disk, NIC and paths are not facts)."""
    missing = [n for n in f.nodes if n.name not in names]
    if missing:
        node = missing[0]
        raise KeyedValueError(
            ("nodes",),
            f"the facts list {node.name} ({node.source}) but the section has no entry for it; add its "
            "disk, nic and paths (assumptions the facts lack)",
        )


def resolved_node(raw: Mapping[str, Any], f: Facts) -> dict[str, Any]:
    """The node's intent joined with its facts, as input for `node.Node`."""
    node = node_fact(f, str(raw["name"]))
    assert node is not None  # check_node refused an unknown name
    return {
        "name": node.name,
        "address": node.address,
        "cores": node.cores if node.cores is not None else raw["cores"],
        "memoryGiB": node.memory_gib if node.memory_gib is not None else raw["memoryGiB"],
        "disk": raw["disk"],
        "nic": raw["nic"],
        "gpus": _gpus(f, node.name),
        "role": node.role,
        "workloads": raw.get("workloads") or [],
        "paths": raw["paths"],
        "liveConfig": raw.get("liveConfig"),
        "hardware": node.hardware,
        "vmHost": node.vm_host,
        "source": node.source,
        "resourcesSource": node.resources_source,
        "growTo": raw.get("growTo"),
    }


def order_by_facts(names: list[str], f: Facts) -> list[str]:
    order = [n.name for n in f.nodes]
    return sorted(names, key=order.index)
