"""The HA control plane as pure functions over the validated model: quorum, resource budgets, hardware
flags, each node's /etc/rancher/k3s/config.yaml, the kube-vip manifests and the plan document.

No Pulumi here: components/ha_control_plane.py wraps these in resources, tests call them directly, and
`python -m components.ha_plan > docs/high-availability-plan.md` regenerates the committed plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from .config.control_plane import ControlPlaneConfig, Node, Resources

API_PORT = 6443
WAL_FSYNC_P99_LIMIT_MS = 10.0  # etcd hardware guide: WAL fsync p99 must stay under 10 ms
SSD_CLASSES = ("nvme", "ssd")
CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
# Stands in for the secret in goldens and previews; the real configs are the secret nodeConfigs outputs.
TOKEN_PLACEHOLDER = "REPLACE_WITH_K3S_TOKEN"


# --- quorum ------------------------------------------------------------------------------------------


def quorum(servers: int) -> int:
    """Members etcd needs to agree: a strict majority."""
    if servers < 1:
        raise ValueError("a control plane needs at least one server")
    return servers // 2 + 1


def failure_tolerance(servers: int) -> int:
    """Servers that may fail while the API keeps answering."""
    return servers - quorum(servers)


# --- resources ---------------------------------------------------------------------------------------


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


def _pair(r: Resources) -> tuple[float, float]:
    return (r.cores, r.memory_gi_b)


def budget(node: Node, cfg: ControlPlaneConfig, as_server: bool | None = None) -> Budget:
    """The node's budget as a server (`as_server=True`), an agent, or (None) its target role."""
    server = node.name in cfg.target.servers if as_server is None else as_server
    res = cfg.reservations
    return Budget(
        node=node.name,
        server=server,
        capacity=(float(node.cores), node.memory_gi_b),
        system=_pair(res.system),
        control_plane=_pair(res.control_plane) if server else (0.0, 0.0),
        workloads=(sum(w.cores for w in node.workloads), sum(w.memory_gi_b for w in node.workloads)),
    )


def budgets(cfg: ControlPlaneConfig) -> list[Budget]:
    return [budget(n, cfg) for n in cfg.nodes]


