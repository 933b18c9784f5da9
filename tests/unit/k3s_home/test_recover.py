"""recover.settle: pending creates that exist go into the state with their id; the rest are cleared."""

from __future__ import annotations

import json
import os
import socket

import pytest

from k3s_home import locks
from k3s_home.log import Refusal
from k3s_home.recover import recover, repair_attrs, settle
from tests.unit.k3s_home.test_locks import dead_pid

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


# ---- every kind of pending operation, and `make recover` wired to its lock, state and cluster --------------

KINDS = ["creating", "importing", "updating", "deleting", "reading"]
SETTLED_BY_IMPORT = {"creating", "importing"}  # the engine may have made the object before it was killed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exists", [True, False])
def test_each_kind_of_pending_operation_is_settled(kind: str, exists: bool) -> None:
    entry = pending(kind, "ResourceQuota", "kubernetes:core/v1:ResourceQuota", "ai", "gpu")
    data = {"resources": [], "pending_operations": [entry]}
    asked: list[str] = []
    imported, cleared = settle(data, lambda ref: asked.append(ref.name) or exists)
    assert data["pending_operations"] == []
    line = f"{kind} kubernetes:core/v1:ResourceQuota ai/gpu"
    if kind in SETTLED_BY_IMPORT:
        assert asked == ["gpu"]
    else:
        assert asked == []  # an update, delete or read is read back by the refresh: no question to ask
    if kind in SETTLED_BY_IMPORT and exists:
        assert (imported, cleared) == ([line], [])
        assert data["resources"] == [{**entry["resource"], "id": "ai/gpu", "outputs": {}}]
    else:
        assert (imported, cleared) == ([], [line])
        assert data["resources"] == []


def test_recover_imports_what_exists_clears_the_rest_ties_and_refreshes(driver, capsys) -> None:
    driver.tie_to("uid-of-a-wiped-cluster")  # recover is how a state is taken over to a rebuilt cluster
    stale = driver.lock(dead_pid())
    importing = pending("importing", "ConfigMap", "kubernetes:core/v1:ConfigMap", "kube-system", "adopted")
    driver.state["pending_operations"] = [QUOTA, importing, CM, UPDATE]
    driver.present = {("ai", "gpu"), ("kube-system", "adopted")}
    assert recover(driver.run) == 0
    assert not stale.exists()
    [state] = driver.imported
    assert state["pending_operations"] == []
    assert [r["id"] for r in state["resources"]] == ["ai/gpu", "kube-system/adopted"]
    assert driver.stack.calls == ["refresh"]
    assert json.loads((driver.run.dir / "target-cluster.json").read_text())["uid"] == driver.uid
    err = capsys.readouterr().err
    assert "recovered: 2 imported, 2 cleared, state refreshed" in err
    assert "cleared the stale lock of pid" in err
    assert "imported (it exists in the cluster): creating kubernetes:core/v1:ResourceQuota ai/gpu" in err
    assert (
        "cleared (never happened, or the refresh reads it back): creating kubernetes:core/v1:ConfigMap "
        "kube-system/plugin" in err
    )


@pytest.mark.parametrize("holder", ["running", "eperm", "another host"])
def test_recover_never_clears_a_live_lock(driver, monkeypatch, holder: str) -> None:
    if holder == "running":
        lock = driver.lock(os.getpid())
    elif holder == "another host":
        lock = driver.lock(dead_pid(), host="another-host")  # its process cannot be looked at from here
    else:
        lock = driver.lock(4242)

        def eperm(pid: int, sig: int) -> None:
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(locks.os, "kill", eperm)
    driver.state["pending_operations"] = [QUOTA]
    with pytest.raises(Refusal, match=r"which is still running: wait for it to finish$"):
        recover(driver.run)
    assert lock.is_file()
    assert driver.imported == [] and driver.stack.calls == []


def test_recover_with_nothing_pending_only_refreshes(driver) -> None:
    assert recover(driver.run) == 0
    assert driver.imported == [] and driver.stack.calls == ["refresh"]


def test_recover_whose_refresh_fails_exits_1(driver, monkeypatch) -> None:
    from pulumi import automation as auto
    from pulumi.automation._cmd import CommandResult

    def refresh(**kw) -> None:
        raise auto.errors.CommandError(CommandResult("", "error: the refresh failed", 255))

    monkeypatch.setattr(driver.stack, "refresh", refresh)
    assert recover(driver.run) == 1


def test_a_stale_lock_gone_before_recover_clears_it_is_no_error(driver, monkeypatch) -> None:
    """The lock file may vanish between listing and clearing (its holder's cleanup, a parallel cancel)."""
    gone = locks.Lock(driver.backend / "gone.json", dead_pid(), socket.gethostname(), "t")
    monkeypatch.setattr(locks, "locks", lambda backend: [gone])
    assert recover(driver.run) == 0
    assert driver.stack.calls == ["refresh"]


def test_recover_with_only_imports_writes_the_state_back(driver) -> None:
    driver.state["pending_operations"] = [QUOTA]
    driver.present = {("ai", "gpu")}
    assert recover(driver.run) == 0
    [state] = driver.imported
    assert [r["id"] for r in state["resources"]] == ["ai/gpu"] and state["pending_operations"] == []
