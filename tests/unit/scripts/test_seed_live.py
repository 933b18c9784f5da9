"""The embedded cluster's seed: nodes from the facts, volumes as local-path makes them, and the
facts record-migration-sources reads back from a bound claim."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from lightkube.codecs import from_dict

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import record_sources  # noqa: E402
import seed_live  # noqa: E402

import facts  # noqa: E402
from components.config import load_stack_file  # noqa: E402
from tests.conftest import TEST_TODAY  # noqa: E402

CLAIM = {
    "apiVersion": "v1",
    "kind": "PersistentVolumeClaim",
    "metadata": {
        "name": "storage-loki-0",
        "namespace": "monitoring",
        "annotations": {seed_live.SELECTED_NODE: "k3s1"},
    },
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}},
}


@pytest.fixture(scope="module")
def stack_cfg():
    return load_stack_file(ROOT / "Pulumi.k3s-home.yaml", today=TEST_TODAY)


@pytest.fixture(scope="module")
def nodes(stack_cfg) -> dict[str, dict]:
    return {n["metadata"]["name"]: n for n in seed_live.nodes(facts.load(), stack_cfg)}


def _gpus(node: dict) -> dict[str, str]:
    return {k: v for k, v in node["status"]["allocatable"].items() if "gpu" in k}


def test_nodes_are_the_facts_nodes(nodes):
    f = facts.load()
    assert list(nodes) == [n.name for n in f.nodes] == ["k3s-master1", "k3s1", "k3s2", "k3s3"]
    for fact in f.nodes:
        node = nodes[fact.name]
        assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": fact.address}
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == fact.name
        # KWOK manages exactly the nodes annotated as fake; the seed source is the fact's file:line
        assert node["metadata"]["annotations"] == {
            "kwok.x-k8s.io/node": "fake",
            "k3s-home.dev/seed-source": f"facts: {fact.source}",
        }
    assert nodes["k3s-master1"]["status"]["addresses"][0]["address"] == "192.168.10.30"


def test_gpu_capacity_is_the_facts_pool_capacity(nodes):
    for pool in facts.load().gpu_pools:
        advertised = [int(n["status"]["allocatable"].get(pool.resource, 0)) for n in nodes.values()]
        assert sum(advertised) == pool.capacity, pool.resource
    # 1 T4 x 4 time-slicing replicas; 1 iGPU x sharedDevNum 10 on each OptiPlex
    assert {name: _gpus(n) for name, n in nodes.items()} == {
        "k3s-master1": {},
        "k3s1": {"gpu.intel.com/i915": "10"},
        "k3s2": {"gpu.intel.com/i915": "10"},
        "k3s3": {"nvidia.com/gpu": "4"},
    }


def test_only_the_facts_servers_carry_k3s_server_labels(nodes):
    f = facts.load()
    roles = {"control-plane", "master", "etcd"}  # etcd: the facts' datastore is embedded etcd
    for name, node in nodes.items():
        labels = node["metadata"]["labels"]
        carried = {r for r in roles if labels.get(f"node-role.kubernetes.io/{r}") == "true"}
        assert carried == (roles if name in f.control_plane.servers else set()), name
    assert f.control_plane.servers == ["k3s-master1"]


def test_cores_and_memory_from_the_facts_else_the_stack_config(nodes, stack_cfg):
    alloc = {
        name: (n["status"]["allocatable"]["cpu"], n["status"]["allocatable"]["memory"])
        for name, n in nodes.items()
    }
    assert alloc["k3s3"] == ("32", f"{384 * 1024}Mi")  # CLUSTER-SETUP.md: 2x E5-2697A v4, 384 GB
    assert alloc["k3s-master1"] == ("4", f"{8 * 1024}Mi")  # the VM on the R730
    # the facts give none for the OptiPlexes: the stack config's figures stay
    for name in ("k3s1", "k3s2"):
        cfg_node = stack_cfg.control_plane.node(name)
        assert alloc[name] == (str(cfg_node.cores), f"{int(cfg_node.memory_gi_b * 1024)}Mi")


def _facts_variant(tmp_path, monkeypatch, change) -> None:
    raw = yaml.safe_load(facts.COMMITTED.read_text())
    change(raw)
    path = tmp_path / "facts.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv(facts.ENV, str(path))


def test_a_change_of_facts_moves_the_nodes(tmp_path, monkeypatch, stack_cfg):
    def change(raw):
        [nvidia] = [p for p in raw["gpuPools"] if p["resource"] == "nvidia.com/gpu"]
        nvidia["replicas"] = 8
        raw["nodes"].append({**raw["nodes"][-1], "name": "k3s5", "address": "192.168.10.35"})
        nvidia["nodes"].append("k3s5")
        raw["controlPlane"]["servers"].append("k3s3")

    _facts_variant(tmp_path, monkeypatch, change)
    got = {n["metadata"]["name"]: n for n in seed_live.nodes(facts.load(), stack_cfg)}
    assert sorted(got) == ["k3s-master1", "k3s1", "k3s2", "k3s3", "k3s5"]
    assert _gpus(got["k3s3"]) == _gpus(got["k3s5"]) == {"nvidia.com/gpu": "8"}
    assert got["k3s3"]["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == "true"


def test_a_node_without_any_size_is_named(tmp_path, monkeypatch, stack_cfg):
    def change(raw):
        raw["nodes"].append(
            {
                "name": "k3s9",
                "role": "agent",
                "address": "192.168.10.39",
                "source": "README.md:99",
                "hardware": "?",
            }
        )

    _facts_variant(tmp_path, monkeypatch, change)
    with pytest.raises(seed_live.SeedError) as err:
        seed_live.nodes(facts.load(), stack_cfg)
    assert str(err.value) == (
        "node k3s9 (README.md:99): the facts give no cores/memory and the stack config's "
        "controlPlane.nodes has no such node to take them from"
    )


def test_stand_ins_must_say_why(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
    with pytest.raises(seed_live.SeedError) as err:
        seed_live.stand_ins(str(tmp_path))
    assert str(err.value) == (
        f"Namespace x in {tmp_path} has no k3s-home.dev/test-stand-in annotation saying why it stands in "
        "for something the live cluster lacks"
    )
    marked = ROOT / "tests" / "integration" / "standins"
    assert {d["metadata"]["name"] for d in seed_live.stand_ins(str(marked))} == {"longhorn-system"}


def test_local_path_volume_has_the_provisioners_shape():
    pv = seed_live.local_path_volume(CLAIM, "0c5e")
    assert pv["metadata"]["name"] == "pvc-0c5e"
    # k3s's local-path class says defaultVolumeType: local (k3s-io/k3s manifests/local-storage.yaml).
    assert pv["spec"]["local"] == {"path": "/var/lib/rancher/k3s/storage/pvc-0c5e_monitoring_storage-loki-0"}
    assert "hostPath" not in pv["spec"]
    assert pv["spec"]["claimRef"]["uid"] == "0c5e"
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "rancher.io/local-path"
    assert "kubectl.kubernetes.io/last-applied-configuration" not in pv["metadata"]["annotations"]


def test_record_reads_back_what_local_path_made():
    claim = from_dict({**CLAIM, "metadata": {**CLAIM["metadata"], "uid": "0c5e"}})
    pv = from_dict(seed_live.local_path_volume(CLAIM, "0c5e"))
    assert record_sources.source_of(claim, pv) == {
        "volume": "pvc-0c5e",
        "reclaimPolicy": "Delete",
        "hostPath": "/var/lib/rancher/k3s/storage/pvc-0c5e_monitoring_storage-loki-0",
        "volumeType": "local",
        "node": "k3s1",
        "claimUid": "0c5e",
    }


def test_record_refuses_a_volume_without_one_node():
    raw = seed_live.local_path_volume(CLAIM, "0c5e")
    del raw["spec"]["nodeAffinity"]
    with pytest.raises(LookupError, match="monitoring/storage-loki-0: volume pvc-0c5e has no single node"):
        record_sources.source_of(
            from_dict({**CLAIM, "metadata": {**CLAIM["metadata"], "uid": "u"}}), from_dict(raw)
        )
