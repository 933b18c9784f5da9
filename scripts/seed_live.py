"""Seed the embedded control plane so that it behaves like k3s-home.

Usage: seed_live.py KUBECONFIG STACK_FILE [--wait SECONDS] [--stand-ins DIR]

1. The nodes the facts name (`facts.nodes`: k3s-master1, k3s1, k3s2, k3s3), derived at every start from
   `facts/k3s-home.yaml` (or $K3S_HOME_FACTS), never retyped: k3s's server labels on a server, the address,
   the GPU capacity of `facts.gpuPools` (devices per node x time-slicing replicas / sharedDevNum), cores
   and memory where the facts give them, else the stack config's figure for that node (ADR 0025).
   Annotated for KWOK, which plays their kubelets.
2. What Flux, Helm and local-path created on the live cluster: every manifest in
   `toolchain/live-baseline/` (each object names its source file in the Flux repository). With
   `--stand-ins DIR` (the integration tests: $K3S_HOME_SEED_STANDINS), the manifests in DIR too: objects
   the live cluster does not have that a test needs, each marked `k3s-home.dev/test-stand-in`.
3. local-path's part: a claim of class local-path that the baseline pins to a node (the
   `volume.kubernetes.io/selected-node` annotation the scheduler writes) gets the PV local-path would
   provision for it, `pvc-<claim uid>`, a `local` volume under /var/lib/rancher/k3s/storage (k3s's
   local-path class carries `defaultVolumeType: local`, k3s-io/k3s manifests/local-storage.yaml). The PV
   controller then binds them, so the claims look exactly as on the live cluster (no kubectl
   annotations, `claimRef.uid` set).
4. A bounded wait until every claim is Bound and every seeded workload's pods are Running.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lightkube import Client, KubeConfig
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import load_in_cluster_generic_resources
from lightkube.resources.core_v1 import PersistentVolume, PersistentVolumeClaim, Pod

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from apply_manifests import load_files  # noqa: E402

import facts  # noqa: E402
from components.config import StackConfig, clock, load_stack_file  # noqa: E402
from facts.model import Facts  # noqa: E402

BASELINE = ROOT / "toolchain" / "live-baseline"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
LOCAL_PATH_ROOT = "/var/lib/rancher/k3s/storage"
KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}
SEED_SOURCE = "k3s-home.dev/seed-source"
STAND_IN = "k3s-home.dev/test-stand-in"
# The labels k3s puts on a server node (k3s pkg/node): the etcd role only with embedded etcd.
SERVER_ROLES = ("control-plane", "master")
BINDER_ANNOTATIONS = ("pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller")
# What must exist before anything names it (a pod whose claim is missing waits minutes in the
# scheduler's backoff); the rest keeps file order (the GPU quotas come last, after
# the pods they count, as on the live cluster). A claim that names a volume not yet created is Lost.
FIRST = {
    "Namespace": 0,
    "StorageClass": 1,
    "PriorityClass": 1,
    "RuntimeClass": 1,
    "PersistentVolume": 2,
    "PersistentVolumeClaim": 3,
}


def _size(node, cfg: StackConfig | None) -> tuple[int, float]:
    """Cores and GiB: the facts' figure, else the stack config's for the same node (the facts have none)."""
    if node.cores is not None and node.memory_gib is not None:
        return node.cores, node.memory_gib
    known = {n.name: n for n in cfg.control_plane.nodes} if cfg is not None else {}
    if node.name not in known:
        raise SeedError(
            f"node {node.name} ({node.source}): the facts give no cores/memory and the stack config's "
            "controlPlane.nodes has no such node to take them from"
        )
    return known[node.name].cores, known[node.name].memory_gi_b


def nodes(f: Facts, cfg: StackConfig | None = None) -> list[dict]:
    """The facts' nodes as KWOK-managed Node objects: roles, address, GPU capacity, cores and memory."""
    out = []
    for node in f.nodes:
        cores, memory = _size(node, cfg)
        capacity = {"cpu": str(cores), "memory": f"{int(memory * 1024)}Mi", "pods": "110"}
        for pool in f.gpu_pools:
            if node.name in pool.nodes:
                capacity[pool.resource] = str(pool.devices_per_node * pool.replicas)
        labels = {
            "kubernetes.io/hostname": node.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "k3s",
            "type": "kwok",
        }
        if node.role == "server" or node.name in f.control_plane.servers:
            roles = SERVER_ROLES + (("etcd",) if f.control_plane.datastore == "etcd" else ())
            labels.update({f"node-role.kubernetes.io/{role}": "true" for role in roles})
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": node.name,
                    "labels": labels,
                    "annotations": {**KWOK_ANNOTATION, SEED_SOURCE: f"facts: {node.source}"},
                },
                "status": {
                    "capacity": capacity,
                    "allocatable": dict(capacity),
                    "addresses": [
                        {"type": "InternalIP", "address": node.address},
                        {"type": "Hostname", "address": node.name},
                    ],
                },
            }
        )
    return out


def stand_ins(directory: str) -> list[dict]:
    """A test's stand-in objects: each must say why it stands in (never mistaken for the live cluster)."""
    docs = load_files([directory])
    for doc in docs:
        if not (doc["metadata"].get("annotations") or {}).get(STAND_IN):
            raise SeedError(
                f"{doc['kind']} {doc['metadata']['name']} in {directory} has no {STAND_IN} annotation "
                "saying why it stands in for something the live cluster lacks"
            )
    return docs


