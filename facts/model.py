"""The cluster as its Flux repository says at one commit: every fact with the `file:line` it came from.

The model is the contract between `facts.derive` (the repo -> facts) and everything that judges or builds
(config validation, rules, the embedded cluster, the HA plan). It is plain data: no derivation, no I/O.
Where one of the user's seeds gives another figure, the fact keeps it in `seed` beside the repo's value;
the repo wins (design.md §2).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Seed(Model):
    """A figure one of the user's documents gives where the repo at HEAD says otherwise."""

    value: Any
    source: str  # file:line (the repo's copy of the document, so the citation can be re-read)


class Kustomization(Model):
    """A Flux Kustomization and whether the root reaches it (only a reached one is applied)."""

    name: str
    namespace: str
    path: str
    prune: bool
    deployed: bool
    decryption: str | None = None  # the SOPS secretRef, when it decrypts
    source: str


class ObjectFact(Model):
    """One object a reached Flux Kustomization applies, and the file that declares it (its owner today)."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str | None = None
    name: str
    kustomization: str  # flux-system/<name> of the Flux Kustomization that applies it
    source: str

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


class HelmRelease(Model):
    namespace: str
    name: str
    chart: str
    version: str
    version_source: str = Field(alias="versionSource")
    # The image tag the values pin, when they pin one; else the chart's default (see facts.upstream).
    app_version: str | None = Field(default=None, alias="appVersion")
    app_version_source: str | None = Field(default=None, alias="appVersionSource")
    deployed: bool
    source: str


class Host(Model):
    host: str
    kind: str  # HTTPRoute | Ingress
    namespace: str
    name: str
    deployed: bool
    source: str
    # True for an HTTPRoute whose every rule only redirects (RequestRedirect, e.g. http -> https): it
    # serves nothing. Absent otherwise.
    redirect: bool | None = None


class StorageClass(Model):
    name: str
    provisioner: str
    deployed: bool
    source: str


class PriorityClass(Model):
    name: str
    value: int
    global_default: bool = Field(default=False, alias="globalDefault")
    deployed: bool
    source: str


class GpuWorkload(Model):
    """A HelmRelease whose values request a GPU resource, with the class its pods run at."""

    namespace: str
    name: str
    requests: dict[str, int]
    requests_source: str = Field(alias="requestsSource")
    priority_class: str | None = Field(default=None, alias="priorityClass")
    priority_class_source: str | None = Field(default=None, alias="priorityClassSource")
    deployed: bool


class GpuPool(Model):
    """A GPU resource as its device plugin advertises it: devices per node times the sharing factor."""

    resource: str
    nodes: list[str]
    devices_per_node: int = Field(alias="devicesPerNode")
    devices_source: str = Field(alias="devicesSource")
    replicas: int  # time-slicing replicas (nvidia) or sharedDevNum (intel); 1 when not shared
    replicas_source: str = Field(alias="replicasSource")
    seed: Seed | None = None

    @property
    def capacity(self) -> int:
        return len(self.nodes) * self.devices_per_node * self.replicas


class Node(Model):
    name: str
    role: str  # server | agent
    address: str
    source: str
    hardware: str
    cores: int | None = None
    memory_gib: int | None = Field(default=None, alias="memoryGiB")
    resources_source: str | None = Field(default=None, alias="resourcesSource")
    vm_host: str | None = Field(default=None, alias="vmHost")  # the physical machine a VM runs on


class ControlPlane(Model):
    servers: list[str]
    servers_source: str = Field(alias="serversSource")
    datastore: str  # etcd | sqlite
    datastore_source: str = Field(alias="datastoreSource")
    k3s_version: str = Field(alias="k3sVersion")
    k3s_version_source: str = Field(alias="k3sVersionSource")
    # Where Cilium (kube-proxy replacement) reaches the API server: it must move with any HA change.
    api_endpoint: str = Field(alias="apiEndpoint")
    api_endpoint_source: str = Field(alias="apiEndpointSource")
    kube_proxy_replacement: bool = Field(alias="kubeProxyReplacement")
    kube_proxy_replacement_source: str = Field(alias="kubeProxyReplacementSource")
    seed: Seed | None = None


class SopsRule(Model):
    path_regex: str = Field(alias="pathRegex")
    encrypted_regex: str | None = Field(default=None, alias="encryptedRegex")
    age: list[str]
    source: str


class Facts(Model):
    """Everything `make facts` derives from one commit of the Flux repo."""

    repository: str
    commit: str
    root: str  # the Flux Kustomization everything is reached from
    kustomizations: list[Kustomization]
    helm_releases: list[HelmRelease] = Field(alias="helmReleases")
    hosts: list[Host]
    storage_classes: list[StorageClass] = Field(alias="storageClasses")
    # Provisioners that run on the cluster: a deployed driver's, or k3s's packaged local-path.
    provisioners: dict[str, str]  # provisioner -> source
    priority_classes: list[PriorityClass] = Field(alias="priorityClasses")
    gpu_pools: list[GpuPool] = Field(alias="gpuPools")
    gpu_workloads: list[GpuWorkload] = Field(alias="gpuWorkloads")
    nodes: list[Node]
    control_plane: ControlPlane = Field(alias="controlPlane")
    sops: list[SopsRule]
    objects: list[ObjectFact]

    def release(self, namespace: str, name: str) -> HelmRelease:
        for release in self.helm_releases:
            if (release.namespace, release.name) == (namespace, name):
                return release
        raise KeyError(f"HelmRelease {namespace}/{name} is not in the Flux repo's facts")

    def routed_hosts(self) -> dict[str, Host]:
        return {h.host: h for h in self.hosts if h.deployed}

    def pool(self, resource: str) -> GpuPool | None:
        return next((p for p in self.gpu_pools if p.resource == resource), None)

    def storage_class(self, name: str) -> StorageClass | None:
        deployed = [c for c in self.storage_classes if c.name == name and c.deployed]
        return deployed[0] if deployed else next((c for c in self.storage_classes if c.name == name), None)

    def owner(self, kind: str, name: str, namespace: str | None = None) -> ObjectFact | None:
        """The Flux file that declares this object today, or None when Flux does not apply it."""
        for obj in self.objects:
            if (obj.kind, obj.name, obj.namespace) == (kind, name, namespace):
                return obj
        return None