# --- hardware flags ----------------------------------------------------------------------------------

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
    need = _pair(cfg.reservations.min_headroom)
    if cores < need[0] or mem < need[1]:
        flags.append(
            Flag(
                node.name,
                "undersized",
                hard,
                f"{node.name} ({node.cores} cores/{_n(node.memory_gi_b)} GiB) as a server would keep "
                f"{_n(cores)} cores/{_n(mem)} GiB after system, control plane and staying work; "
                f"a server needs {_n(need[0])} cores/{_n(need[1])} GiB spare",
            )
        )
    if node.disk.class_ not in SSD_CLASSES:
        flags.append(
            Flag(
                node.name,
                "non-ssd-disk",
                hard,
                f"{node.name} keeps its data-dir on {node.disk.class_}; etcd needs an SSD "
                f"(WAL fsync p99 < {_n(WAL_FSYNC_P99_LIMIT_MS)} ms)",
            )
        )
    p99 = node.disk.wal_fsync_p99_ms
    if p99 is not None and p99 >= WAL_FSYNC_P99_LIMIT_MS:
        flags.append(
            Flag(
                node.name,
                "slow-wal-fsync",
                hard,
                f"{node.name} measured WAL fsync p99 {_n(p99)} ms; "
                f"etcd needs < {_n(WAL_FSYNC_P99_LIMIT_MS)} ms",
            )
        )
    if server and p99 is None:
        flags.append(
            Flag(
                node.name,
                "unmeasured-wal-fsync",
                "check",
                f"{node.name}: WAL fsync p99 not measured; run the fio check (plan step 1) and record "
                f"disk.walFsyncP99Ms before it joins (must be < {_n(WAL_FSYNC_P99_LIMIT_MS)} ms)",
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


# --- node configs ------------------------------------------------------------------------------------


def api_url(cfg: ControlPlaneConfig) -> str:
    # Join through the VIP, not the DNS name: bootstrapping then depends on ARP only, not on DNS.
    return f"https://{cfg.target.vip}:{API_PORT}"


def node_config(node: Node, cfg: ControlPlaneConfig, token: str) -> dict[str, Any]:
    """The keys of the node's config.yaml, in the order they are written."""
    t = cfg.target
    out: dict[str, Any] = {}
    server = node.name in t.servers
    if node.name == t.servers[0]:
        out["cluster-init"] = True
    else:
        out["server"] = api_url(cfg)
    out["token"] = token
    out["node-name"] = node.name
    out["node-ip"] = node.address
    if server:
        flags_ = t.cluster_flags
        out["tls-san"] = list(t.tls_san)
        out["cluster-cidr"] = flags_.cluster_cidr
        out["service-cidr"] = flags_.service_cidr
        out["disable"] = list(flags_.disable)
        out["flannel-backend"] = flags_.flannel_backend
        out["disable-network-policy"] = flags_.disable_network_policy
        out["secrets-encryption"] = flags_.secrets_encryption
        out["etcd-snapshot-schedule-cron"] = t.etcd_snapshots.schedule_cron
        out["etcd-snapshot-retention"] = t.etcd_snapshots.retention
    # Written out although they are the k3s defaults: the pin makes any change a visible diff.
    out["data-dir"] = node.paths.data_dir.current
    out["kubelet-arg"] = [f"root-dir={node.paths.kubelet_root_dir.current}"]
    return out


def render_node_config(node: Node, cfg: ControlPlaneConfig, token_placeholder: str) -> str:
    role = "server" if node.name in cfg.target.servers else "agent"
    head = (
        f"# {CONFIG_PATH} on {node.name} ({role}), rendered by k3s-home components/ha_plan.py.\n"
        "# data-dir and kubelet root-dir are pinned: never edit them (June 2025 data loss).\n"
    )
    return head + yaml.safe_dump(node_config(node, cfg, token_placeholder), sort_keys=False, width=200)


# --- kube-vip ----------------------------------------------------------------------------------------

KUBE_VIP_NAME = "kube-vip"
KUBE_VIP_NAMESPACE = "kube-system"


def kube_vip_manifests(cfg: ControlPlaneConfig) -> list[dict[str, Any]]:
    """ServiceAccount, ClusterRole, ClusterRoleBinding and the ARP-mode DaemonSet holding the API VIP
    on the control-plane nodes (layout of kube-vip's own `manifest daemonset --controlplane --arp`)."""
    kv = cfg.target.kube_vip
    labels = {"app.kubernetes.io/name": KUBE_VIP_NAME, "app.kubernetes.io/managed-by": "pulumi"}
    meta = {"name": KUBE_VIP_NAME, "namespace": KUBE_VIP_NAMESPACE, "labels": labels}
    env = {
        "vip_arp": "true",
        "port": str(API_PORT),
        "vip_interface": kv.interface,
        "vip_cidr": "32",
        "cp_enable": "true",
        "cp_namespace": KUBE_VIP_NAMESPACE,
        "svc_enable": "false",  # Cilium owns LoadBalancer services (BGP); kube-vip only holds the API VIP
        "vip_leaderelection": "true",
        "vip_leasename": "plndr-cp-lock",
        "vip_leaseduration": "5",
        "vip_renewdeadline": "3",
        "vip_retryperiod": "1",
        "address": cfg.target.vip,
        "prometheus_server": ":2112",
    }
    service_account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:kube-vip-role", "labels": labels},
        "rules": [
            {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
            {
                "apiGroups": [""],
                "resources": ["services", "endpoints"],
                "verbs": ["list", "get", "watch", "update"],
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get", "watch", "update", "patch"]},
            {
                "apiGroups": ["coordination.k8s.io"],
                "resources": ["leases"],
                "verbs": ["list", "get", "watch", "update", "create"],
            },
            {
                "apiGroups": ["discovery.k8s.io"],
                "resources": ["endpointslices"],
                "verbs": ["list", "get", "watch", "update"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:kube-vip-binding", "labels": labels},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "system:kube-vip-role",
        },
        "subjects": [{"kind": "ServiceAccount", "name": KUBE_VIP_NAME, "namespace": KUBE_VIP_NAMESPACE}],
    }
    selector = {"app.kubernetes.io/name": KUBE_VIP_NAME}
    daemonset = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchExpressions": [
                                            {
                                                "key": "node-role.kubernetes.io/control-plane",
                                                "operator": "Exists",
                                            }
                                        ]
                                    }
                                ]
                            }
                        }
                    },
                    "containers": [
                        {
                            "name": KUBE_VIP_NAME,
                            "image": f"{kv.image}:{kv.version}",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["manager"],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            # ARP and address changes need NET_ADMIN/NET_RAW, not a privileged container
                            # (directive: no privileged containers without CIO approval).
                            "securityContext": {
                                "privileged": False,
                                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                            },
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                        }
                    ],
                    "hostNetwork": True,
                    "serviceAccountName": KUBE_VIP_NAME,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [
                        {"effect": "NoSchedule", "operator": "Exists"},
                        {"effect": "NoExecute", "operator": "Exists"},
                    ],
                },
            },
        },
    }
    return [service_account, role, binding, daemonset]


