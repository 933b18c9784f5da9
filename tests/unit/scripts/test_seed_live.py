"""The embedded cluster's seed: nodes from the stack config, volumes as local-path makes them, and the
facts record-migration-sources reads back from a bound claim."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from lightkube.codecs import from_dict

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts"))
import record_sources  # noqa: E402
import seed_live  # noqa: E402

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
def nodes() -> dict[str, dict]:
    return {
        n["metadata"]["name"]: n
        for n in seed_live.nodes(load_stack_file(ROOT / "Pulumi.k3s-home.yaml", today=TEST_TODAY))
    }


def test_nodes_follow_the_stack_config(nodes):
    # The cluster's nodes as the facts list them (controlPlane.nodes joins them with the config's intent).
    assert sorted(nodes) == ["k3s-master1", "k3s1", "k3s2", "k3s3"]
    alloc = {name: n["status"]["allocatable"] for name, n in nodes.items()}
    assert alloc["k3s3"]["nvidia.com/gpu"] == "16"  # the gpu section's pool: 4 T4 x 4 time slices
    assert alloc["k3s1"]["gpu.intel.com/i915"] == alloc["k3s2"]["gpu.intel.com/i915"] == "10"
    assert not any("gpu" in k for k in alloc["k3s-master1"])
    assert (alloc["k3s3"]["cpu"], alloc["k3s3"]["memory"]) == ("32", "393216Mi")  # facts: CLUSTER-SETUP.md:57
    assert "node-role.kubernetes.io/control-plane" in nodes["k3s-master1"]["metadata"]["labels"]
    for name, n in nodes.items():
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == name
        assert n["metadata"]["annotations"] == {"kwok.x-k8s.io/node": "fake"}  # KWOK manages exactly these


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
