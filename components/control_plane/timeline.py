"""The change as ordered steps, each with its check and its rollback."""

from __future__ import annotations

from dataclasses import dataclass

from components.config.control_plane import ControlPlaneConfig
from components.control_plane.budget import num
from components.control_plane.hardware import WAL_FSYNC_P99_LIMIT_MS
from components.control_plane.node_configs import API_PORT, CONFIG_PATH, api_url
from components.control_plane.quorum import failure_tolerance


@dataclass(frozen=True)
class Step:
    title: str
    minutes: int
    actions: list[str]
    verify: str
    rollback: str


# Cilium replaces kube-proxy and reaches the API server at a fixed address, not through the Service: the
# HelmRelease value to edit in the Flux repo when the API moves to the VIP (the fact's file:line).
CILIUM_KEY = "k8sServiceHost"


def cilium_edit(cfg: ControlPlaneConfig) -> str:
    today = cfg.today
    return (
        f'in the Flux repo, `{today.api_endpoint_source}`: `{CILIUM_KEY}: "{cfg.target.vip}"` '
        f"(today `{today.api_endpoint.rsplit(':', 1)[0]}`, {cfg.current_servers[0]}'s own address)"
    )


def timeline(cfg: ControlPlaneConfig) -> list[Step]:
    """The change, in order, from today's control plane (the facts): backups first, the VIP before anything
    depends on it, Cilium moved to the VIP before a second server could be lost, then the joins. Every
    step says how to undo it."""
    t = cfg.target
    first = cfg.first_server()
    joiners = cfg.server_nodes()[1:]
    agents = [n for n in cfg.nodes if n.name not in t.servers]
    snap = "k3s etcd-snapshot save --name"
    sqlite = cfg.current_datastore == "sqlite"
    data = first.paths.data_dir.current
    backup = (
        f"on {first.name}: `systemctl stop k3s` (pods keep running), copy `{data}/server/db/`, "
        f"`{data}/server/token`, `{data}/server/tls/` and `{CONFIG_PATH}` off the node, `systemctl start k3s`"
        if sqlite
        else f"on {first.name} (embedded etcd today, {cfg.today.datastore_source}): `{snap} pre-ha`, "
        "then copy "
        f"the snapshot from `{data}/server/db/snapshots/`, `{data}/server/token` and `{CONFIG_PATH}` off "
        f"the node (and off the {first.vm_host or first.name}, which holds the VM)"
    )
    steps = [
        Step(
            "Backups and pre-flight checks",
            60,
            [
                "`velero backup create pre-ha --wait` (cluster objects and volumes to Backblaze B2); "
                "Longhorn backup of every volume",
                backup,
                "on every node, capture its config before anything is written: `ssh <node> sudo cat "
                f"{CONFIG_PATH} | python -m components.control_plane.capture <node>` prints the file without "
                "its token lines as `liveConfig` for the node's entry in Pulumi.k3s-home.yaml. Also "
                "`ls /etc/rancher/k3s/config.yaml.d/` and `systemctl cat k3s k3s-agent`: move any key set in "
                "a drop-in or an ExecStart flag into config.yaml first (both override it), then capture",
                "on every node, confirm the kubelet root dir before anything is written; all must name "
                "`paths.kubeletRootDir.current`, or stop and fix the pin: the prefix before `/pods/` in "
                "`findmnt -rn -o TARGET | grep -m1 -E '/pods/[^/]+/volumes/'`; the socket "
                "`ls -l <root-dir>/device-plugins/kubelet.sock` (the kubelet creates it in its root dir); "
                "`journalctl -u k3s -u k3s-agent -b --no-pager | grep -o -- '--root-dir=[^ ]*' | tail -1` "
                "(empty means the k3s default /var/lib/kubelet); and the dir Longhorn was installed with, "
                "`kubectl -n <longhorn namespace> get ds longhorn-csi-plugin "
                "-o jsonpath='{..hostPath.path}'`. Confirm the data-dir the same way "
                "(`ls -d <data-dir>/agent`)",
                "confirm each assumption of the controlPlane section on its node (disk class, NIC, the sizes "
                "the facts lack) and record it",
                "`pulumi preview`: a captured config that contradicts a pin, a cluster flag or another "
                "server stops with one error naming the node; review `configChanges` in the controlPlane "
                "output (the owned keys each config changes)",
                "on every target server: fio WAL check (`fio --rw=write --ioengine=sync --fdatasync=1 "
                f"--size=22m --bs=2300 --directory={data}/server`), record the p99 "
                f"as `disk.walFsyncP99Ms`; a p99 >= {num(WAL_FSYNC_P99_LIMIT_MS)} ms stops the plan",
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
    ]
    if sqlite:
        steps.append(
            Step(
                f"Convert {first.name} from SQLite to embedded etcd",
                30,
                [
                    f"write the rendered config to {first.name}:{CONFIG_PATH} "
                    "(its captured file plus `cluster-init: true`, tls-san with the VIP and the "
                    "snapshot schedule; cluster flags and paths unchanged), `systemctl restart k3s`; k3s "
                    f"{cfg.k3s_version} (>= v1.22.2) moves the SQLite data into etcd on this start",
                    f"`{snap} post-conversion`",
                ],
                f"`kubectl get nodes` shows {first.name} with roles control-plane,etcd; "
                f"`{data}/server/db/etcd` exists; the snapshot is listed",
                f"stop k3s, restore the step 1 `{CONFIG_PATH}` and `server/db/`, "
                "move `server/db/etcd` aside, "
                "start k3s (writes made since the conversion are lost)",
            )
        )
    else:
        steps.append(
            Step(
                f"Add the VIP to {first.name}'s serving certificate",
                15,
                [
                    f"write the rendered config to {first.name}:{CONFIG_PATH} (its captured file plus "
                    f"tls-san {', '.join(t.tls_san)}, the token and the snapshot schedule; its etcd, cluster "
                    "flags and paths unchanged), `systemctl restart k3s`: the API is down for the restart "
                    "(about a minute; pods keep running)",
                ],
                f"`openssl s_client -connect {first.address}:{API_PORT} </dev/null | openssl x509 -noout "
                f"-ext subjectAltName` lists {t.vip} and {t.dns_name}; `kubectl get nodes` all Ready",
                f"restore the step 1 `{CONFIG_PATH}` and restart k3s",
            )
        )
    steps += [
        Step(
            "Hold the API VIP with kube-vip",
            20,
            [
                f"on {first.name}: `ip -o route show default` names the interface kube-vip will bind to "
                "(no interface is configured: it follows each server's default route); `ip -o addr show dev "
                "<that interface>` must list the node address. Repeat on each server as it joins",
                "set `controlPlane.target.kubeVip.deploy: true` and `pulumi up`: the kube-vip RBAC and "
                f"DaemonSet (ARP, {t.kube_vip.image}:{t.kube_vip.version}) run on control-plane nodes only "
                "and reach their local API server (127.0.0.1), not the Service Cilium serves",
            ],
            f"`curl -ks https://{t.vip}:{API_PORT}/ping` answers; "
            f"`kubectl --server https://{t.vip}:{API_PORT} get nodes` works",
            "set `deploy: false` and `pulumi up` (removes DaemonSet and RBAC); nothing uses the VIP yet",
        ),
        Step(
            "Move Cilium to the VIP",
            20,
            [
                f"Cilium replaces kube-proxy ({cfg.today.kube_proxy_replacement_source}) "
                "and reaches the API at "
                f"{cfg.today.api_endpoint} ({cfg.today.api_endpoint_source}): with {first.name} down every "
                "agent would lose the API whatever etcd does. Edit " + cilium_edit(cfg) + "; commit, "
                "`flux reconcile kustomization` for the Cilium release",
                "`kubectl -n kube-system rollout status ds/cilium` (agents restart one node at a time)",
                "do this before any server but "
                f"{first.name} joins: from the first join on, losing {first.name} must not cut Cilium off",
            ],
            "`kubectl -n kube-system exec ds/cilium -- cilium-dbg status` shows KubeProxyReplacement True "
            "and "
            f"the API at {t.vip}:{API_PORT}; pods keep resolving Services",
            f"revert the commit in the Flux repo (back to {cfg.today.api_endpoint.rsplit(':', 1)[0]}) and "
            "reconcile",
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
                    f"write the rendered config to {CONFIG_PATH} (the captured file plus the owned keys: "
                    f"joins {api_url(cfg)}, the existing etcd of {first.name}; data-dir and kubelet root-dir "
                    "untouched), then install the server: "
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
    if first.grow_to is not None:
        size = f"{num(first.grow_to.cores)} vCPU / {num(first.grow_to.memory_gi_b)} GiB"
        steps.append(
            Step(
                f"Grow {first.name} to {size}",
                20,
                [
                    f"with {len(t.servers)} members its restart is tolerated: `kubectl drain {first.name} "
                    f"--ignore-daemonsets`, shut the VM down, give it {size} on the {first.vm_host}, "
                    "start it, "
                    f"`kubectl uncordon {first.name}`",
                ],
                f"the API answered through the VIP the whole time; {first.name} Ready with the new size "
                "(`kubectl get node -o jsonpath='{.status.capacity}'`)",
                "shut it down and give it its old size back",
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
                "check the API through the VIP, the VIP moving (`ip addr` on the others) and Cilium "
                "staying connected (`cilium-dbg status` on an agent), `systemctl start k3s`, wait for Ready "
                "before the next",
                f"`{snap} post-ha` and check the schedule `{t.etcd_snapshots.schedule_cron}` wrote one; "
                "copy a snapshot off the nodes",
                f"switch kubeconfigs to https://{t.dns_name}:{API_PORT}",
            ],
            f"the API stayed up with one server stopped (tolerance {failure_tolerance(len(t.servers))})",
            "start any stopped server; nothing else to undo",
        )
    )
    return steps
