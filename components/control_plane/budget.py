"""Per-node resource budgets: capacity minus system, control plane and staying work."""

from __future__ import annotations

from dataclasses import dataclass

from components.config.control_plane import ControlPlaneConfig
from components.config.node import Node, Resources


@dataclass(frozen=True)
class Budget:
    """One node's capacity split: what the system, the control plane and the staying work take, and
    what is left. Cores are CPU cores, memory in GiB."""

    node: str
    server: bool
    capacity: tuple[float, float]
    system: tuple[float, float]
    control_plane: tuple[float, float]
    workloads: tuple[float, float]

    @property
    def headroom(self) -> tuple[float, float]:
        used = [s + c + w for s, c, w in zip(self.system, self.control_plane, self.workloads, strict=True)]
        return (self.capacity[0] - used[0], self.capacity[1] - used[1])


def pair(r: Resources) -> tuple[float, float]:
    return (r.cores, r.memory_gi_b)


def budget(node: Node, cfg: ControlPlaneConfig, as_server: bool | None = None) -> Budget:
    """The node's budget as a server (`as_server=True`), an agent, or (None) its target role, at its size
    once the plan has run (a VM the plan grows counts at its grown size)."""
    server = node.name in cfg.target.servers if as_server is None else as_server
    res = cfg.reservations
    return Budget(
        node=node.name,
        server=server,
        capacity=node.target_size,
        system=pair(res.system),
        control_plane=pair(res.control_plane) if server else (0.0, 0.0),
        workloads=(sum(w.cores for w in node.workloads), sum(w.memory_gi_b for w in node.workloads)),
    )


def budgets(cfg: ControlPlaneConfig) -> list[Budget]:
    return [budget(n, cfg) for n in cfg.nodes]


def num(x: float) -> str:
    return f"{x:g}"


def cores_mem(pair: tuple[float, float]) -> str:
    return f"{num(pair[0])} c / {num(pair[1])} GiB"
