"""facts.derive over a small Flux repo built here: what the root reaches, and the file:line of each fact."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from facts.derive import DeriveError, derive

C = "clusters/k3s-home"

FILES = {
    f"{C}/flux-system/gotk-sync.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  path: ./clusters/k3s-home
  prune: true
""",
    f"{C}/kustomization.yaml": "resources:\n  - workloads\n",
    f"{C}/workloads/kustomization.yaml": "resources:\n  - sync.yaml\n",
    f"{C}/workloads/sync.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: apps, namespace: flux-system }
spec:
  path: ./clusters/k3s-home/apps
  prune: true
  decryption: {provider: sops, secretRef: {name: sops-age}}
""",
    # No kustomization.yaml: Flux generates one with every manifest below.
    f"{C}/apps/ai/app.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ollama
  namespace: ai
spec:
  chart:
    spec:
      chart: app-template
      version: 3.7.3
  values:
    controllers:
      main:
        pod:
          priorityClassName: normal-gpu
        containers:
          main:
            image: {repository: ollama/ollama, tag: "0.5.1"}
            resources:
              requests:
                nvidia.com/gpu: 1
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ollama, namespace: ai}
spec:
  hostnames:
    - ollama.example.net
""",
    f"{C}/apps/storage/kustomization.yaml": "namespace: media\nresources: [classes.yaml, claim.yaml]\n",
    f"{C}/apps/storage/classes.yaml": """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-ssd}
provisioner: kubernetes.io/no-provisioner
""",
    f"{C}/apps/storage/claim.yaml": """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec: {}
""",
    # In Git, reached by nothing: not deployed.
    f"{C}/unwired/longhorn.yaml": """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: longhorn-replicated}
provisioner: driver.longhorn.io
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: longhorn, namespace: longhorn-system}
spec:
  chart: {spec: {chart: longhorn, version: 1.9.0}}
""",
    f"{C}/infrastructure/gpu/configmap.yaml": """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: nvidia-device-plugin-config
  namespace: nvidia-device-plugin
data:
  config.yaml: |
    version: v1
    sharing:
      timeSlicing:
        resources:
        - name: nvidia.com/gpu
          replicas: 4
""",
    f"{C}/apps/gpu.yaml": """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: gpu, namespace: flux-system }
spec:
  path: ./clusters/k3s-home/infrastructure/gpu
  prune: false
""",
    f"{C}/apps/cilium.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cilium, namespace: kube-system}
spec:
  chart: {spec: {chart: cilium, version: 1.17.4}}
  values:
    k8sServiceHost: "192.168.10.30"
    kubeProxyReplacement: true