def local_path_volume(claim: dict, uid: str) -> dict:
    """The PV local-path-provisioner creates for `claim` on its selected node (its real shape)."""
    meta = claim["metadata"]
    node, name, ns = meta["annotations"][SELECTED_NODE], f"pvc-{uid}", meta["namespace"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {
                "pv.kubernetes.io/provisioned-by": "rancher.io/local-path",
                "local.path.provisioner/selected-node": node,
            },
            "finalizers": ["kubernetes.io/pv-protection"],
        },
        "spec": {
            "accessModes": claim["spec"].get("accessModes", ["ReadWriteOnce"]),
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "name": meta["name"],
                "namespace": ns,
                "uid": uid,
            },
            "local": {"path": f"{LOCAL_PATH_ROOT}/{name}_{ns}_{meta['name']}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                            ]
                        }
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "local-path",
            "volumeMode": "Filesystem",
        },
    }


def _exists(client: Client, resource) -> bool:
    """Admission may answer before the existence check (a second globalDefault is "forbidden")."""
    meta = resource.metadata
    try:
        client.get(type(resource), meta.name, **({"namespace": meta.namespace} if meta.namespace else {}))
    except ApiError:
        return False
    return True


class SeedError(Exception):
    pass


def _create(client: Client, obj: dict):
    resource = from_dict(obj)
    try:
        return client.create(resource)
    except ApiError as err:
        if err.status.code == 409 or _exists(client, resource):  # seeded already (`cluster.sh up` again)
            return None
        meta = obj["metadata"]
        where = "/".join(x for x in (meta.get("namespace"), meta["name"]) if x)
        source = meta.get("annotations", {}).get("k3s-home.dev/seed-source", "generated")
        raise SeedError(f"{obj['kind']} {where} (from {source}) refused: {err.status.message}") from None


def _wait(client: Client, seconds: float, clock=time.monotonic) -> str | None:
    """None when every claim is Bound and every pod Running or Succeeded; else what is still not."""
    deadline = clock() + seconds
    while True:
        pending = [
            f"claim {c.metadata.namespace}/{c.metadata.name} is {c.status.phase}"
            for c in client.list(PersistentVolumeClaim, namespace="*")
            if c.status.phase != "Bound"
        ] + [
            f"pod {p.metadata.namespace}/{p.metadata.name} is {p.status.phase}"
            for p in client.list(Pod, namespace="*")
            if p.status.phase not in ("Running", "Succeeded")
        ]
        if not pending:
            return None
        if clock() > deadline:
            return "; ".join(pending[:5])
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kubeconfig")
    parser.add_argument("stack_file")
    parser.add_argument("--wait", type=float, default=90)
    parser.add_argument(
        "--stand-ins", default=None, help="a test's stand-in manifests (not the live cluster)"
    )
    args = parser.parse_args(argv)
    try:
        return _seed(args)
    except (SeedError, facts.FactsError) as err:
        print(f"[cluster] ERROR: seeding the live baseline: {err}", file=sys.stderr)
        return 1


def _seed(args: argparse.Namespace) -> int:
    cfg = load_stack_file(args.stack_file, today=clock.today())
    client = Client(KubeConfig.from_file(args.kubeconfig), timeout=10)
    load_in_cluster_generic_resources(client)  # the Flux and Prometheus Operator kinds
    seeded_nodes = nodes(facts.load(), cfg)
    extra = stand_ins(args.stand_ins) if args.stand_ins else []
    for node in seeded_nodes:
        _create(client, node)
    docs = sorted(load_files([str(BASELINE)]) + extra, key=lambda d: FIRST.get(d["kind"], len(FIRST)))
    # Volumes and claims first, bound, then the workloads: a pod whose claim is missing or still unbound
    # waits out the scheduler's backoff.
    storage = [d for d in docs if FIRST.get(d["kind"], len(FIRST)) < len(FIRST)]
    claims = []
    for doc in storage:
        if doc["kind"] == "PersistentVolumeClaim":
            # The PV controller writes these when it binds; a claim created with them and a volume whose
            # claimRef has no uid yet is "misbound" and goes Lost. Without them it binds as on the cluster.
            for note in BINDER_ANNOTATIONS:
                doc["metadata"].get("annotations", {}).pop(note, None)
        created = _create(client, doc)
        if doc["kind"] == "PersistentVolumeClaim" and created is not None:
            claims.append((doc, created.metadata.uid))
    for doc, uid in claims:
        spec, pinned = doc["spec"], SELECTED_NODE in doc["metadata"].get("annotations", {})
        if spec.get("storageClassName") == "local-path" and not spec.get("volumeName") and pinned:
            _create(client, local_path_volume(doc, uid))
    stuck = _wait(client, args.wait)
    if stuck:
        print(f"[cluster] ERROR: seeded claims not bound within {args.wait:.0f}s: {stuck}", file=sys.stderr)
        return 1
    for doc in docs[len(storage) :]:
        _create(client, doc)
    stuck = _wait(client, args.wait)
    if stuck:
        print(
            f"[cluster] ERROR: seeded workloads not ready within {args.wait:.0f}s: {stuck}", file=sys.stderr
        )
        return 1
    print(
        f"[cluster] seeded {len(seeded_nodes)} nodes and {len(docs) - len(extra)} live objects "
        + (f"and {len(extra)} test stand-ins " if extra else "")
        + f"({len(list(client.list(PersistentVolume)))} volumes bound, pods running)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
