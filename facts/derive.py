"""The Flux repo at one commit -> `Facts`, each with the `file:line` it came from.

What Flux applies is what the root reaches: the `flux-system` Kustomization of
`clusters/<cluster>/flux-system/gotk-sync.yaml`, the kustomize build of its path, every Flux Kustomization
that build contains, and so on. A file nothing reaches (say `apps/longhorn-kustomization.yaml`) is in Git
but not in the cluster, so its objects are facts with `deployed: false`.

Kustomize is followed as Flux runs it: a folder with a `kustomization.yaml` is its `resources`; a folder
without one is every manifest below it (the kustomization kustomize-controller generates). A
`namespace:` field sets the namespace of the namespaced objects below it. Patches are not applied: a fact
cites the file that declares a field, and a patch of a fact's field would be a second owner (none of the
facts read here is patched at the pinned commit; `test_derive` checks that).

Hardware, node roles and the control plane exist only in the repo's prose (README.md, CLUSTER-SETUP.md,
REBUILD-LOG-2025-06-16.md): they are read from those lines, by patterns that fail loudly when the text
changes, never guessed.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from facts import model

CLUSTER = "clusters/k3s-home"
REPOSITORY = "sudoflux/flux-k3s"
FLUX_KUSTOMIZATION = "kustomize.toolkit.fluxcd.io"
KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Kinds kustomize never namespaces (the ones the repo declares).
CLUSTER_SCOPED = {
    "Namespace",
    "PriorityClass",
    "StorageClass",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ClusterIssuer",
    "RuntimeClass",
    "GatewayClass",
    "CiliumLoadBalancerIPPool",
    "CiliumBGPPeeringPolicy",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
}
GPU_RESOURCES = ("nvidia.com/gpu", "gpu.intel.com/i915")
# k3s packages the local-path provisioner (k3s manifests/local-storage.yaml); the rebuild log says it runs.
LOCAL_PATH = "rancher.io/local-path"
# Operator-installed device plugin parameters: the resource each GpuDevicePlugin CR advertises.
INTEL_RESOURCE = "gpu.intel.com/i915"
# The repo's copy of the 48-hour operations report (the user's seed 003).
OPERATIONS_REPORT = "docs/48-hour-autonomous-operation-final-report.md"
OLD_HA_PLAN = "docs/high-availability-plan.md"


class DeriveError(Exception):
    """The repo does not say what a fact needs, in the shape this derivation reads. The message names it."""


@dataclass(frozen=True)
class Doc:
    path: str  # repo-relative
    index: int
    body: Any  # ruamel CommentedMap (keeps line numbers)

    def at(self, *keys: Any) -> str:
        """`path:line` of the value at keys (the key's own line for a mapping's entry)."""
        node, line = self.body, self.body.lc.line
        for key in keys:
            if hasattr(node, "lc"):
                line = node.lc.key(key)[0] if isinstance(key, str) else node.lc.item(key)[0]
            node = node[key]
        return f"{self.path}:{line + 1}"


class Repo:
    """A checkout of the Flux repo: parsed YAML documents, cached per file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._docs: dict[str, list[Doc]] = {}
        self._yaml = YAML(typ="rt")
        self.unreadable: list[str] = []  # files that exist but are not YAML (templates, broken files)

    def docs(self, rel: str) -> list[Doc]:
        if rel not in self._docs:
            try:
                bodies = list(self._yaml.load_all((self.root / rel).read_text()))
            except OSError:
                bodies = []  # missing: kustomize would fail the build; nothing is reached through it
            except (YAMLError, UnicodeDecodeError):
                bodies = []  # not a manifest Flux could apply either
                self.unreadable.append(rel)
            self._docs[rel] = [Doc(rel, i, b) for i, b in enumerate(bodies) if isinstance(b, dict)]
        return self._docs[rel]

    def manifests(self) -> Iterator[Doc]:
        for path in sorted((self.root / CLUSTER).rglob("*.y*ml")):
            rel = str(path.relative_to(self.root))
            yield from (d for d in self.docs(rel) if "kind" in d.body and "apiVersion" in d.body)

    def lines(self, rel: str) -> list[str]:
        path = self.root / rel
        if not path.is_file():
            raise DeriveError(f"{rel}: missing (a fact is read from it)")
        return path.read_text().splitlines()

    def commit(self) -> str:
        out = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise DeriveError(f"{self.root}: not a git checkout of the Flux repo ({out.stderr.strip()})")
        return out.stdout.strip()


# -- what the root reaches -------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    doc: Doc
    namespace: str | None
    kustomization: str


