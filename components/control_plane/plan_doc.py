"""docs/high-availability-plan.md, rendered from the model."""

from __future__ import annotations

from typing import Any

from components.config.control_plane import ControlPlaneConfig
from components.config.live_configs import AGENT_KEYS, CLUSTER_FLAG_KEYS, SERVER_KEYS
from components.control_plane.budget import budgets, cores_mem, num
from components.control_plane.hardware import flags, node_flags, usb_quorum_risk
from components.control_plane.node_configs import API_PORT
from components.control_plane.quorum import failure_tolerance, quorum
from components.control_plane.timeline import timeline


def _diagram(cfg: ControlPlaneConfig) -> str:
    t = cfg.target
    servers = cfg.server_nodes()
    agents = [n for n in cfg.nodes if n.name not in t.servers]
    boxes = [f"[{n.name} {n.address}]" for n in servers]
    width = len("   ".join(boxes))
    peers = f"etcd peers 2379-2380/tcp, quorum {quorum(len(servers))} of {len(servers)}"
    lines = [
        f"kubectl / agents --> https://{t.dns_name}:{API_PORT}",
        f"                     = VIP {t.vip} (kube-vip, ARP, leader-elected)",
        "                          |",
        "   ".join(boxes),
        "   ".join(f"{'server+etcd' + (' (init)' if i == 0 else ''):<{len(b)}}" for i, b in enumerate(boxes)),
        "<" + "-" * (width - 2) + ">",
        f"{peers:^{width}}",
    ]
    for n in agents:
        lines.append(f"[{n.name} {n.address}] agent --> VIP")
    return "\n".join(lines)


