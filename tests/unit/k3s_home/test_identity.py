"""The state is tied to the cluster it was written for: another cluster's preview refuses in one line."""

from __future__ import annotations

import json

import pytest

from k3s_home import identity
from k3s_home.backend import Run
from k3s_home.log import Refusal

BACKEND = "file:///run/state"


def test_the_same_cluster_or_no_record_passes():
    assert identity.mismatch(None, BACKEND, "uid-a", BACKEND) is None
    assert identity.mismatch({"backend": BACKEND, "uid": "uid-a"}, BACKEND, "uid-a", BACKEND) is None


def test_a_record_of_another_backend_says_nothing_about_this_state():
    assert (
        identity.mismatch({"backend": "file:///elsewhere", "uid": "uid-a"}, BACKEND, "uid-b", BACKEND) is None
    )


def test_another_cluster_is_refused_in_one_line_naming_the_fix():
    reason = identity.mismatch({"backend": BACKEND, "uid": "uid-a"}, BACKEND, "uid-b", BACKEND)
    assert reason is not None and "\n" not in reason
    assert "kube-system uid is uid-a, but the target's is uid-b" in reason
    assert reason.endswith("or run `make recover` to re-read the state from this one")


def test_record_then_check_against_a_rebuilt_cluster(tmp_path, monkeypatch):
    run = Run(tmp_path)
    monkeypatch.setenv("PULUMI_BACKEND_URL", BACKEND)
    uids = {"kc": "uid-a"}
    monkeypatch.setattr(identity, "cluster_uid", lambda kubeconfig: uids[kubeconfig])
    identity.check(run, "kc")  # nothing recorded yet: a fresh run dir
    identity.record(run, "kc")
    assert json.loads((tmp_path / identity.RECORD).read_text()) == {"backend": BACKEND, "uid": "uid-a"}
    identity.check(run, "kc")
    uids["kc"] = "uid-b"  # the embedded cluster was wiped and started again
    with pytest.raises(Refusal, match="the target's is uid-b"):
        identity.check(run, "kc")
    identity.record(run, "kc")  # what `make recover` does before its refresh
    identity.check(run, "kc")


class FakeNamespaces:
    """lightkube's Client faked at the cluster's boundary: kube-system with `uid`."""

    def __init__(self, uid: str | None) -> None:
        self.uid = uid
        self.closed = False

    def get(self, kind, name: str):
        from types import SimpleNamespace

        assert name == "kube-system"
        return SimpleNamespace(metadata=SimpleNamespace(uid=self.uid))

    def close(self) -> None:
        self.closed = True


def _cluster(monkeypatch, uid: str | None) -> FakeNamespaces:
    import lightkube

    client = FakeNamespaces(uid)
    monkeypatch.setattr(
        lightkube, "Client", lambda config, timeout: setattr(client, "config", config) or client
    )
    monkeypatch.setattr(lightkube.KubeConfig, "from_file", staticmethod(lambda path: f"config of {path}"))
    return client


def test_of_several_kubeconfig_files_the_first_is_read(monkeypatch):
    client = _cluster(monkeypatch, "uid-a")
    assert identity.cluster_uid("/kc1:/kc2:/kc3") == "uid-a"
    assert client.config == "config of /kc1"


def test_the_cluster_is_named_by_its_kube_system_uid(monkeypatch):
    client = _cluster(monkeypatch, "uid-a")
    assert identity.cluster_uid("/kc") == "uid-a" and client.closed


@pytest.mark.parametrize("uid", ["", None])
def test_a_kube_system_without_uid_is_refused(monkeypatch, uid):
    client = _cluster(monkeypatch, uid)
    with pytest.raises(Refusal, match=r"^the target's kube-system namespace has no uid: cannot tell which"):
        identity.cluster_uid("/kc")
    assert client.closed


def test_record_says_when_the_state_moves_to_another_cluster(tmp_path, monkeypatch, capsys):
    run = Run(tmp_path)
    monkeypatch.setenv("PULUMI_BACKEND_URL", BACKEND)
    monkeypatch.setattr(identity, "cluster_uid", lambda kubeconfig: "uid-b")
    # A record from json has its own string objects: equal backends, never the same object.
    (tmp_path / identity.RECORD).write_text(json.dumps({"backend": "file:///run/" + "state", "uid": "uid-a"}))
    identity.record(run, "kc")
    assert capsys.readouterr().err == (
        "[k3s-home] the state is now tied to the cluster whose kube-system uid is uid-b (was uid-a)\n"
    )
    assert json.loads((tmp_path / identity.RECORD).read_text()) == {"backend": BACKEND, "uid": "uid-b"}
    identity.record(run, "kc")  # the same cluster again: nothing to say
    for other in ("file:///elsewhere", "file:///zzz"):  # another backend's record says nothing here
        (tmp_path / identity.RECORD).write_text(json.dumps({"backend": other, "uid": "uid-a"}))
        identity.record(run, "kc")
    assert capsys.readouterr().err == ""


def test_a_record_of_any_other_backend_is_no_refusal():
    for other in ("file:///a", "file:///zzz", "s3://bucket"):
        assert identity.mismatch({"backend": other, "uid": "uid-a"}, BACKEND, "uid-b", BACKEND) is None
