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