def render_plan_doc(cfg: ControlPlaneConfig) -> str:
    t = cfg.target
    n = len(t.servers)
    res = cfg.reservations
    out: list[str] = []
    w = out.append
    w("# High-availability plan: three k3s servers with embedded etcd\n")
    w(
        "<!-- Generated from Pulumi.k3s-home.yaml (k3s-home:controlPlane) by "
        "`python -m components.control_plane.cli > docs/high-availability-plan.md`. Do not edit by hand; "
        "tests/unit/components/control_plane/test_plan_doc.py fails when this file is stale. -->\n"
    )
    w("Directive Phase 4: design a three-node control plane, its resource needs, its hardware constraints")
    w(
        "and an implementation timeline. The node configs and the kube-vip manifests named here are "
        "produced by"
    )
    w("the `HaControlPlane` component from the same model (`pulumi stack output controlPlane`).\n")
    w("## Today and target\n")
    current = [x.name for x in cfg.nodes if x.role == "server"]
    w(
        f"- Today: {', '.join(current)} is the only server, "
        f"on {cfg.current_datastore} (k3s {cfg.k3s_version}); "
        "losing it stops the API."
    )
    w(
        f"- Target: servers {', '.join(t.servers)} with embedded etcd; "
        f"{t.servers[0]} is converted in place with"
    )
    w(f"  `cluster-init`, the others join through the VIP {t.vip} (`{t.dns_name}`).")
    w(f"- Quorum {quorum(n)} of {n}: the API survives {failure_tolerance(n)} server failure(s).")
    w("  Four servers would not tolerate more than three do, so the count stays odd.\n")
    w("## Architecture\n")
    w(
        "![HA topology: the nodes today and in the target, the VIP, NIC types, etcd members and quorum]"
        "(ha-topology.svg)\n"
    )
    w("The picture is drawn from the same model by `make docs` (components/control_plane/picture.py).\n")
    w("```text")
    w(_diagram(cfg))
    w("```\n")
    w("## Resources\n")
    w(
        f"Per server the control plane (k3s server + etcd) reserves {num(res.control_plane.cores)} cores / "
        f"{num(res.control_plane.memory_gi_b)} GiB; every node reserves {num(res.system.cores)} core(s) / "
        f"{num(res.system.memory_gi_b)} GiB for the system (OS, kubelet, containerd, Cilium, Longhorn); "
        "a server "
        f"must keep {num(res.min_headroom.cores)} core(s) / {num(res.min_headroom.memory_gi_b)} GiB free.\n"
    )
    w("| Node | Role (target) | Capacity | System | Control plane | Staying work | Headroom |")
    w("|---|---|---|---|---|---|---|")
    for b in budgets(cfg):
        node = cfg.node(b.node)
        work = ", ".join(x.name for x in node.workloads) or "-"
        w(
            f"| {b.node} | {'server' if b.server else 'agent'} | {cores_mem(b.capacity)} | "
            f"{cores_mem(b.system)} | {cores_mem(b.control_plane) if b.server else '-'} | "
            f"{cores_mem(b.workloads)} ({work}) | {cores_mem(b.headroom)} |"
        )
    w("")
    w("## Hardware constraints\n")
    w("| Node | Address | Disk | NIC | GPUs | Flags |")
    w("|---|---|---|---|---|---|")
    for node in cfg.nodes:
        gpus = ", ".join(f"{g.count}x {g.model}" for g in node.gpus) or "-"
        fsync = f", p99 {num(node.disk.wal_fsync_p99_ms)} ms" if node.disk.wal_fsync_p99_ms else ""
        codes = ", ".join(f"{f.code} ({f.severity})" for f in node_flags(node, cfg)) or "-"
        w(f"| {node.name} | {node.address} | {node.disk.class_}{fsync} | {node.nic} | {gpus} | {codes} |")
    w("")
    for f in flags(cfg):
        w(f"- **{f.severity}** {f.message}.")
    if usb_quorum_risk(cfg):
        usb = [x.name for x in cfg.server_nodes() if x.nic == "usb"]
        w(
            f"- **risk** {' and '.join(usb)} both use USB NICs: more than the {failure_tolerance(n)} "
            "tolerated failure(s) can come from one class of fault. Before relying on HA, move their node "
            "address to the onboard NIC (etcd needs little bandwidth) or fit PCIe NICs. The USB NIC "
            "monitoring itself stays as it is."
        )
    w(
        "- Cluster-wide flags are identical on every server (validated): "
        + ", ".join(f"`{k}: {_flag(v)}`" for k, v in _cluster_flags(cfg).items())
        + "."
    )
    w(
        "- Node configs are merged, not replaced: each is the node's own config.yaml as captured in step 1 "
        "with the keys k3s-home owns written in (servers: "
        + ", ".join(f"`{k}`" for k in SERVER_KEYS)
        + "; agents: "
        + ", ".join(f"`{k}`" for k in AGENT_KEYS)
        + "). Every other key stays byte for byte. The flags k3s requires to be equal on every server "
        "(its CriticalControlArgs, plus `disable-kube-proxy`) are compared across the merged server "
        "configs; a difference is a config error naming the node."
    )
    uncaptured = [x.name for x in cfg.nodes if x.live_config is None]
    if uncaptured:
        w(
            f"- Not captured yet: {', '.join(uncaptured)}. No config is rendered for a node until its live "
            "config.yaml is captured (step 1)."
        )
    w(
        "- The data-dir and kubelet root-dir are never written. The model pins today's values "
        "("
        + ", ".join(
            sorted(
                {f"`{x.paths.data_dir.current}`" for x in cfg.nodes}
                | {f"`{x.paths.kubelet_root_dir.current}`" for x in cfg.nodes}
            )
        )
        + "), refuses a change, and refuses a captured config that gives another value; step 1 confirms "
        "them on each node first (the June 2025 kubelet root-dir change destroyed every Longhorn volume)."
    )
    w(
        f"- etcd snapshots: cron `{t.etcd_snapshots.schedule_cron}`, keep {t.etcd_snapshots.retention}, "
        "on every server's data-dir; copy them off the nodes (they need the token to restore)."
    )
    w("")
    w("## Timeline\n")
    steps = timeline(cfg)
    total = sum(s.minutes for s in steps)
    w(f"About {total // 60} h {total % 60} min in one maintenance window; the API is down for minutes only")
    w("during the restarts of the first server. Do the steps in order and stop at the first failed check.\n")
    w("| # | Step | Duration | Rollback |")
    w("|---|---|---|---|")
    for i, s in enumerate(steps, 1):
        w(f"| {i} | {s.title} | {s.minutes} min | {s.rollback} |")
    w("")
    for i, s in enumerate(steps, 1):
        w(f"### {i}. {s.title} ({s.minutes} min)\n")
        for a in s.actions:
            w(f"- {a}")
        w(f"- Check: {s.verify}.")
        w(f"- Rollback: {s.rollback}.\n")
    w("## Sources and assumptions\n")
    w("- Quorum and the odd server count: etcd FAQ (cluster size); k3s HA docs (embedded etcd).")
    w("- Control-plane reservation: k3s installation requirements size a server with embedded etcd for up to")
    w("  10 nodes at 2 vCPU / 4 GB; k3s resource profiling measured about 1.6 GB for a server with etcd.")
    w("  The system reservation is an assumption to replace with `kubectl top node` figures.")
    w("- WAL fsync p99 < 10 ms and SSD storage: etcd hardware and performance guides.")
    w("- SQLite -> etcd by adding `cluster-init` to the existing server: k3s datastore docs (v1.22.2+).")
    w("- Token rotation: `k3s token rotate` (k3s CLI docs); the token also encrypts bootstrap data, so it is")
    w("  backed up with the datastore.")
    w("- Kubelet root dir: rootful k3s passes no `--root-dir`, so the kubelet uses its own default,")
    w("  /var/lib/kubelet (k3s-io/k3s `pkg/agent/config/config.go` sets a root dir only for rootless, and")
    w("  `pkg/daemons/agent/agent_linux.go` passes it only when set; since k3s v0.10.0).")
    w("  /var/lib/rancher/k3s/agent/kubelet is the rootless and pre-0.10 location. The cluster's own notes")
    w("  contradict each other on which one the nodes use, hence the checks in step 1. Details and commits:")
    w("  docs/upstream-facts.md.")
    w("- Shared server flags: k3s `pkg/daemons/config/types.go` `CriticalControlArgs`; kube-vip binds to the")
    w("  default-route interface when none is set (`cmd/kube-vip.go`, v0.8.9).")
    w(
        "- Node sizes and GPUs: the 48-hour operations report and the design brief. "
        "Addresses of k3s1, k3s2 and"
    )
    w("  k3s3 come from the cluster's own notes; **k3s4's address, k3s4's disk class, the VIP, the API name,")
    w("  the kubelet root dir of every node and the CIDRs (k3s defaults) are assumptions**")
    w("  to confirm in step 1. Staying work is sized as planned requests, not measurements.")
    w("- Applying configs over SSH is off (`applyOverSsh: false`): copy each rendered config by hand.")
    return "\n".join(out) + "\n"


def _cluster_flags(cfg: ControlPlaneConfig) -> dict[str, Any]:
    conf = cfg.target.cluster_flags.as_k3s()
    return {k: conf[k] for k in CLUSTER_FLAG_KEYS}


def _flag(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