""",
    ".sops.yaml": "creation_rules:\n  - path_regex: .*secret.*\\.yaml$\n"
    "    encrypted_regex: ^(data|stringData)$\n    age: age1abc\n",
    "README.md": "# nodes\n- **k3s-master1** (VM on R730): Control plane (192.168.10.30)\n"
    "- **k3s3** (R630): GPU compute worker with NVIDIA Tesla T4 (192.168.10.31)\n",
    "CLUSTER-SETUP.md": "#### Dell R630 (k3s3)\n- **CPU**: Xeon (32 cores, 64 threads)\n- **RAM**: 384GB\n"
    "- **GPU**: NVIDIA Tesla T4 16GB\n#### k3s-master1\n- **Resources**: 8GB RAM, 4 vCPUs, 24GB root disk\n",
    "REBUILD-LOG-2025-06-16.md": "- K3s v1.32.5+k3s1 installed on k3s-master1\n"
    "- Single-node cluster initialized with embedded etcd\n- Local-path storage provisioner active\n",
    "docs/48-hour-autonomous-operation-final-report.md": "- **k3s3**: AI workloads (4x Tesla T4)\n",
    "docs/high-availability-plan.md": "- **Single Node**: k3s1 (master)\n",
}


def make_repo(root: Path, files: dict[str, str] = FILES) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "repo"], check=True)
    return root


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory):
    return derive(make_repo(tmp_path_factory.mktemp("flux")))


def test_only_what_the_root_reaches_is_deployed(facts) -> None:
    deployed = {k.name: k.deployed for k in facts.kustomizations}
    assert deployed == {"flux-system": True, "apps": True, "gpu": True}
    assert {c.name: c.deployed for c in facts.storage_classes} == {
        "local-ssd": True,
        "longhorn-replicated": False,
    }
    assert facts.release("longhorn-system", "longhorn").deployed is False
    assert "driver.longhorn.io" not in facts.provisioners
    assert facts.provisioners["kubernetes.io/no-provisioner"] == f"{C}/apps/storage/classes.yaml:3"
    assert facts.provisioners["rancher.io/local-path"] == "REBUILD-LOG-2025-06-16.md:3"


def test_each_fact_cites_its_line(facts) -> None:
    ollama = facts.release("ai", "ollama")
    assert (ollama.version, ollama.version_source) == ("3.7.3", f"{C}/apps/ai/app.yaml:10")
    assert (ollama.app_version, ollama.app_version_source) == ("0.5.1", f"{C}/apps/ai/app.yaml:18")
    host = facts.routed_hosts()["ollama.example.net"]
    assert host.source == f"{C}/apps/ai/app.yaml:28"
    pool = facts.pool("nvidia.com/gpu")
    assert (pool.capacity, pool.devices_source, pool.replicas_source) == (
        4,
        "CLUSTER-SETUP.md:4",
        f"{C}/infrastructure/gpu/configmap.yaml:13",
    )
    assert (pool.seed.value, pool.seed.source) == (4, "docs/48-hour-autonomous-operation-final-report.md:1")
    [workload] = facts.gpu_workloads
    assert (workload.name, workload.requests, workload.priority_class) == (
        "ollama",
        {"nvidia.com/gpu": 1},
        "normal-gpu",
    )
    assert workload.priority_class_source == f"{C}/apps/ai/app.yaml:15"


def test_the_control_plane_and_its_api_endpoint(facts) -> None:
    cp = facts.control_plane
    assert (cp.servers, cp.datastore, cp.k3s_version) == (["k3s-master1"], "etcd", "v1.32.5+k3s1")
    assert (cp.api_endpoint, cp.api_endpoint_source) == ("192.168.10.30:6443", f"{C}/apps/cilium.yaml:7")
    assert (cp.seed.value, cp.seed.source) == ("k3s1", "docs/high-availability-plan.md:1")
    master = next(n for n in facts.nodes if n.name == "k3s-master1")
    assert (master.cores, master.memory_gib, master.vm_host, master.role) == (4, 8, "R730", "server")


def test_a_kustomization_namespace_applies_below_it(facts) -> None:
    claim = facts.owner("PersistentVolumeClaim", "data", "media")
    assert claim is not None and claim.kustomization == "flux-system/apps"
    assert facts.owner("StorageClass", "local-ssd").namespace is None  # cluster-scoped stays unnamespaced
    assert facts.owner("StorageClass", "longhorn-replicated") is None  # in Git, applied by nobody


def test_sops_rules(facts) -> None:
    [rule] = facts.sops
    assert (rule.encrypted_regex, rule.age, rule.source) == (
        "^(data|stringData)$",
        ["age1abc"],
        ".sops.yaml:2",
    )


def test_prose_that_changed_shape_fails_loudly(tmp_path: Path) -> None:
    files = {**FILES, "REBUILD-LOG-2025-06-16.md": "- Local-path storage provisioner active\n"}
    with pytest.raises(DeriveError, match=r"REBUILD-LOG-2025-06-16.md: no line matches"):
        derive(make_repo(tmp_path, files))


def test_no_root_kustomization_is_an_error(tmp_path: Path) -> None:
    files = {k: v for k, v in FILES.items() if "gotk-sync" not in k}
    with pytest.raises(DeriveError, match=r"gotk-sync\.yaml: no Flux Kustomization"):
        derive(make_repo(tmp_path, files))
