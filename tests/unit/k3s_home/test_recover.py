"""recover.settle: pending creates that exist go into the state with their id; the rest are cleared."""

from __future__ import annotations

from k3s_home.recover import repair_attrs, settle

PREFIX = "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement$"


def pending(op: str, kind: str, typ: str, namespace: str | None, name: str) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "type": op,
        "resource": {
            "urn": f"{PREFIX}{typ}::{kind}-{name}",
            "type": typ,
            "custom": True,
            "parent": "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement::gpu",
            "inputs": {"apiVersion": "v1", "kind": kind, "metadata": meta},
        },
    }


QUOTA = pending("creating", "ResourceQuota", "kubernetes:core/v1:ResourceQuota", "ai", "gpu")
PC = pending("creating", "PriorityClass", "kubernetes:scheduling.k8s.io/v1:PriorityClass", None, "normal-gpu")
CM = pending("creating", "ConfigMap", "kubernetes:core/v1:ConfigMap", "kube-system", "plugin")
UPDATE = pending("updating", "ConfigMap", "kubernetes:core/v1:ConfigMap", "kube-system", "other")


def test_existing_creates_are_imported_by_id_and_the_rest_cleared():
    data = {"resources": [{"urn": "stack"}], "pending_operations": [QUOTA, PC, CM, UPDATE]}
    present = {("ai", "gpu"), (None, "normal-gpu")}
    imported, cleared = settle(data, lambda ref: (ref.namespace, ref.name) in present)
    assert data["pending_operations"] == []
    added = {r["urn"]: r["id"] for r in data["resources"][1:]}
    assert added == {QUOTA["resource"]["urn"]: "ai/gpu", PC["resource"]["urn"]: "normal-gpu"}
    assert [len(imported), len(cleared)] == [2, 2]
    assert any("ConfigMap kube-system/plugin" in line for line in cleared)  # never reached the cluster


def test_a_resource_already_in_the_state_is_not_added_twice():
    data = {"resources": [{"urn": QUOTA["resource"]["urn"], "id": "ai/gpu"}], "pending_operations": [QUOTA]}
    imported, cleared = settle(data, lambda ref: True)
    assert imported == [] and len(cleared) == 1 and len(data["resources"]) == 1


def test_the_cluster_is_asked_once_per_pending_create_only():
    asked = []
    settle({"pending_operations": [QUOTA, UPDATE]}, lambda ref: asked.append(ref.name) or False)
    assert asked == ["gpu"]


def test_a_truncated_checkpoint_attrs_file_is_removed_and_a_whole_one_kept(tmp_path):
    checkpoint = tmp_path / "k3s-home.json"
    checkpoint.write_text('{"version": 3, "checkpoint": {}}')
    attrs = tmp_path / "k3s-home.json.attrs"
    attrs.write_text('{"user.content_type":"application/octet-stream"}\n')
    assert repair_attrs(checkpoint) is None and attrs.is_file()
    attrs.write_text("")  # what a kill between fileblob's truncate and write leaves
    assert repair_attrs(checkpoint) == (
        "removed k3s-home.json.attrs, truncated by the kill (the checkpoint's metadata; the state is whole)"
    )
    assert not attrs.exists() and checkpoint.is_file()
    assert repair_attrs(checkpoint) is None  # nothing left to repair
    assert repair_attrs(None) is None  # not a local file backend