def render_kube_vip_yaml(cfg: ControlPlaneConfig) -> str:
    return yaml.safe_dump_all(kube_vip_manifests(cfg), sort_keys=False, width=200)


# --- the plan document -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    title: str
    minutes: int
    actions: list[str]
    verify: str
    rollback: str


def timeline(cfg: ControlPlaneConfig) -> list[Step]:
    """The change, in order. Backups and the SQLite -> etcd conversion come first; every step says how
    to undo it."""
    t = cfg.target
    first = cfg.first_server()
    joiners = cfg.server_nodes()[1:]
    agents = [n for n in cfg.nodes if n.name not in t.servers]
    snap = "k3s etcd-snapshot save --name"
    steps = [
        Step(
            "Backups and pre-flight checks",
            60,
            [
                "`velero backup create pre-ha --wait` (cluster objects and volumes to Backblaze B2); "
                "Longhorn backup of every volume",
                f"on {first.name}: `systemctl stop k3s` (pods keep running), copy "
                f"`{first.paths.data_dir.current}/server/db/`, "
                f"`{first.paths.data_dir.current}/server/token`, "
                f"`{first.paths.data_dir.current}/server/tls/` and `{CONFIG_PATH}` off the node, "
                "`systemctl start k3s`",
                "on every node: confirm the live data-dir and kubelet root-dir equal `paths.*.current` "
                "(`ps -o args -C k3s`, `cat /etc/rancher/k3s/config.yaml`); stop if any differs",
                "on every target server: fio WAL check (`fio --rw=write --ioengine=sync --fdatasync=1 "
                f"--size=22m --bs=2300 --directory={first.paths.data_dir.current}/server`), record the p99 "
                f"as `disk.walFsyncP99Ms`; a p99 >= {_n(WAL_FSYNC_P99_LIMIT_MS)} ms stops the plan",
            ],
            "backups listed as Completed; copies readable off-node; `pulumi preview` shows no flag blockers",
            "nothing changed yet",
        ),
        Step(
            "Reserve the VIP and the API name",
            15,
            [
                f"exclude {t.vip} from DHCP on the router; make sure nothing answers `arping {t.vip}`",
                f"DNS A record {t.dns_name} -> {t.vip}",
            ],
            f"`arping -c3 {t.vip}` gets no reply; `dig +short {t.dns_name}` prints {t.vip}",
            "delete the DNS record and the DHCP exclusion",
        ),
        Step(
            "Install the generated cluster token",
            20,
            [
                "`pulumi up` creates the token (secret) and the rendered node configs",
                f"on {first.name}: `k3s token rotate --token <old> --new-token <generated>`, then restart "
                "k3s; put the generated token into every agent's config and restart the agents one at a time",
            ],
            "`kubectl get nodes` all Ready after the agent restarts",
            "`k3s token rotate --token <generated> --new-token <old>` (the old token is in the step 1 copy); "
            "snapshots taken before the rotation need the old token to restore",
        ),
        Step(
            f"Convert {first.name} from SQLite to embedded etcd",
            30,
            [
                f"write the rendered config to {first.name}:{CONFIG_PATH} "
                "(adds `cluster-init: true`, tls-san, "
                "snapshot schedule; cluster flags and paths unchanged), `systemctl restart k3s`; k3s "
                f"{cfg.k3s_version} (>= v1.22.2) moves the SQLite data into etcd on this start",
                f"`{snap} post-conversion`",
            ],
            f"`kubectl get nodes` shows {first.name} with roles control-plane,etcd; "
            f"`{first.paths.data_dir.current}/server/db/etcd` exists; the snapshot is listed",
            f"stop k3s, restore the step 1 `{CONFIG_PATH}` and `server/db/`, move `server/db/etcd` aside, "
            "start k3s (writes made since the conversion are lost)",
        ),
        Step(
            "Hold the API VIP with kube-vip",
            20,
            [
                "set `controlPlane.target.kubeVip.deploy: true` and `pulumi up`: the kube-vip RBAC and "
                f"DaemonSet (ARP, interface {t.kube_vip.interface}, {t.kube_vip.image}:{t.kube_vip.version}) "
                "run on control-plane nodes only",
            ],
            f"`curl -ks https://{t.vip}:{API_PORT}/ping` answers; "
            f"`kubectl --server https://{t.vip}:{API_PORT} "
            "get nodes` works",
            "set `deploy: false` and `pulumi up` (removes DaemonSet and RBAC); nothing uses the VIP yet",
        ),
    ]
    for members, node in enumerate(joiners, 2):
        work = ", ".join(w.name for w in node.workloads)
        pause = f"; its staying work ({work}) pauses until the uncordon, announce it" if work else ""
        # An even member count tolerates no more failures than one less: do not linger there.
        even = (
            [
                f"{members} etcd members tolerate {failure_tolerance(members)} failure(s): "
                "go straight on to the next step"
            ]
            if members % 2 == 0
            else []
        )
        steps.append(
            Step(
                f"Turn {node.name} into a server",
                45,
                [
                    f"`kubectl drain {node.name} --ignore-daemonsets --delete-emptydir-data`{pause}",
                    f"on {node.name}: `systemctl disable --now k3s-agent`. "
                    "Never run `k3s-agent-uninstall.sh`: "
                    f"it deletes {node.paths.data_dir.current}, local-path volumes included",
                    f"write the rendered config to {CONFIG_PATH} (joins {api_url(cfg)}; same data-dir "
                    "and kubelet root-dir as today), then install the server: "
                    f"`INSTALL_K3S_VERSION={cfg.k3s_version} INSTALL_K3S_EXEC=server` "
                    "with the k3s install script",
                    f"`kubectl uncordon {node.name}`",
                    *even,
                ],
                f"{node.name} shows roles control-plane,etcd; `kubectl get --raw /readyz?verbose` passes; "
                "the etcd member list grows by one",
                f"`systemctl disable --now k3s`, `kubectl delete node {node.name}` (k3s removes its etcd "
                "member), restore the agent config, `systemctl enable --now k3s-agent`, uncordon",
            )
        )
    if agents:
        names = ", ".join(n.name for n in agents)
        steps.append(
            Step(
                f"Point the agents ({names}) at the VIP",
                15,
                [
                    f"write each rendered agent config (server {api_url(cfg)}) "
                    "and restart `k3s-agent`, one at a time"
                ],
                "every agent Ready; `journalctl -u k3s-agent` shows the VIP as server",
                "restore the previous agent config and restart k3s-agent",
            )
        )
    steps.append(
        Step(
            "Prove failover and snapshots",
            30,
            [
                "for each server in turn: `systemctl stop k3s`, "
                "check the API through the VIP and the VIP moving "
                "(`ip addr` on the others), `systemctl start k3s`, wait for Ready before the next",
                f"`{snap} post-ha` and check the schedule `{t.etcd_snapshots.schedule_cron}` wrote one; "
                "copy a snapshot off the nodes",
                f"switch kubeconfigs to https://{t.dns_name}:{API_PORT}",
            ],
            f"the API stayed up with one server stopped (tolerance {failure_tolerance(len(t.servers))})",
            "start any stopped server; nothing else to undo",
        )
    )
    return steps


