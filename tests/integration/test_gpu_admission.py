"""The GPU guard rails against the real embedded kube-apiserver, with real admission.

The objects are the ones the component registers (components.gpu builders over the real stack config),
applied next to a globalDefault PriorityClass as on the live cluster, and beside the live GPU workloads
(jellyfin, ollama, ...) seeded from the Flux repository. KWOK nodes carry the GPUs, so admitted pods are
scheduled: the tests also show where they land.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import ValidatingAdmissionPolicy
from lightkube.resources.core_v1 import Namespace, Pod, ResourceQuota
from lightkube.resources.scheduling_v1 import PriorityClass

from components.config import StackConfig, load_stack_file
from components.gpu.admission import POLICY_NAME, admission_policy
from components.gpu.priority import priority_classes
from components.gpu.quotas import QUOTA_NAME, deny_quota_name, resource_quotas
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

STACK_FILE = Path(__file__).resolve().parents[2] / "Pulumi.k3s-home.yaml"
MANAGER = "k3s-home-gpu-test"
LABEL = {"k3s-home-test": "gpu-admission"}
NVIDIA = "nvidia.com/gpu"
INTEL = "gpu.intel.com/i915"


def pod(
    name: str, namespace: str, gpu: dict[str, str] | None = None, priority_class: str | None = None
) -> Pod:
    resources = {"requests": dict(gpu), "limits": dict(gpu)} if gpu else {}  # extended: requests == limits
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "registry.invalid/pause:3.10", "resources": resources}]
    }
    if priority_class:
        spec["priorityClassName"] = priority_class
    return codecs.from_dict(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": LABEL},
            "spec": spec,
        }
    )


def refused(kube: Client, obj: Pod) -> str:
    """Create `obj`, expect a refusal, return the API server's message."""
    with pytest.raises(ApiError) as err:
        kube.create(obj)
    assert err.value.status.code in (403, 422), err.value.status
    return str(err.value.status.message)


def _delete_test_pods(kube: Client, namespaces: list[str]) -> None:
    for ns in namespaces:
        for p in kube.list(Pod, namespace=ns, labels=LABEL):
            kube.delete(Pod, p.metadata.name, namespace=ns, grace_period=0)


def _quota_computed(kube: Client, ns: str) -> bool:
    q = kube.get(ResourceQuota, QUOTA_NAME, namespace=ns)
    return bool(q.status) and (q.status.hard or {}) == q.spec.hard


def _used(kube: Client, ns: str, resource: str) -> int:
    """Slices the namespace's pods hold now, as quota counts them (the seeded live workloads included)."""
    q = kube.get(ResourceQuota, QUOTA_NAME, namespace=ns)
    return int((q.status.used or {}).get(f"requests.{resource}", "0"))


def _node_of(kube: Client, name: str, ns: str) -> str:
    return until(f"pod {ns}/{name} scheduled", lambda: kube.get(Pod, name, namespace=ns).spec.nodeName)


