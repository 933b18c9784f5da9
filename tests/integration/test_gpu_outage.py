"""Issue 22: the GPU admission policy must never take down a workload that already runs (ADR 0030).

The embedded cluster is seeded from the Flux repo (toolchain/live-baseline): jellyfin runs at `critical`
and automatic1111 at `batch-gpu`, which the stack's ValidatingAdmissionPolicy refuses. With the binding at
Deny, `make up` and then the next pod their ReplicaSets make (a node drain, an eviction, a rollout) is
refused with FailedCreate, and both apps stay down. The stack keeps the binding at [Warn, Audit] while
that is so, says which workloads in its preview, and reports what the binding really enforces.

The module runs on a control plane of its own (the aux ports): it deletes pods the seed made, and the
Flux repo's ai quota (one T4 slice) would keep a deleted automatic1111 from coming back in the session's
shared cluster, for the tests after it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import Client, KubeConfig
from lightkube.resources.admissionregistration_v1 import ValidatingAdmissionPolicyBinding
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Event, Pod

import facts
from components.config import load_stack_file
from components.gpu.admission import POLICY_NAME
from components.gpu.enforcement import WARN, decide
from components.gpu.live_workloads import read
from tests.conftest import TEST_TODAY
from tests.integration.conftest import ROOT, own_plane, stack_runner
from tests.integration.waiting import until

APPS = {("media", "jellyfin"): "clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml:23",
        ("ai", "automatic1111"): "clusters/k3s-home/apps/ai/automatic1111/helmrelease.yaml:24"}  # fmt: skip
COMEBACK_SECONDS = 120


@pytest.fixture(scope="module")
def plane(toolchain_env, tmp_path_factory) -> Iterator[tuple[dict[str, str], Path, Path]]:
    """A fresh seeded control plane, its recorded stack file and run directory; stopped at the end."""
    base = tmp_path_factory.mktemp("outage-cluster")
    with own_plane(toolchain_env, base) as (env, stack_file):
        yield env, stack_file, base / "run"


@pytest.fixture(scope="module")
def embedded_kubeconfig(plane) -> str:
    return plane[0]["K3S_HOME_CLUSTER_KUBECONFIG"]


@pytest.fixture(scope="module")
def kube(embedded_kubeconfig: str) -> Client:
    return Client(KubeConfig.from_file(embedded_kubeconfig), timeout=15)


@pytest.fixture(scope="module")
def stack_run_dir(plane) -> Path:
    plane[2].mkdir(exist_ok=True)
    return plane[2]


@pytest.fixture(scope="module")
def stack(plane, stack_run_dir: Path):
    return stack_runner(plane[0], stack_run_dir, plane[1])


@pytest.fixture(autouse=True)
def api_alive(embedded_kubeconfig: str) -> None:
    """This module checks its own control plane (and does not start the session's)."""
    import api_check

    reason = api_check.check(embedded_kubeconfig)
    if reason:
        pytest.fail(f"embedded control plane: {reason}", pytrace=False)


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


def _pods(kube: Client, ns: str, app: str) -> list[Pod]:
    return list(kube.list(Pod, namespace=ns, labels={"app.kubernetes.io/instance": app}))


def _failed_creates(kube: Client, ns: str) -> list[str]:
    """The FailedCreate events in `ns`: a controller that could not make a pod, and why."""
    return [
        f"{e.involvedObject.kind}/{e.involvedObject.name}: {e.message}"
        for e in kube.list(Event, namespace=ns)
        if e.reason == "FailedCreate"
    ]


def _refusals(kube: Client, ns: str) -> list[str]:
    """The FailedCreate events in `ns` whose message names the GPU policy."""
    return [e for e in _failed_creates(kube, ns) if POLICY_NAME in e]


def test_the_live_read_sees_what_the_seeded_cluster_runs(embedded_kubeconfig: str) -> None:
    live = read(embedded_kubeconfig)
    assert live.unreadable is None and live.target == embedded_kubeconfig
    got = decide(load_stack_file(ROOT / "Pulumi.k3s-home.yaml", today=TEST_TODAY), facts.load(), live)
    assert got.actions == WARN
    named = {r.workload for r in got.refused}
    # The facts' releases (file:line) and the live Deployments they made; their pods through the templates.
    assert named == {
        "HelmRelease media/jellyfin",
        "HelmRelease ai/automatic1111",
        "Deployment media/jellyfin",
        "Deployment ai/automatic1111",
    }
    kinds = {o["kind"] for o in live.objects}
    assert {"Deployment", "StatefulSet"} <= kinds, kinds
    assert not any("ollama" in n for n in named)  # normal-gpu in ai: admitted


def test_deleted_gpu_pods_come_back_after_make_up(stack, kube: Client, stack_run_dir: Path) -> None:
    for (ns, app), _ in APPS.items():
        _wait_running(kube, ns, app, set(), "before the stack")

    preview = stack("preview")
    assert preview.returncode == 0, _out(preview)
    shown = preview.stdout + preview.stderr
    assert "Verdict: ok to apply" in preview.stdout, _out(preview)
    for (ns, app), source in APPS.items():
        assert (
            f"GPU admission stays [Warn, Audit]: HelmRelease {ns}/{app} ({source}) would be refused" in shown
        )
    up = stack("up", "--yes")
    assert up.returncode == 0, _out(up)

    binding = kube.get(ValidatingAdmissionPolicyBinding, POLICY_NAME)
    assert binding.spec.validationActions == ["Warn", "Audit"]
    # The stack's output says what the binding enforces, as rendered, and why.
    state = json.loads((stack_run_dir / "state/.pulumi/stacks/k3s-home/k3s-home.json").read_text())
    [root] = [r for r in state["checkpoint"]["latest"]["resources"] if r["type"] == "pulumi:pulumi:Stack"]
    admission = root["outputs"]["gpu"]["admission"]
    assert admission["validationActions"] == binding.spec.validationActions
    assert admission["targetRead"] is True
    assert "would be refused" in admission["why"]

    # Not the policy: the Flux repo's own quota gives ai one T4 slice
    # (infrastructure/07-gpu-management/namespace-quotas.yaml, adopted unchanged until step 2 of the
    # handover), which ollama holds, so a new automatic1111 pod is refused by quota whatever the binding
    # says. Ollama makes room, so that only the policy could stand in the way.
    kube.patch(Deployment, "ollama", {"spec": {"replicas": 0}}, namespace="ai")
    until("ollama gone", lambda: not _pods(kube, "ai", "ollama"), timeout=COMEBACK_SECONDS)

    # The outage: the apps' pods go (a drain, an eviction); their ReplicaSets make new ones.
    gone: dict[tuple[str, str], set[str]] = {}
    for ns, app in APPS:
        pods = _pods(kube, ns, app)
        assert pods, f"no {ns}/{app} pod in the seeded cluster"
        gone[(ns, app)] = {p.metadata.name for p in pods}
        for p in pods:
            kube.delete(Pod, p.metadata.name, namespace=ns, grace_period=0)
    for (ns, app), old in gone.items():
        _wait_running(kube, ns, app, old, "after its pods were deleted")
        assert _refusals(kube, ns) == []


def _wait_running(kube: Client, ns: str, app: str, old: set[str], when: str) -> None:
    """Bounded: a pod of `app` not in `old` is Running, else fail naming the pods and the refusals."""
    running = lambda: _running(kube, ns, app, old)  # noqa: E731
    try:
        until(f"a {ns}/{app} pod Running {when}", running, timeout=COMEBACK_SECONDS)
    except AssertionError as err:
        pods = [(p.metadata.name, p.status.phase if p.status else None) for p in _pods(kube, ns, app)]
        raise AssertionError(f"{err}; pods: {pods}; FailedCreate: {_failed_creates(kube, ns)}") from None


def _running(kube: Client, ns: str, app: str, old: set[str]) -> bool:
    return any(
        p.metadata.name not in old and p.status and p.status.phase == "Running" for p in _pods(kube, ns, app)
    )