def _n(x: float) -> str:
    return f"{x:g}"


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
        "`python -m components.ha_plan > docs/high-availability-plan.md`. Do not edit by hand; "
        "tests/unit/components/test_ha_plan_doc.py fails when this file is stale. -->\n"
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
    w("```text")
    w(_diagram(cfg))
    w("```\n")
    w("## Resources\n")
    w(
        f"Per server the control plane (k3s server + etcd) reserves {_n(res.control_plane.cores)} cores / "
        f"{_n(res.control_plane.memory_gi_b)} GiB; every node reserves {_n(res.system.cores)} core(s) / "
        f"{_n(res.system.memory_gi_b)} GiB for the system (OS, kubelet, containerd, Cilium, Longhorn); "
        "a server "
        f"must keep {_n(res.min_headroom.cores)} core(s) / {_n(res.min_headroom.memory_gi_b)} GiB free.\n"
    )
    w("| Node | Role (target) | Capacity | System | Control plane | Staying work | Headroom |")
    w("|---|---|---|---|---|---|---|")
    for b in budgets(cfg):
        node = cfg.node(b.node)
        work = ", ".join(x.name for x in node.workloads) or "-"
        w(
            f"| {b.node} | {'server' if b.server else 'agent'} | {_cm(b.capacity)} | {_cm(b.system)} | "
            f"{_cm(b.control_plane) if b.server else '-'} | {_cm(b.workloads)} ({work}) | {_cm(b.headroom)} |"
        )
    w("")
    w("## Hardware constraints\n")
    w("| Node | Address | Disk | NIC | GPUs | Flags |")
    w("|---|---|---|---|---|---|")
    for node in cfg.nodes:
        gpus = ", ".join(f"{g.count}x {g.model}" for g in node.gpus) or "-"
        fsync = f", p99 {_n(node.disk.wal_fsync_p99_ms)} ms" if node.disk.wal_fsync_p99_ms else ""
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
        "- The data-dir and kubelet root-dir of every node are pinned to today's values and written into "
        "each config; the model refuses any change (the June 2025 kubelet root-dir change destroyed every "
        "Longhorn volume)."
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
    w(
        "- Node sizes and GPUs: the 48-hour operations report and the design brief. "
        "Addresses of k3s1, k3s2 and"
    )
    w("  k3s3 come from the cluster's own notes; **k3s4's address, k3s4's disk class, the VIP, the API name,")
    w(
        "  the kube-vip interface name (one name on every server) and the CIDRs (k3s defaults) "
        "are assumptions**"
    )
    w("  to confirm in step 1. Staying work is sized as planned requests, not measurements.")
    w("- Applying configs over SSH is off (`applyOverSsh: false`): copy each rendered config by hand.")
    return "\n".join(out) + "\n"


def _cm(pair: tuple[float, float]) -> str:
    return f"{_n(pair[0])} c / {_n(pair[1])} GiB"


def _cluster_flags(cfg: ControlPlaneConfig) -> dict[str, Any]:
    keys = (
        "cluster-cidr",
        "service-cidr",
        "disable",
        "flannel-backend",
        "disable-network-policy",
        "secrets-encryption",
    )
    conf = node_config(cfg.first_server(), cfg, "")
    return {k: conf[k] for k in keys}


def _flag(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def main() -> None:
    from .config import load_stack_file

    root = Path(__file__).resolve().parents[1]
    print(render_plan_doc(load_stack_file(root / "Pulumi.k3s-home.yaml").control_plane), end="")


if __name__ == "__main__":
    main()
