"""Where the two servers that join today's server could run: the options compared with the plan's math.

From today's single server (a VM) there are two kinds of three-member etcd clusters: (a) two more VMs on
the same host, or (b) the VM plus two of the physical nodes. Each option is scored by what it survives
(the loss of any one machine), by its USB-NIC members against the failures it tolerates, and by the
headroom each member keeps after the system and control-plane reservations and its staying work. The doc
and the recommendation are generated from these figures (`compare`, `recommend`).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

from components.config.control_plane import ControlPlaneConfig
from components.config.node import Node
from components.control_plane.budget import budget, pair
from components.control_plane.quorum import failure_tolerance, quorum

# The machine that serves every NFS export (Flux repo README.md:78-79, CLUSTER-SETUP.md): losing it takes
# the NFS-backed volumes down whatever the control plane does. Not in facts/ yet (see the HA ADR 0026).
NFS_HOST = ("R730", "README.md:79")
MEMBERS = 3  # the smallest odd etcd membership that survives a failure


@dataclass(frozen=True)
class Member:
    name: str
    machine: str  # the physical machine that fails with it
    nic: str
    headroom: tuple[float, float]  # cores, GiB left as a server
    staying: tuple[float, float] = (0.0, 0.0)  # cores, GiB of work that stays on it (drained at its join)
    work: tuple[str, ...] = ()  # the names of that work
    planned: bool = False  # a VM that does not exist yet


@dataclass(frozen=True)
class Option:
    key: str
    title: str
    members: tuple[Member, ...]
    min_headroom: tuple[float, float]  # what each member must keep free (reservations.minHeadroom)

    @property
    def servers(self) -> list[str]:
        return [m.name for m in self.members]

    @property
    def tolerance(self) -> int:
        return failure_tolerance(len(self.members))

    @property
    def quorum(self) -> int:
        return quorum(len(self.members))

    @property
    def machines(self) -> list[str]:
        return list(dict.fromkeys(m.machine for m in self.members))

    @property
    def worst_machine_loss(self) -> int:
        """Members lost with the one machine that carries the most of them."""
        return max(Counter(m.machine for m in self.members).values())

    @property
    def survives_any_machine(self) -> bool:
        return self.worst_machine_loss <= self.tolerance

    @property
    def usb_members(self) -> int:
        return sum(1 for m in self.members if m.nic == "usb")

    @property
    def usb_risk(self) -> bool:
        """USB NICs alone (a flapping adapter is a flapping member) could take quorum away."""
        return self.usb_members > self.tolerance

    @property
    def undersized(self) -> list[str]:
        need = self.min_headroom
        return [m.name for m in self.members if m.headroom[0] < need[0] or m.headroom[1] < need[1]]

    @property
    def tightest(self) -> tuple[float, float]:
        """The smallest headroom among the members that join (today's server is in every option)."""
        joiners = self.members[1:]
        return (min(m.headroom[0] for m in joiners), min(m.headroom[1] for m in joiners))

    @property
    def staying(self) -> tuple[float, float]:
        """The staying work on the joining members: what their drain pauses and etcd then shares with."""
        joiners = self.members[1:]
        return (sum(m.staying[0] for m in joiners), sum(m.staying[1] for m in joiners))

    @property
    def planned(self) -> list[str]:
        return [m.name for m in self.members if m.planned]

    @property
    def survives_nfs_host(self) -> bool:
        """The API keeps answering when the NFS host is lost (its volumes are down regardless)."""
        return sum(1 for m in self.members if m.machine == NFS_HOST[0]) <= self.tolerance

    def rank(self) -> tuple:
        """Lower is better: survive any one machine, no USB quorum risk, no undersized member, then the
        least staying work on the joiners (memory first), then the most headroom for them, then no
        machine to buy or build."""
        return (
            not self.survives_any_machine,
            self.usb_risk,
            len(self.undersized),
            self.staying[1],
            self.staying[0],
            -self.tightest[1],
            -self.tightest[0],
            len(self.planned),
            self.key,
        )


def _member(node: Node, cfg: ControlPlaneConfig) -> Member:
    b = budget(node, cfg, as_server=True)
    return Member(
        node.name, node.machine, node.nic, b.headroom, b.workloads, tuple(w.name for w in node.workloads)
    )


def _next_names(name: str, count: int, taken: set[str]) -> list[str]:
    """Names for new VMs beside `name` (k3s-master1 -> k3s-master2, k3s-master3)."""
    match = re.match(r"^(.*?)(\d+)$", name)
    stem, start = (match.group(1), int(match.group(2))) if match else (f"{name}-", 1)
    names: list[str] = []
    i = start
    while len(names) < count:
        i += 1
        if f"{stem}{i}" not in taken:
            names.append(f"{stem}{i}")
    return names


def compare(cfg: ControlPlaneConfig) -> list[Option]:
    """Every three-member option that keeps today's server, ranked best first."""
    first = cfg.node(cfg.current_servers[0])
    need = pair(cfg.reservations.min_headroom)
    today = _member(first, cfg)
    options: list[Option] = []
    if first.vm_host is not None:
        # Clones of today's VM on its host: same size, no staying work.
        clones = [
            Member(name, first.machine, first.nic, today.headroom, planned=True)
            for name in _next_names(first.name, MEMBERS - 1, {n.name for n in cfg.nodes})
        ]
        options.append(Option("a", f"{MEMBERS} VMs on the {first.vm_host}", (today, *clones), need))
    physical = [n for n in cfg.nodes if n.name != first.name and n.vm_host is None]
    for i, pair_ in enumerate(itertools.combinations(physical, MEMBERS - 1), 1):
        title = f"{first.name} + " + " + ".join(f"{n.name} ({n.hardware})" for n in pair_)
        options.append(Option(f"b{i}", title, (today, *(_member(n, cfg) for n in pair_)), need))
    return sorted(options, key=Option.rank)


def recommend(options: list[Option]) -> Option:
    return min(options, key=Option.rank)


def why_recommended(options: list[Option]) -> list[str]:
    """Why the best option beats the runner-up, and what it still costs."""
    ranked = sorted(options, key=Option.rank)
    best, out = ranked[0], reasons(ranked[0], options)
    if len(ranked) > 1:
        runner = ranked[1]
        decided = next(i for i, (x, y) in enumerate(zip(best.rank(), runner.rank(), strict=True)) if x != y)
        if decided in (3, 4):
            work = lambda o: ", ".join(w for m in o.members[1:] for w in m.work) or "none"  # noqa: E731
            out.append(
                f"against ({runner.key}) its joining members carry less staying work "
                f"({best.staying[0]:g} c / {best.staying[1]:g} GiB: {work(best)}, against "
                f"{runner.staying[0]:g} c / {runner.staying[1]:g} GiB: {work(runner)}), so their drain "
                "pauses less and etcd shares less"
            )
        if decided in (5, 6):
            out.append(
                f"against ({runner.key}) it keeps more headroom on its tightest joining member "
                f"({best.tightest[0]:g} c / {best.tightest[1]:g} GiB against "
                f"{runner.tightest[0]:g} c / {runner.tightest[1]:g} GiB)"
            )
    return out


def reasons(option: Option, options: list[Option]) -> list[str]:
    """Why `option` ranks where it does against the others, one sentence each."""
    out = []
    if option.survives_any_machine:
        out.append(
            f"its {len(option.members)} members sit on {len(option.machines)} machines "
            f"({', '.join(option.machines)}): losing any one machine costs at most "
            f"{option.worst_machine_loss} member, within the {option.tolerance} tolerated"
        )
    else:
        out.append(
            f"{option.worst_machine_loss} of its members share one machine: losing it loses quorum "
            f"({option.quorum} of {len(option.members)} needed)"
        )
    if option.usb_risk:
        out.append(
            f"{option.usb_members} members carry etcd over USB NICs, more than the {option.tolerance} "
            "tolerated failure: two flapping adapters stop the API"
        )
    elif option.usb_members:
        out.append(
            f"{option.usb_members} USB-NIC member ("
            + ", ".join(m.name for m in option.members if m.nic == "usb")
            + f"), within the {option.tolerance} tolerated failure (usb-nic-monitor keeps watching it)"
        )
    if option.undersized:
        out.append(f"undersized as a server: {', '.join(option.undersized)}")
    if option.planned:
        out.append(f"needs new VMs ({', '.join(option.planned)}) and room for them on their host")
    return out
