"""Hardware flags: where a node falls short as an etcd server (size, disk, WAL fsync, USB NIC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.config.control_plane import ControlPlaneConfig
from components.config.node import Node
from components.control_plane.budget import budget, num, pair
from components.control_plane.quorum import failure_tolerance

WAL_FSYNC_P99_LIMIT_MS = 10.0  # etcd hardware guide: WAL fsync p99 must stay under 10 ms
SSD_CLASSES = ("nvme", "ssd")
Severity = Literal["blocker", "risk", "check", "note"]


@dataclass(frozen=True)
class Flag:
    node: str
    code: Literal["undersized", "non-ssd-disk", "slow-wal-fsync", "unmeasured-wal-fsync", "usb-nic-etcd"]
    severity: Severity
    message: str


def node_flags(node: Node, cfg: ControlPlaneConfig) -> list[Flag]:
    """Where `node` falls short as a server. On a target server the shortfall is a blocker or a risk;
    on any other node it is a note explaining why it is not a candidate."""
    server = node.name in cfg.target.servers
    flags: list[Flag] = []
    hard: Severity = "blocker" if server else "note"
    cores, mem = budget(node, cfg, as_server=True).headroom
    need = pair(cfg.reservations.min_headroom)
    if cores < need[0] or mem < need[1]:
        flags.append(
            Flag(
                node.name,
                "undersized",
                hard,
                f"{node.name} ({num(node.target_size[0])} cores/{num(node.target_size[1])} GiB) as a server "
                f"would keep "
                f"{num(cores)} cores/{num(mem)} GiB after system, control plane and staying work; "
                f"a server needs {num(need[0])} cores/{num(need[1])} GiB spare",
            )
        )
    if node.disk.class_ not in SSD_CLASSES:
        flags.append(
            Flag(
                node.name,
                "non-ssd-disk",
                hard,
                f"{node.name} keeps its data-dir on {node.disk.class_}; etcd needs an SSD "
                f"(WAL fsync p99 < {num(WAL_FSYNC_P99_LIMIT_MS)} ms)",
            )
        )
    p99 = node.disk.wal_fsync_p99_ms
    if p99 is not None and p99 >= WAL_FSYNC_P99_LIMIT_MS:
        flags.append(
            Flag(
                node.name,
                "slow-wal-fsync",
                hard,
                f"{node.name} measured WAL fsync p99 {num(p99)} ms; "
                f"etcd needs < {num(WAL_FSYNC_P99_LIMIT_MS)} ms",
            )
        )
    if server and p99 is None:
        flags.append(
            Flag(
                node.name,
                "unmeasured-wal-fsync",
                "check",
                f"{node.name}: WAL fsync p99 not measured; run the fio check (plan step 1) and record "
                f"disk.walFsyncP99Ms before it joins (must be < {num(WAL_FSYNC_P99_LIMIT_MS)} ms)",
            )
        )
    if server and node.nic == "usb":
        flags.append(
            Flag(
                node.name,
                "usb-nic-etcd",
                "risk",
                f"{node.name} would carry etcd peer traffic (2379-2380/tcp) over a USB NIC; a USB reset "
                "drops the member and with a second one down the API stops. Prefer the onboard NIC for "
                "the node address, or a PCIe NIC",
            )
        )
    return flags


def flags(cfg: ControlPlaneConfig) -> list[Flag]:
    return [f for n in cfg.nodes for f in node_flags(n, cfg)]


def usb_quorum_risk(cfg: ControlPlaneConfig) -> bool:
    """True when USB NICs alone could take quorum away (more USB servers than the tolerance)."""
    usb = sum(1 for n in cfg.server_nodes() if n.nic == "usb")
    return usb > failure_tolerance(len(cfg.target.servers))
