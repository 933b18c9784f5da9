"""docs/high-availability-plan.md, rendered from the model."""

from __future__ import annotations

from typing import Any

from components.config.control_plane import ControlPlaneConfig
from components.config.control_plane_facts import FACTS_FILE
from components.config.live_configs import AGENT_KEYS, CLUSTER_FLAG_KEYS, SERVER_KEYS
from components.control_plane.budget import budgets, cores_mem, num, pair
from components.control_plane.hardware import flags, node_flags, usb_quorum_risk
from components.control_plane.node_configs import API_PORT
from components.control_plane.options import NFS_HOST, compare, reasons, recommend, why_recommended
from components.control_plane.quorum import failure_tolerance, quorum
from components.control_plane.timeline import cilium_edit, timeline


def _diagram(cfg: ControlPlaneConfig) -> str:
    t = cfg.target
    servers = cfg.server_nodes()
    agents = [n for n in cfg.nodes if n.name not in t.servers]
    boxes = [f"[{n.name} {n.address}]" for n in servers]
    width = len("   ".join(boxes))
    init = "init" if cfg.current_datastore == "sqlite" else "today"
    peers = f"etcd peers 2379-2380/tcp, quorum {quorum(len(servers))} of {len(servers)}"
    lines = [
        f"kubectl / agents --> https://{t.dns_name}:{API_PORT}",
        f"                     = VIP {t.vip} (kube-vip, ARP, leader-elected)",
        "                          |",
        "   ".join(boxes),
        "   ".join(
            f"{'server+etcd' + (f' ({init})' if i == 0 else ''):<{len(b)}}" for i, b in enumerate(boxes)
        ),
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
    today = cfg.today
    first = cfg.first_server()
    out: list[str] = []
    w = out.append
    w(f"# High-availability plan: from {first.name} alone to {n} k3s servers on embedded etcd\n")
    w(
        "<!-- Generated from Pulumi.k3s-home.yaml (k3s-home:controlPlane) and facts/k3s-home.yaml by "
        "`python -m components.control_plane.cli > docs/high-availability-plan.md`. Do not edit by hand; "
        "tests/unit/components/control_plane/test_plan_doc.py fails when this file is stale. -->\n"
    )
    current = cfg.current_servers
    w("## Today (facts)\n")
    w(
        f"- Today: {', '.join(current)} ({first.hardware}, {first.address}, {first.cores} vCPU / "
        f"{num(first.memory_gi_b)} GiB; {first.source}, {first.resources_source}) is the only server, on "
        f"{_datastore(cfg.current_datastore)} ({today.datastore_source}), k3s {cfg.k3s_version} "
        f"({today.k3s_version_source}); losing it stops the API."
    )
    agents_today = [x for x in cfg.nodes if x.role == "agent"]
    w(
        "- Agents: "
        + "; ".join(f"{x.name} ({x.hardware}, {x.address}, {x.source})" for x in agents_today)
        + "."
    )
    w(
        f"- Cilium replaces kube-proxy ({today.kube_proxy_replacement_source}) and reaches the API at "
        f"`{today.api_endpoint}` ({today.api_endpoint_source}), {first.name}'s own address: the plan moves "
        "it to the VIP before a second server joins."
    )
    if today.seed is not None:
        w(
            f"- The Flux repo's older HA plan names {today.seed.value} as the server ({today.seed.source}); "
            f"the rebuild since made {', '.join(current)} the server, and the facts follow the newest "
            "evidence. There is no SQLite to convert: the servers join the etcd that exists."
        )
    w("")
    w("## Options\n")
    opts = compare(cfg)
    best = recommend(opts)
    chosen = set(t.servers)
    w(
        f"Three etcd members (an odd count: {quorum(3)} of 3 keep quorum, 1 failure tolerated; four would "
        "tolerate no more). Every option keeps "
        f"{first.name}, which holds the etcd today. Headroom is what a member keeps as a server after the "
        "system and control-plane reservations and its staying work (section Resources); "
        f"a server needs {cores_mem(pair(res.min_headroom))} spare.\n"
    )
    w(
        "| Option | Servers | Machines | Survives losing any one machine | API survives losing the "
        f"{NFS_HOST[0]} | USB-NIC members (tolerated) | Staying work on joiners | "
        "Tightest joiner headroom | Rank |"
    )
    w("|---|---|---|---|---|---|---|---|---|")
    for rank, o in enumerate(opts, 1):
        servers = ", ".join(f"{m.name}{' (new VM)' if m.planned else ''}" for m in o.members)
        mark = " **recommended**" if o is best else ""
        mark += " (the config's target)" if set(o.servers) == chosen else ""
        w(
            f"| ({o.key}) {o.title} | {servers} | {', '.join(o.machines)} | "
            f"{_yes(o.survives_any_machine)} | {_yes(o.survives_nfs_host)} | "
            f"{o.usb_members} ({o.tolerance}) | {cores_mem(o.staying)} | {cores_mem(o.tightest)} | "
            f"{rank}{mark} |"
        )
    w("")
    w(
        "Ranked by: surviving the loss of any one machine, then no USB-NIC quorum risk (a flapping USB "
        "adapter is a flapping etcd member; the repo watches k3s1 and k3s2 with usb-nic-monitor), then no "
        "undersized member, then the least staying work on the joining members (their drain pauses it and "
        "etcd shares the node with it), then the most headroom for them, then no new VM to build.\n"
    )
    for o in opts:
        w(f"- ({o.key}) {o.title}: " + "; ".join(reasons(o, opts)) + ".")
    w("")
    why = why_recommended(opts)
    w(
        f"**Recommended: ({best.key}) {', '.join(best.servers)}.** "
        + why[0][0].upper()
        + "; ".join(why)[1:]
        + "."
    )
    for m in best.members[1:]:
        node = cfg.node(m.name)
        if any("nvidia" in g.model for g in node.gpus):
            w(
                f"\n{node.name} ({node.hardware}, the GPU node) carries etcd beside its staying work with "
                f"{cores_mem(m.headroom)} to spare; its GPU driver and kernel updates restart it, which "
                f"{len(best.members)} members tolerate one server at a time."
            )
    if set(best.servers) != chosen:
        w(
            f"\n**The config's target ({', '.join(t.servers)}) is not the recommended option**; the rest "
            "of this plan follows the config."
        )
    w(
        f"\nThe {NFS_HOST[0]} stays a single point of failure for storage: it holds {first.name} and serves "
        f"every NFS export ({NFS_HOST[1]}). With the recommended servers the API outlives its loss; the "
        "NFS-backed workloads do not, whatever the control plane does. Three VMs on it (option a) would add "
        "no protection against the one failure that matters most here, and their etcd would share its "
        "disks with the NFS service.\n"
    )
    w("## Target\n")
    w(
        f"- Servers {', '.join(t.servers)} with embedded etcd; {t.servers[0]} keeps its etcd, the others "
        f"join it through the VIP {t.vip} (`{t.dns_name}`) in this order."
    )
    w(f"- Quorum {quorum(n)} of {n}: the API survives {failure_tolerance(n)} server failure(s).")
    w(f"- tls-san on every server: {', '.join(t.tls_san)} (the VIP and the API name).")
    w(f"- Cilium's `k8sServiceHost` moves to {t.vip}: {cilium_edit(cfg)}.\n")
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
    w(
        f"during the restarts of {first.name} while it is the only server. Do the steps in order and stop at "
        "the first failed check.\n"
    )
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
    if cfg.current_datastore == "sqlite":
        w("- SQLite -> etcd by adding `cluster-init` to the existing server: k3s datastore docs (v1.22.2+).")
    else:
        w("- Servers join an existing embedded etcd with `server:` and the cluster token: k3s HA docs")
        w("  (embedded etcd); `cluster-init` is only read when the data-dir holds no datastore yet.")
    w(
        f"- Cilium with `kubeProxyReplacement` reaches the API only at `k8sServiceHost` "
        f"({cfg.today.api_endpoint_source}): the VIP must be there before {first.name} may fail."
    )
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
        f"- Facts ({FACTS_FILE}, derived from the Flux repo by `make facts`): today's servers, datastore and "
        "k3s version, every node's address, role, hardware and GPUs, and the sizes the repo gives ("
        + ", ".join(f"{x.name} {x.resources_source}" for x in cfg.nodes if x.resources_source)
        + "). The stack config refuses a key that retypes one."
    )
    assumed = [x.name for x in cfg.nodes if x.resources_source is None]
    w(
        "- **Assumptions** (in the stack config, to confirm in step 1): "
        + (f"the sizes of {', '.join(assumed)} (the repo's older HA plan); " if assumed else "")
        + "every node's disk class and NIC type, the VIP and the API name, the kubelet root dir of every "
        "node, the CIDRs (k3s defaults), "
        + ", ".join(
            f"{x.name}'s growth to {cores_mem((x.grow_to.cores, x.grow_to.memory_gi_b))}"
            for x in cfg.nodes
            if x.grow_to is not None
        )
        + (" (room on its host)" if any(x.grow_to for x in cfg.nodes) else "")
        + ". Staying work is sized as planned requests, not measurements."
    )
    w("- Applying configs over SSH is off (`applyOverSsh: false`): copy each rendered config by hand.")
    return "\n".join(out) + "\n"


def _datastore(value: str) -> str:
    return "embedded etcd" if value == "etcd" else value


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _cluster_flags(cfg: ControlPlaneConfig) -> dict[str, Any]:
    conf = cfg.target.cluster_flags.as_k3s()
    return {k: conf[k] for k in CLUSTER_FLAG_KEYS}


def _flag(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
