"""Which cluster the state was written for (issue 17): a state is only true of the cluster it was written
against. A wiped and restarted embedded control plane, or a kubeconfig pointing at another cluster, would
otherwise be previewed against a state that describes objects it never held.

The cluster's identity is the uid of its `kube-system` namespace: the API server creates it once per
cluster (etcd) and it survives restarts, but not a wipe. The driver records it in `<run>/target-cluster.json`,
with the backend URL, before every command that writes the state (up, destroy, recover); preview, up and
destroy refuse, in one line, a target whose identity differs. `make recover` re-reads the state from the
target at hand (a refresh) and records it: the documented way to tie the state to a rebuilt cluster.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from k3s_home.backend import Run
from k3s_home.log import Refusal, log

RECORD = "target-cluster.json"


def cluster_uid(kubeconfig: str) -> str:
    """The uid of the target's kube-system namespace (read with the kubeconfig the engine uses)."""
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import Namespace

    client = Client(KubeConfig.from_file(kubeconfig.split(":")[0]), timeout=15)
    try:
        uid = client.get(Namespace, "kube-system").metadata.uid
    finally:
        client.close()
    if not uid:
        raise Refusal("the target's kube-system namespace has no uid: cannot tell which cluster it is")
    return uid


def mismatch(recorded: dict | None, backend: str, uid: str, state: str) -> str | None:
    """One line when the state was written for another cluster than `uid`, else None.

    A record of another backend says nothing about this state (the backend URL changed): no refusal."""
    if not recorded or recorded.get("backend") != backend or recorded.get("uid") in (None, uid):
        return None
    return (
        f"the state in {state} was written for the cluster whose kube-system uid is {recorded['uid']}, "
        f"but the target's is {uid} (another or a wiped and rebuilt cluster): point KUBECONFIG at the "
        "cluster the state belongs to, or run `make recover` to re-read the state from this one"
    )


def _path(run: Run) -> Path:
    return run.dir / RECORD


def _read(run: Run) -> dict | None:
    try:
        return json.loads(_path(run).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def check(run: Run, kubeconfig: str) -> None:
    backend = os.environ["PULUMI_BACKEND_URL"]
    if reason := mismatch(_read(run), backend, cluster_uid(kubeconfig), backend):
        raise Refusal(reason)


def record(run: Run, kubeconfig: str) -> None:
    """Tie the state to the target, before the engine writes the state against it."""
    backend, uid = os.environ["PULUMI_BACKEND_URL"], cluster_uid(kubeconfig)
    before = _read(run)
    if before and before.get("backend") == backend and before.get("uid") not in (None, uid):
        log(f"the state is now tied to the cluster whose kube-system uid is {uid} (was {before['uid']})")
    _path(run).write_text(json.dumps({"backend": backend, "uid": uid}) + "\n")