def _build(repo: Repo, rel: str, namespace: str | None) -> Iterator[tuple[Doc, str | None]]:
    """kustomize build of a file or folder, as (document, namespace override) pairs."""
    path = repo.root / rel
    if path.is_file():
        yield from ((d, namespace) for d in repo.docs(rel) if "kind" in d.body)
        return
    if not path.is_dir():
        return  # a resource that does not exist: kustomize fails the whole build; the reach stops here
    kfile = next((path / f for f in KUSTOMIZATION_FILES if (path / f).is_file()), None)
    if kfile is None:
        for child in sorted(path.iterdir()):
            child_rel = str(child.relative_to(repo.root))
            if child.is_dir() or child.suffix in (".yaml", ".yml"):
                yield from _build(repo, child_rel, namespace)
        return
    kdocs = repo.docs(str(kfile.relative_to(repo.root)))
    spec = kdocs[0].body if kdocs else {}
    inner = spec.get("namespace") or namespace
    for entry in [*(spec.get("resources") or []), *(spec.get("components") or [])]:
        entry = str(entry)
        if "://" in entry:
            continue  # remote bases: none at the pinned commit
        target = (path / entry).resolve()
        yield from _build(repo, str(target.relative_to(repo.root.resolve())), inner)


def _namespace_of(doc: Doc, override: str | None) -> str | None:
    if doc.body.get("kind") in CLUSTER_SCOPED:
        return None
    return override or (doc.body.get("metadata") or {}).get("namespace")


def reach(repo: Repo) -> tuple[list[Applied], list[model.Kustomization], str]:
    """Everything the root Flux Kustomization applies, transitively, and every Flux Kustomization in Git."""
    sync = f"{CLUSTER}/flux-system/gotk-sync.yaml"
    roots = [d for d in repo.docs(sync) if d.body.get("kind") == "Kustomization"]
    if not roots:
        raise DeriveError(f"{sync}: no Flux Kustomization (the root everything is reached from)")
    root = roots[0]
    applied: list[Applied] = []
    reached: dict[tuple[str, str], Doc] = {}
    queue = [root]
    while queue:
        kdoc = queue.pop(0)
        meta, spec = kdoc.body["metadata"], kdoc.body["spec"]
        key = (meta.get("namespace", "flux-system"), meta["name"])
        if key in reached:
            continue
        reached[key] = kdoc
        path = str(spec["path"]).removeprefix("./").rstrip("/")
        for doc, ns in _build(repo, path, spec.get("targetNamespace")):
            applied.append(Applied(doc, _namespace_of(doc, ns), f"{key[0]}/{key[1]}"))
            api = str(doc.body.get("apiVersion", ""))
            if doc.body.get("kind") == "Kustomization" and api.startswith(FLUX_KUSTOMIZATION):
                queue.append(doc)
    kustomizations = []
    for doc in repo.manifests():
        api = str(doc.body.get("apiVersion", ""))
        if doc.body.get("kind") != "Kustomization" or not api.startswith(FLUX_KUSTOMIZATION):
            continue
        meta, spec = doc.body["metadata"], doc.body["spec"]
        key = (meta.get("namespace", "flux-system"), meta["name"])
        decryption = (spec.get("decryption") or {}).get("secretRef", {}).get("name")
        kustomizations.append(
            model.Kustomization(
                name=meta["name"],
                namespace=key[0],
                path=str(spec["path"]).removeprefix("./").rstrip("/"),
                prune=bool(spec.get("prune", False)),
                deployed=reached.get(key) is doc,
                decryption=decryption,
                source=doc.at("metadata", "name"),
            )
        )
    return (
        applied,
        kustomizations,
        f"{root.body['metadata'].get('namespace')}/{root.body['metadata']['name']}",
    )


# -- facts from manifests --------------------------------------------------------------------------


def _deployed(applied: list[Applied]) -> set[tuple[str, int]]:
    return {(a.doc.path, a.doc.index) for a in applied}


