"""docs/ha-topology.svg: the nodes today and in the target, the VIP, NIC types, etcd members and quorum.

Graphviz lays it out (the `dot` program from the Debian package, driven by the `graphviz` package);
dot's SVG is deterministic for one graphviz version and font set, so a test compares it byte for byte.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Literal

from components.config.control_plane import ControlPlaneConfig, Node
from components.control_plane.hardware import Flag, node_flags, usb_quorum_risk
from components.control_plane.node_configs import API_PORT
from components.control_plane.quorum import failure_tolerance, quorum

if TYPE_CHECKING:  # graphviz is imported when drawing
    import graphviz

FILE = "ha-topology.svg"
FONT = "DejaVu Sans"
SERVER, AGENT, VIP, ETCD = "#d0e2f2", "#eeeeee", "#fff3bf", "#f8f9fa"
NIC_LABEL = {"usb": "USB", "onboard": "onboard", "virtual": "virtual"}
SEVERITY_COLOR = {"blocker": "#c92a2a", "risk": "#e8590c", "check": "#1864ab", "note": "#495057"}


def picture(cfg: ControlPlaneConfig, fmt: Literal["svg", "png"] = "svg") -> bytes:
    return graph(cfg).pipe(format=fmt)


def graph(cfg: ControlPlaneConfig) -> graphviz.Digraph:
    import graphviz

    g = graphviz.Digraph("ha")
    g.attr(rankdir="TB", fontname=FONT, fontsize="12", newrank="true", nodesep="0.3", ranksep="0.45")
    g.attr(label=f"HA control plane: today and target (k3s {cfg.k3s_version})", labelloc="t")
    g.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontsize="10", margin="0.12,0.06")
    g.attr("edge", fontname=FONT, fontsize="9", color="#495057")
    _today(g, cfg)
    _target(g, cfg)
    g.edge(f"today_{cfg.nodes[-1].name}", "vip", style="invis")  # today above the target
    return g


def _today(g: graphviz.Digraph, cfg: ControlPlaneConfig) -> None:
    current = [x for x in cfg.nodes if x.role == "server"]
    with g.subgraph(name="cluster_today") as today:
        store = "embedded etcd" if cfg.current_datastore == "etcd" else cfg.current_datastore
        label = (
            f"Today (facts): {_count(len(current), 'server')} on {store}; "
            f"Cilium reaches the API at {cfg.today.api_endpoint}"
        )
        today.attr(label=label, style="dashed")
        for node in cfg.nodes:
            server = node.role == "server"
            role = f"server ({store})" if server else "agent"
            today.node(f"today_{node.name}", _label(node, role), fillcolor=SERVER if server else AGENT)
        # Drawn server -> agent with the arrow reversed, so that the server sits above its agents.
        for node in cfg.nodes:
            if node.role == "agent" and current:
                today.edge(f"today_{current[0].name}", f"today_{node.name}", dir="back", label=f":{API_PORT}")


def _target(g: graphviz.Digraph, cfg: ControlPlaneConfig) -> None:
    t = cfg.target
    n, tolerated = len(t.servers), failure_tolerance(len(t.servers))
    with g.subgraph(name="cluster_target") as target:
        target.attr(label=f"Target: {n} servers with embedded etcd", style="solid")
        with target.subgraph() as top:
            top.attr(rank="same")
            for node in (x for x in cfg.nodes if x.name not in t.servers):
                top.node(f"target_{node.name}", _label(node, "agent", node_flags(node, cfg)), fillcolor=AGENT)
                top.edge(f"target_{node.name}", "vip", label=f":{API_PORT}")
            vip = (
                f"VIP {t.vip}\\n{t.dns_name}:{API_PORT}\\n"
                f"kube-vip {t.kube_vip.version}, ARP on each\\nserver's default-route NIC\\n"
                f"Cilium k8sServiceHost -> {t.vip}"
            )
            # ordering=out keeps the servers below in the model's order.
            top.node("vip", vip, shape="box", style="filled", fillcolor=VIP, ordering="out")
            if usb_quorum_risk(cfg):
                usb = [x.name for x in cfg.server_nodes() if x.nic == "usb"]
                top.node(
                    "usb_risk",
                    f"risk: {' and '.join(usb)} carry etcd over USB NICs:\\n"
                    f"{len(usb)} USB servers > {_count(tolerated, 'tolerated failure')}",
                    shape="note",
                    fillcolor="#fff4e6",
                    color=SEVERITY_COLOR["risk"],
                    fontcolor=SEVERITY_COLOR["risk"],
                    style="filled",
                )
        with target.subgraph(name="cluster_etcd") as etcd:
            etcd.attr(
                label=f"etcd: {n} members (peers 2379-2380/tcp, full mesh), quorum {quorum(n)} of {n}, "
                f"tolerates {_count(tolerated, 'failure')}",
                style="rounded,filled",
                fillcolor=ETCD,
                labelloc="b",
            )
            for i, node in enumerate(cfg.server_nodes()):
                first = " (cluster-init)" if cfg.current_datastore == "sqlite" else " (its etcd today)"
                role = "server + etcd" + (first if i == 0 else "")
                etcd.node(f"target_{node.name}", _label(node, role, node_flags(node, cfg)), fillcolor=SERVER)
            # Left to right in the model's order: the first server is the one converted in place.
            names = [f"target_{x}" for x in t.servers]
            etcd.body.append("{rank=same; " + "; ".join(f'"{x}"' for x in names) + "}")
            for a, b in itertools.pairwise(names):
                etcd.edge(a, b, style="invis")
        for name in t.servers:
            target.edge("vip", f"target_{name}", style="dashed", arrowhead="none")


def _label(node: Node, role: str, flags: list[Flag] | None = None) -> str:
    """An HTML-like label, one font per line: dot writes each font change as its own SVG <text>,
    placed by its own metrics, and a viewer with other metrics would run such pieces together."""
    nic = f"{node.address} · {NIC_LABEL[node.nic]} NIC · {node.disk.class_}"
    rows = [
        f"<b>{node.name} · {role}</b>",
        f'<font color="{SEVERITY_COLOR["risk"]}">{nic}</font>' if node.nic == "usb" else nic,
        f"{node.hardware} · {_size(node)}",
    ]
    rows += [f'<font color="{SEVERITY_COLOR[f.severity]}">{f.severity}: {f.code}</font>' for f in flags or []]
    return "<" + "<br/>".join(rows) + ">"


def _size(node: Node) -> str:
    size = f"{node.cores} cores · {node.memory_gi_b:g} GiB"
    if node.grow_to is not None:
        size += f" → {node.grow_to.memory_gi_b:g} GiB"
    return size


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