def _exists(kube: Client, obj: dict) -> bool:
    meta = obj["metadata"]
    try:
        kube.get(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace"))
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
    return True


def _snapshot(kube: Client, obj: dict) -> dict:
    meta = obj["metadata"]
    found = kube.get(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace")).to_dict()
    for server_set in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        found["metadata"].pop(server_set, None)
    found.pop("status", None)
    return found


def _delete(kube: Client, obj: dict) -> None:
    meta = obj["metadata"]
    kube.delete(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace"))


def _apply_as_step_two(kube: Client, obj: dict) -> None:
    """Apply the stack's object over the live one as step 2 of the handover does (ADR 0003): a
    PriorityClass whose value changes is deleted and created again (the value is immutable)."""
    changes_value = obj["kind"] == "PriorityClass" and _exists(kube, obj)
    if changes_value and kube.get(PriorityClass, obj["metadata"]["name"]).value != obj["value"]:
        _delete(kube, obj)
    kube.apply(codecs.from_dict(obj), field_manager=MANAGER, force=True)


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return load_stack_file(STACK_FILE)


@pytest.fixture(scope="module")
def guarded(kube: Client, config: StackConfig):
    """Apply the component's GPU objects; yield the tenant namespaces; remove what the test created."""
    gpu = config.gpu
    created_default: str | None = None
    live_default = [pc.metadata.name for pc in kube.list(PriorityClass) if pc.globalDefault]
    wanted = config.cluster.global_default()
    assert wanted is not None, (
        "the real cluster has a globalDefault PriorityClass; the stack config must say so"
    )
    if not live_default:  # like the live cluster: Priority admission fills it in before validation
        kube.create(
            codecs.from_dict(
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": wanted.name, "labels": LABEL},
                    "value": wanted.value,
                    "globalDefault": True,
                }
            )
        )
        created_default = wanted.name
        live_default = [wanted.name]
    namespaces = [t.namespace for t in gpu.tenants]
    for ns in namespaces:
        kube.apply(Namespace(metadata=ObjectMeta(name=ns)), field_manager=MANAGER)
    _delete_test_pods(kube, namespaces)
    objects = [*priority_classes(gpu), *resource_quotas(gpu), *admission_policy(gpu)]
    ours = [obj for obj in objects if not _exists(kube, obj)]  # leave a developer's `make up` alone
    # What Flux keeps live (the seeded baseline) is put back afterwards, as it was.
    live = [_snapshot(kube, obj) for obj in objects if obj not in ours]
    for obj in objects:
        _apply_as_step_two(kube, obj)
    # Quota admission refuses every pod until kube-controller-manager has computed the quota's status.
    for ns in namespaces:
        until(f"quota {ns}/{QUOTA_NAME} to be computed", lambda ns=ns: _quota_computed(kube, ns))
    # A new policy needs a moment before it is enforced; probe with a server-side dry run.
    probe = pod("vap-probe", "ai", {NVIDIA: "1"})

    def enforced() -> bool:
        try:
            kube.create(probe, dry_run=True)
        except ApiError as err:
            return POLICY_NAME in str(err.status.message)
        return False

    until("the ValidatingAdmissionPolicy to be enforced", enforced)
    yield {"namespaces": namespaces, "default": live_default[0]}
    _delete_test_pods(kube, namespaces)
    for obj in reversed(ours):
        res = type(codecs.from_dict(obj))
        meta = obj["metadata"]
        kube.delete(res, meta["name"], namespace=meta.get("namespace"))
    for obj in live:
        _delete(kube, obj)
        kube.create(codecs.from_dict(obj))
    if created_default:
        kube.delete(PriorityClass, created_default)


def test_policy_cel_type_checks_clean(kube: Client, guarded) -> None:
    def checked():
        vap = kube.get(ValidatingAdmissionPolicy, POLICY_NAME)
        return vap.status if vap.status and vap.status.typeChecking is not None else None

    status = until("the policy's type check", checked)
    assert status.typeChecking.expressionWarnings in (None, [])


def test_third_slice_in_ai_is_refused_by_quota(kube: Client, guarded, config: StackConfig) -> None:
    ai = next(t for t in config.gpu.tenants if t.namespace == "ai")
    assert ai.pools[NVIDIA].cap == 2
    # The seeded AI workloads may already hold slices; fill the rest, then ask for one more.
    held = _used(kube, "ai", NVIDIA)
    assert held <= 2
    for i in range(held + 1, 3):
        made = kube.create(pod(f"ai-slice-{i}", "ai", {NVIDIA: "1"}, "normal-gpu"))
        assert made.spec.priority == 100
        assert _node_of(kube, f"ai-slice-{i}", "ai") == "k3s3"  # the only node with T4 slices
    message = refused(kube, pod("ai-slice-3", "ai", {NVIDIA: "1"}, "normal-gpu"))
    assert f"exceeded quota: {QUOTA_NAME}" in message
    assert (
        f"requested: requests.{NVIDIA}=1, used: requests.{NVIDIA}=2, limited: requests.{NVIDIA}=2" in message
    )


def test_gpu_pod_without_priority_class_is_refused_by_policy(kube: Client, guarded) -> None:
    message = refused(kube, pod("media-no-class", "media", {NVIDIA: "1"}))
    assert f"ValidatingAdmissionPolicy '{POLICY_NAME}'" in message
    # The default class was filled in first; the policy still names the tenant's own class.
    assert f"must set priorityClassName: critical-gpu (it has {guarded['default']})" in message
    message = refused(kube, pod("ai-no-class", "ai", {NVIDIA: "1"}))
    assert "must set priorityClassName: normal-gpu" in message


def test_critical_gpu_pod_in_ai_is_refused(kube: Client, guarded) -> None:
    message = refused(kube, pod("ai-critical-gpu", "ai", {NVIDIA: "1"}, "critical-gpu"))
    assert "must set priorityClassName: normal-gpu (it has critical-gpu)" in message
    # Even without a GPU request the class is kept out of ai by the PriorityClass-scoped quota.
    message = refused(kube, pod("ai-critical-cpu", "ai", None, "critical-gpu"))
    assert f"exceeded quota: {deny_quota_name('critical-gpu')}" in message


def test_normal_gpu_pod_in_media_is_refused_by_scoped_quota(kube: Client, guarded) -> None:
    message = refused(kube, pod("media-normal-cpu", "media", None, "normal-gpu"))
    assert f"exceeded quota: {deny_quota_name('normal-gpu')}" in message


def test_more_than_one_slice_per_container_is_refused(kube: Client, guarded) -> None:
    # media's quota (2) would allow it; the time-slicing settings do not.
    message = refused(kube, pod("media-two-slices", "media", {NVIDIA: "2"}, "critical-gpu"))
    assert f"a container may request at most 1 {NVIDIA}" in message


def test_compliant_media_pods_are_admitted(kube: Client, guarded) -> None:
    made = kube.create(pod("media-nvidia", "media", {NVIDIA: "1"}, "critical-gpu"))
    assert made.spec.priorityClassName == "critical-gpu"
    assert made.spec.priority == 1000
    made = kube.create(pod("media-quicksync", "media", {INTEL: "1"}, "critical-gpu"))
    assert made.spec.priority == 1000
    # Scheduled where the devices are: T4 slices on k3s3, QuickSync on k3s1 or k3s2, then Running.
    assert _node_of(kube, "media-nvidia", "media") == "k3s3"
    assert _node_of(kube, "media-quicksync", "media") in {"k3s1", "k3s2"}
    until(
        "media-nvidia Running",
        lambda: kube.get(Pod, "media-nvidia", namespace="media").status.phase == "Running",
    )


def test_non_gpu_pods_in_tenant_namespaces_are_untouched(kube: Client, guarded) -> None:
    made = kube.create(pod("ai-plain", "ai"))
    assert made.metadata.namespace == "ai"