def _find(node: Any, key: str, trail: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (keys, value) under node whose last key is `key`, in document order."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield (*trail, k), v
            yield from _find(v, key, (*trail, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _find(v, key, (*trail, i))


def helm_releases(repo: Repo, deployed: set[tuple[str, int]]) -> list[model.HelmRelease]:
    out = []
    for doc in repo.manifests():
        if doc.body["kind"] != "HelmRelease" or "chart" not in (doc.body.get("spec") or {}):
            continue  # a patch of a release (kustomize `patches`), not a release
        spec = doc.body["spec"]["chart"]["spec"]
        tag = next(((keys, v) for keys, v in _find(doc.body["spec"].get("values") or {}, "tag") if v), None)
        out.append(
            model.HelmRelease(
                namespace=doc.body["metadata"]["namespace"],
                name=doc.body["metadata"]["name"],
                chart=str(spec["chart"]),
                version=str(spec["version"]),
                versionSource=doc.at("spec", "chart", "spec", "version"),
                appVersion=str(tag[1]) if tag else None,
                appVersionSource=doc.at("spec", "values", *tag[0]) if tag else None,
                deployed=(doc.path, doc.index) in deployed,
                source=doc.at("metadata", "name"),
            )
        )
    return out


def hosts(repo: Repo, deployed: set[tuple[str, int]]) -> list[model.Host]:
    out = []
    for doc in repo.manifests():
        kind, meta = doc.body["kind"], doc.body.get("metadata") or {}
        found: list[tuple[tuple, str]] = []
        redirect = False
        if kind == "HTTPRoute":
            names = doc.body.get("spec", {}).get("hostnames") or []
            found = [(("spec", "hostnames", i), str(h)) for i, h in enumerate(names)]
            redirect = _redirect_only(doc.body.get("spec", {}).get("rules") or [])
        elif kind == "Ingress":
            rules = doc.body.get("spec", {}).get("rules") or []
            found = [
                (("spec", "rules", i, "host"), str(r["host"])) for i, r in enumerate(rules) if "host" in r
            ]
        for keys, host in found:
            out.append(
                model.Host(
                    host=host,
                    kind=kind,
                    namespace=str(meta.get("namespace", "")),
                    name=str(meta["name"]),
                    deployed=(doc.path, doc.index) in deployed,
                    source=doc.at(*keys),
                    redirect=True if redirect else None,
                )
            )
    return out


def _redirect_only(rules: list) -> bool:
    """Every rule of an HTTPRoute only answers with a RequestRedirect (no backend)."""
    return bool(rules) and all(
        isinstance(r, dict)
        and not r.get("backendRefs")
        and any(isinstance(f, dict) and f.get("type") == "RequestRedirect" for f in r.get("filters") or [])
        for r in rules
    )


def storage_classes(repo: Repo, deployed: set[tuple[str, int]]) -> list[model.StorageClass]:
    return [
        model.StorageClass(
            name=d.body["metadata"]["name"],
            provisioner=str(d.body["provisioner"]),
            deployed=(d.path, d.index) in deployed,
            source=d.at("metadata", "name"),
        )
        for d in repo.manifests()
        if d.body["kind"] == "StorageClass"
    ]


def priority_classes(repo: Repo, deployed: set[tuple[str, int]]) -> list[model.PriorityClass]:
    return [
        model.PriorityClass(
            name=d.body["metadata"]["name"],
            value=int(d.body["value"]),
            globalDefault=bool(d.body.get("globalDefault", False)),
            deployed=(d.path, d.index) in deployed,
            source=d.at("value"),
        )
        for d in repo.manifests()
        if d.body["kind"] == "PriorityClass"
    ]


def gpu_workloads(repo: Repo, deployed: set[tuple[str, int]]) -> list[model.GpuWorkload]:
    out = []
    for doc in repo.manifests():
        if doc.body["kind"] != "HelmRelease":
            continue
        values = doc.body["spec"].get("values") or {}
        requests: dict[str, int] = {}
        first: tuple | None = None
        for keys, block in _find(values, "requests"):
            for resource in GPU_RESOURCES:
                if isinstance(block, dict) and resource in block:
                    requests[resource] = max(requests.get(resource, 0), int(block[resource]))
                    first = first or (*keys, resource)
        if not requests:
            continue
        pcs = list(_find(values, "priorityClassName"))
        out.append(
            model.GpuWorkload(
                namespace=doc.body["metadata"]["namespace"],
                name=doc.body["metadata"]["name"],
                requests=requests,
                requestsSource=doc.at("spec", "values", *first),
                priorityClass=str(pcs[0][1]) if pcs else None,
                priorityClassSource=doc.at("spec", "values", *pcs[0][0]) if pcs else None,
                deployed=(doc.path, doc.index) in deployed,
            )
        )
    return out


def sops_rules(repo: Repo) -> list[model.SopsRule]:
    docs = repo.docs(".sops.yaml")
    if not docs:
        raise DeriveError(".sops.yaml: missing or unreadable (the SOPS rules every Secret follows)")
    doc = docs[0]
    out = []
    for i, rule in enumerate(doc.body.get("creation_rules") or []):
        age = [a.strip() for a in str(rule.get("age", "")).split(",") if a.strip()]
        out.append(
            model.SopsRule(
                pathRegex=str(rule["path_regex"]),
                encryptedRegex=rule.get("encrypted_regex"),
                age=age,
                source=doc.at("creation_rules", i),
            )
        )
    return out


def objects(applied: list[Applied]) -> list[model.ObjectFact]:
    out = []
    for a in applied:
        meta = a.doc.body.get("metadata") or {}
        if "name" not in meta:
            continue
        out.append(
            model.ObjectFact(
                apiVersion=str(a.doc.body["apiVersion"]),
                kind=str(a.doc.body["kind"]),
                namespace=a.namespace,
                name=str(meta["name"]),
                kustomization=a.kustomization,
                source=a.doc.at("metadata", "name"),
            )
        )
    return out


# -- facts from the repo's prose -------------------------------------------------------------------


def _line(repo: Repo, rel: str, pattern: str, after: str | None = None) -> tuple[re.Match, str]:
    """The first line of rel matching pattern (after the first line matching `after`), and its citation."""
    lines = repo.lines(rel)
    start = 0
    if after is not None:
        start = next((i for i, line in enumerate(lines) if re.search(after, line)), None)
        if start is None:
            raise DeriveError(f"{rel}: no line matches {after!r} (the section a fact is read from)")
    for i in range(start, len(lines)):
        match = re.search(pattern, lines[i])
        if match:
            return match, f"{rel}:{i + 1}"
    raise DeriveError(f"{rel}: no line matches {pattern!r} (the text a fact is read from changed)")


# README.md's node list: "- **k3s3** (R630): GPU compute worker with ... (192.168.10.31)"
NODE_LINE = r"^- \*\*(?P<name>[\w-]+)\*\* \((?P<hw>[^)]*)\): (?P<what>.*) \((?P<ip>\d+\.\d+\.\d+\.\d+)\)\s*$"


def nodes(repo: Repo) -> list[model.Node]:
    out = []
    for i, line in enumerate(repo.lines("README.md")):
        m = re.match(NODE_LINE, line)
        if not m:
            continue
        vm = re.match(r"VM on (\S+)", m["hw"])
        out.append(
            {
                "name": m["name"],
                "role": "server" if "control plane" in m["what"].lower() else "agent",
                "address": m["ip"],
                "source": f"README.md:{i + 1}",
                "hardware": m["hw"],
                "vmHost": vm[1] if vm else None,
            }
        )
    if not out:
        raise DeriveError("README.md: no node line ('- **name** (hardware): role (address)')")
    # Sizes only where CLUSTER-SETUP.md gives them: k3s-master1's VM and the R630.
    setup = "CLUSTER-SETUP.md"
    mem, src = _line(repo, setup, r"Resources\*\*: (\d+)GB RAM, (\d+) vCPUs", after=r"^#### k3s-master1")
    sizes = {"k3s-master1": (int(mem[2]), int(mem[1]), src)}
    cpu, src = _line(repo, setup, r"CPU\*\*: .*\((\d+) cores", after=r"^#### Dell R630 \(k3s3\)")
    ram, _ = _line(repo, setup, r"RAM\*\*: (\d+)GB", after=r"^#### Dell R630 \(k3s3\)")
    sizes["k3s3"] = (int(cpu[1]), int(ram[1]), src)
    for node in out:
        if node["name"] in sizes:
            cores, memory, source = sizes[node["name"]]
            node.update(cores=cores, memoryGiB=memory, resourcesSource=source)
    return [model.Node(**n) for n in out]


def control_plane(repo: Repo, nodes_: list[model.Node], applied: list[Applied]) -> model.ControlPlane:
    servers = [n for n in nodes_ if n.role == "server"]
    if not servers:
        raise DeriveError("README.md: no node is named the control plane")
    etcd, etcd_src = _line(repo, "REBUILD-LOG-2025-06-16.md", r"initialized with (embedded etcd|SQLite)")
    version, version_src = _line(repo, "REBUILD-LOG-2025-06-16.md", r"K3s (v[\w.+-]+) installed on")
    cilium = next(
        (
            a.doc
            for a in applied
            if a.doc.body["kind"] == "HelmRelease" and a.doc.body["metadata"]["name"] == "cilium"
        ),
        None,
    )
    if cilium is None:
        raise DeriveError("no deployed HelmRelease cilium (the CNI that reaches the API server)")
    values = cilium.body["spec"]["values"]
    old, old_src = _line(repo, OLD_HA_PLAN, r"\*\*Single Node\*\*: (\S+) \(master\)")
    return model.ControlPlane(
        servers=[s.name for s in servers],
        serversSource=servers[0].source,
        datastore="etcd" if "etcd" in etcd[1] else "sqlite",
        datastoreSource=etcd_src,
        k3sVersion=version[1],
        k3sVersionSource=version_src,
        apiEndpoint=f"{values['k8sServiceHost']}:{values.get('k8sServicePort', 6443)}",
        apiEndpointSource=cilium.at("spec", "values", "k8sServiceHost"),
        kubeProxyReplacement=bool(values.get("kubeProxyReplacement", False)),
        kubeProxyReplacementSource=cilium.at("spec", "values", "kubeProxyReplacement"),
        seed=model.Seed(value=old[1], source=old_src) if old[1] != servers[0].name else None,
    )


def gpu_pools(repo: Repo, nodes_: list[model.Node], applied: list[Applied]) -> list[model.GpuPool]:
    by_kind = {}
    for a in applied:
        by_kind.setdefault(a.doc.body["kind"], []).append(a.doc)
    pools = []
    # NVIDIA: the device plugin's time-slicing config, and the T4s CLUSTER-SETUP.md counts on the R630.
    config = next(
        (
            d
            for d in by_kind.get("ConfigMap", [])
            if d.body["metadata"]["name"] == "nvidia-device-plugin-config"
        ),
        None,
    )
    if config is not None:
        key = next(iter(config.body["data"]))
        inner = YAML(typ="rt").load(str(config.body["data"][key]))
        entries = inner["sharing"]["timeSlicing"]["resources"]
        # The literal block starts on the line after its key; inner lines count from there.
        base = config.body["data"].lc.key(key)[0] + 1
        gpu, gpu_src = _line(
            repo, "CLUSTER-SETUP.md", r"GPU\*\*: NVIDIA (?:(\d+)x )?(Tesla \w+)", after=r"\(k3s3\)"
        )
        seed, seed_src = _line(repo, OPERATIONS_REPORT, r"\*\*(k3s\d)\*\*: .*\((\d+)x Tesla T4\)")
        gpu_nodes = [
            n.name for n in nodes_ if "NVIDIA" in repo.lines("README.md")[int(n.source.split(":")[1]) - 1]
        ]
        devices = int(gpu[1] or 1)
        for i, entry in enumerate(entries):
            pools.append(
                model.GpuPool(
                    resource=str(entry["name"]),
                    nodes=gpu_nodes,
                    devicesPerNode=devices,
                    devicesSource=gpu_src,
                    replicas=int(entry["replicas"]),
                    replicasSource=f"{config.path}:{base + entries.lc.item(i)[0] + 2}",
                    seed=model.Seed(value=int(seed[2]), source=seed_src) if int(seed[2]) != devices else None,
                )
            )
    # Intel: the operator's GpuDevicePlugin shares each iGPU sharedDevNum ways, on the QuickSync nodes.
    for cr in by_kind.get("GpuDevicePlugin", []):
        readme = repo.lines("README.md")
        qs_nodes = [n for n in nodes_ if "QuickSync" in readme[int(n.source.split(":")[1]) - 1]]
        pools.append(
            model.GpuPool(
                resource=INTEL_RESOURCE,
                nodes=[n.name for n in qs_nodes],
                devicesPerNode=1,  # one integrated GPU per OptiPlex
                devicesSource=qs_nodes[0].source if qs_nodes else "README.md",
                replicas=int(cr.body["spec"].get("sharedDevNum", 1)),
                replicasSource=cr.at("spec", "sharedDevNum"),
            )
        )
    return pools


def derive(root: Path) -> model.Facts:
    repo = Repo(root)
    applied, kustomizations, root_name = reach(repo)
    deployed = _deployed(applied)
    classes = storage_classes(repo, deployed)
    provisioners = {c.provisioner: c.source for c in classes if c.deployed}
    _, local_src = _line(repo, "REBUILD-LOG-2025-06-16.md", r"Local-path storage provisioner active")
    provisioners.setdefault(LOCAL_PATH, local_src)
    nodes_ = nodes(repo)
    return model.Facts(
        repository=REPOSITORY,
        commit=repo.commit(),
        root=root_name,
        kustomizations=kustomizations,
        helmReleases=helm_releases(repo, deployed),
        hosts=hosts(repo, deployed),
        storageClasses=classes,
        provisioners=dict(sorted(provisioners.items())),
        priorityClasses=priority_classes(repo, deployed),
        gpuPools=gpu_pools(repo, nodes_, applied),
        gpuWorkloads=gpu_workloads(repo, deployed),
        nodes=nodes_,
        controlPlane=control_plane(repo, nodes_, applied),
        sops=sops_rules(repo),
        objects=objects(applied),
    )
