"""toolchain/live-baseline: the objects Flux, Helm, the operators and local-path keep in the live cluster.

Checks that the manifests hang together the way the real controllers need them to: every object names its
source, StatefulSet claims carry the names the StatefulSet controller adopts, every claim/volume pair is
bound both ways, every reference (namespace, class, claim, chart source) resolves, and nothing carries the
kubectl annotation that made the old imports pass by construction.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

import facts

ROOT = Path(__file__).resolve().parents[3]
BASELINE = ROOT / "toolchain" / "live-baseline"
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"
SEED = "k3s-home.dev/seed-source"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Sources that are not a file of the Flux repo: objects a controller or k3s itself creates.
CONTROLLERS = {
    "local-path-provisioner",
    "prometheus-operator",
    "statefulset-controller",
    "k3s (packaged manifest local-storage.yaml)",
    "k3s (packaged manifest runtimes.yaml)",
}
CLUSTER_SCOPED = {"Namespace", "PriorityClass", "StorageClass", "RuntimeClass", "PersistentVolume"}
BUILTIN_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}
LOCAL_PATH_DIR = "/var/lib/rancher/k3s/storage"


def _load() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(BASELINE.glob("*.yaml")):
        out += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return out


OBJECTS = _load()


def _of(kind: str) -> list[dict]:
    return [o for _, o in OBJECTS if o["kind"] == kind]


def _key(o: dict) -> tuple[str, str | None, str]:
    return (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])


def _by_name(kind: str) -> dict[tuple[str | None, str], dict]:
    return {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in _of(kind)}


def _pod_templates() -> list[dict]:
    return _of("Deployment") + _of("StatefulSet")


def _id(item: tuple[str, dict]) -> str:
    name, o = item
    return f"{name}:{o.get('kind')}/{o.get('metadata', {}).get('name')}"


def test_the_baseline_holds_what_the_issue_lists():
    kinds = Counter(o["kind"] for _, o in OBJECTS)
    for kind in (
        "Namespace",
        "PriorityClass",
        "StorageClass",
        "HelmRepository",
        "HelmRelease",
        "StatefulSet",
        "Deployment",
        "PersistentVolume",
        "PersistentVolumeClaim",
    ):
        assert kinds[kind] > 0, f"no {kind} in {BASELINE}"
    releases = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in _of("HelmRelease")}
    assert {
        ("monitoring", "kube-prometheus-stack"),
        ("monitoring", "loki"),
        ("media", "bazarr"),
        ("media", "jellyfin"),
        ("ai", "ollama"),
        ("ai", "open-webui"),
        ("ai", "automatic1111"),
    } <= releases
    sts = {o["metadata"]["name"] for o in _of("StatefulSet")}
    assert sts == {
        "prometheus-kube-prometheus-stack-prometheus",
        "alertmanager-kube-prometheus-stack-alertmanager",
        "loki",
    }


@pytest.mark.parametrize("item", OBJECTS, ids=[_id(i) for i in OBJECTS])
def test_every_object_is_complete_and_names_its_source(item):
    _, o = item
    assert o.get("apiVersion") and o.get("kind") and o.get("metadata", {}).get("name")
    assert (o["kind"] in CLUSTER_SCOPED) == ("namespace" not in o["metadata"])
    annotations = o["metadata"].get("annotations") or {}
    source = annotations.get(SEED, "")
    assert source in CONTROLLERS or re.fullmatch(r"clusters/k3s-home/[\w./-]+\.yaml", source), source
    assert LAST_APPLIED not in annotations


def test_no_object_is_defined_twice():
    dup = [k for k, n in Counter(_key(o) for _, o in OBJECTS).items() if n > 1]
    assert not dup


def test_no_last_applied_configuration_anywhere():
    # also not in pod templates or claim templates, where the per-object check does not look
    assert all(LAST_APPLIED not in path.read_text() for path in BASELINE.glob("*.yaml"))


def test_namespaced_objects_live_in_seeded_namespaces():
    namespaces = {o["metadata"]["name"] for o in _of("Namespace")} | BUILTIN_NAMESPACES
    missing = {o["metadata"]["namespace"] for _, o in OBJECTS if "namespace" in o["metadata"]} - namespaces
    assert not missing


def test_priority_classes_as_the_repo_defines_them():
    classes = {o["metadata"]["name"]: o for o in _of("PriorityClass")}
    assert {n: o["value"] for n, o in classes.items()} == {
        "critical": 1000,
        "high-priority": 900,
        "medium-priority": 700,
        "low-priority": 500,
        "batch": 200,
        "critical-gpu": 1000,
        "normal-gpu": 700,
        "batch-gpu": 200,
    }
    assert [n for n, o in classes.items() if o["globalDefault"]] == ["medium-priority"]
    assert all(o.get("description") for o in classes.values())


def test_statefulset_claims_follow_the_controller_naming():
    claims = _by_name("PersistentVolumeClaim")
    for sts in _of("StatefulSet"):
        ns, name, spec = sts["metadata"]["namespace"], sts["metadata"]["name"], sts["spec"]
        selector = spec["selector"]["matchLabels"]
        assert spec["template"]["metadata"]["labels"].items() >= selector.items()
        for template in spec["volumeClaimTemplates"]:
            for ordinal in range(spec["replicas"]):
                claim_name = f"{template['metadata']['name']}-{name}-{ordinal}"
                claim = claims.get((ns, claim_name))
                assert claim is not None, f"{ns}/{claim_name} (claim of StatefulSet {name}) is not seeded"
                # the controller copies the selector labels onto the claims it creates
                assert claim["metadata"].get("labels", {}).items() >= selector.items()
                assert claim["spec"]["storageClassName"] == template["spec"]["storageClassName"]
                assert claim["spec"]["resources"] == template["spec"]["resources"]
                assert claim["spec"]["accessModes"] == template["spec"]["accessModes"]


def test_every_claim_and_volume_are_bound_to_each_other():
    volumes = _by_name("PersistentVolume")
    claims = _by_name("PersistentVolumeClaim")
    for (ns, name), claim in claims.items():
        pv_name = claim["spec"].get("volumeName")
        assert pv_name, f"{ns}/{name} has no spec.volumeName"
        pv = volumes.get((None, pv_name))
        assert pv is not None, f"{ns}/{name} names PV {pv_name}, which is not seeded"
        ref = pv["spec"].get("claimRef") or {}
        assert (ref.get("namespace"), ref.get("name")) == (ns, name)
        assert "uid" not in ref  # filled at seed time, from the claim the API server created
        assert pv["spec"]["storageClassName"] == claim["spec"]["storageClassName"]
        assert set(claim["spec"]["accessModes"]) <= set(pv["spec"]["accessModes"])
        assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    for (_, name), pv in volumes.items():
        ref = pv["spec"].get("claimRef")
        if ref:
            claim = claims.get((ref["namespace"], ref["name"]))
            assert claim is not None and claim["spec"]["volumeName"] == name


def test_local_path_volumes_have_the_provisioner_shape():
    volumes = [pv for pv in _of("PersistentVolume") if pv["spec"]["storageClassName"] == "local-path"]
    assert volumes
    for pv in volumes:
        meta, spec, ref = pv["metadata"], pv["spec"], pv["spec"]["claimRef"]
        node = meta["annotations"]["local.path.provisioner/selected-node"]
        assert meta["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
        assert meta["name"].startswith("pvc-")
        assert spec["local"]["path"] == f"{LOCAL_PATH_DIR}/{meta['name']}_{ref['namespace']}_{ref['name']}"
        [term] = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
        assert term["matchExpressions"] == [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
        ]
        assert spec["persistentVolumeReclaimPolicy"] == "Delete"
        claim = _by_name("PersistentVolumeClaim")[(ref["namespace"], ref["name"])]
        annotations = claim["metadata"]["annotations"]
        assert annotations["volume.kubernetes.io/selected-node"] == node
        assert annotations["volume.kubernetes.io/storage-provisioner"] == "rancher.io/local-path"


def test_local_path_class_is_k3s_packaged_one():
    [sc] = [o for o in _of("StorageClass") if o["metadata"]["name"] == "local-path"]
    assert sc["provisioner"] == "rancher.io/local-path"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["reclaimPolicy"] == "Delete"
    # this annotation is why the volumes above use spec.local
    assert sc["metadata"]["annotations"]["defaultVolumeType"] == "local"


def test_workload_references_resolve():
    claims = _by_name("PersistentVolumeClaim")
    priority = {o["metadata"]["name"] for o in _of("PriorityClass")}
    runtime = {o["metadata"]["name"] for o in _of("RuntimeClass")}
    accounts = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in _of("ServiceAccount")}
    for w in _pod_templates():
        ns, spec = w["metadata"]["namespace"], w["spec"]
        assert spec["template"]["metadata"]["labels"].items() >= spec["selector"]["matchLabels"].items()
        pod = spec["template"]["spec"]
        for vol in pod.get("volumes", []):
            if "persistentVolumeClaim" in vol:
                assert (ns, vol["persistentVolumeClaim"]["claimName"]) in claims
        mounted = {v["name"] for v in pod.get("volumes", [])} | {
            t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])
        }
        for c in pod["containers"]:
            assert {m["name"] for m in c.get("volumeMounts", [])} <= mounted
        assert pod.get("priorityClassName", "medium-priority") in priority
        assert pod.get("runtimeClassName", "nvidia") in runtime
        sa = pod.get("serviceAccountName", "default")
        assert sa == "default" or (ns, sa) in accounts


def test_gpu_workloads_as_their_releases_render_them():
    deployments = {o["metadata"]["name"]: o["spec"]["template"]["spec"] for o in _of("Deployment")}
    expected = {
        "jellyfin": ("critical", "k3s1", "gpu.intel.com/i915", None),
        "ollama": ("normal-gpu", "k3s3", "nvidia.com/gpu", "nvidia"),
        "automatic1111": ("batch-gpu", "k3s3", "nvidia.com/gpu", "nvidia"),
    }
    for name, (pc, node, resource, runtime) in expected.items():
        pod = deployments[name]
        [main] = pod["containers"]
        assert pod["priorityClassName"] == pc
        assert pod["nodeSelector"] == {"kubernetes.io/hostname": node}
        assert pod.get("runtimeClassName") == runtime
        res = main["resources"]
        assert str(res["requests"][resource]) == str(res["limits"][resource]) == "1"
    assert "priorityClassName" not in deployments["open-webui"]


def test_helm_releases_resolve_their_chart_source():
    repos = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in _of("HelmRepository")}
    for hr in _of("HelmRelease"):
        assert hr["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
        ref = hr["spec"]["chart"]["spec"]["sourceRef"]
        assert ref["kind"] == "HelmRepository"
        assert (ref.get("namespace", hr["metadata"]["namespace"]), ref["name"]) in repos
        assert "finalizers" not in hr["metadata"]


def test_monitoring_claims_match_the_stack_records():
    """The stack adopts these volumes unchanged in its plan phase: its record and the seed must agree."""
    stack = yaml.safe_load(STACK_FILE.read_text())["config"]["k3s-home:storage"]
    [monitoring] = [m for m in stack["migrations"] if m["name"] == "monitoring"]
    claims = _by_name("PersistentVolumeClaim")
    volumes = _by_name("PersistentVolume")
    for record in monitoring["pvcs"]:
        claim = claims[(record["namespace"], record["name"])]
        pv = volumes[(None, record["source"]["volume"])]
        assert claim["spec"]["volumeName"] == record["source"]["volume"]
        assert claim["spec"]["storageClassName"] == record["currentClass"]
        assert claim["spec"]["resources"]["requests"]["storage"] == record["size"]
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == record["source"]["reclaimPolicy"]
        node = pv["metadata"]["annotations"]["local.path.provisioner/selected-node"]
        assert node == record["source"]["node"]
        # the directory is the same; the volume type is not (the stack writes hostPath, k3s writes local)
        assert pv["spec"]["local"]["path"] == record["source"]["hostPath"]


def test_docs_list_every_seeded_object_with_its_source():
    doc = (ROOT / "docs" / "live-baseline.md").read_text()
    rows = set(re.findall(r"^\| ([\w.-]+\.yaml) \| (\w+) \| `([^`]+)` \| `?([^`|]+?)`? \|$", doc, re.M))
    seeded = set()
    for file, o in OBJECTS:
        md = o["metadata"]
        name = f"{md['namespace']}/{md['name']}" if "namespace" in md else md["name"]
        seeded.add((file, o["kind"], name, md["annotations"][SEED]))
    assert rows == seeded


# The baseline against the facts (facts/k3s-home.yaml, derived from the Flux repo at HEAD): nothing is
# seeded that the facts say the cluster does not have, and what they say it has is there (ADR 0025).


def _deployed_release_files(f) -> set[str]:
    return {r.source.split(":")[0] for r in f.helm_releases if r.deployed}


def test_every_repo_object_seeded_is_deployed_per_the_facts():
    """An object citing a Flux repo file is one a reached Kustomization applies (facts.objects), or an
    object a deployed HelmRelease's chart renders (cited by that release's file)."""
    f = facts.load()
    releases = _deployed_release_files(f)
    undeployed = []
    for file, o in OBJECTS:
        md = o["metadata"]
        source = md["annotations"][SEED]
        if source in CONTROLLERS:
            continue
        if f.owner(o["kind"], md["name"], md.get("namespace")) is None and source not in releases:
            undeployed.append(f"{file}: {o['kind']} {md.get('namespace', '')}/{md['name']} ({source})")
    assert not undeployed, "\n".join(undeployed)


def test_storage_classes_are_the_deployed_ones_and_k3s_local_path():
    f = facts.load()
    deployed = {c.name for c in f.storage_classes if c.deployed}
    assert "rancher.io/local-path" in f.provisioners  # k3s packages it
    assert {o["metadata"]["name"] for o in _of("StorageClass")} == deployed | {"local-path"}
    assert not any(o["provisioner"] == "driver.longhorn.io" for o in _of("StorageClass"))
    assert all(not c.deployed for c in f.storage_classes if c.name.startswith("longhorn-"))
    assert "longhorn-system" not in {o["metadata"]["name"] for o in _of("Namespace")}


def test_helm_releases_agree_with_the_facts():
    f = facts.load()
    for hr in _of("HelmRelease"):
        md, chart = hr["metadata"], hr["spec"]["chart"]["spec"]
        fact = f.release(md["namespace"], md["name"])
        assert fact.deployed
        assert (chart["chart"], str(chart["version"])) == (fact.chart, fact.version)
        assert md["annotations"][SEED] == fact.source.split(":")[0]


def test_authentik_is_seeded_as_the_repo_deploys_it():
    f = facts.load()
    auth = {r.name for r in f.helm_releases if r.namespace == "authentik" and r.deployed}
    assert auth == {"authentik", "authentik-postgresql", "authentik-redis"}
    seeded = {
        o["metadata"]["name"]: o for o in _of("HelmRelease") if o["metadata"]["namespace"] == "authentik"
    }
    assert set(seeded) == auth
    [ns] = [o for o in _of("Namespace") if o["metadata"]["name"] == "authentik"]
    assert ns["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "auth"
    assert seeded["authentik"]["spec"]["dependsOn"] == [
        {"name": "authentik-postgresql", "namespace": "authentik"},
        {"name": "authentik-redis", "namespace": "authentik"},
    ]
