"""The GPU guard rails against the real embedded kube-apiserver, with real admission.

The objects are the ones the component registers (components.gpu builders over the real stack config),
applied next to a globalDefault PriorityClass as on the live cluster, and beside the live GPU workloads
(jellyfin, ollama, ...) seeded from the Flux repository. KWOK nodes carry the GPUs, so admitted pods are
scheduled: the tests also show where they land. Two layers, each tested alone: the
ValidatingAdmissionPolicy bound cluster-wide, and quota admission with the API server's
AdmissionConfiguration (toolchain/admission-config.yaml, limitedResources).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import (
    ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding,
)
from lightkube.resources.core_v1 import Namespace, Pod, ResourceQuota

from components.config import StackConfig, load_stack_file
from components.gpu.admission import POLICY_NAME, admission_policy
from components.gpu.quotas import QUOTA_NAME, deny_quota_name
from tests.conftest import TEST_TODAY
from tests.integration import gpu_guard
from tests.integration.gpu_guard import LABEL
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

STACK_FILE = Path(__file__).resolve().parents[2] / "Pulumi.k3s-home.yaml"
NVIDIA = "nvidia.com/gpu"
INTEL = "gpu.intel.com/i915"
OUTSIDER = "k3s-home-gpu-outsider"  # a namespace that is no GPU tenant


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
    status = err.value.status
    # Quota admission returns its "no quota covers these scopes" refusal as a plain error, which the API
    # server answers with 500 (k8s.io/apiserver resourcequota controller.go); every other refusal is a Status.
    scopes = status.code == 500 and "insufficient quota to match these scopes" in str(status.message)
    assert status.code in (403, 422) or scopes, status
    return str(status.message)


def _used(kube: Client, ns: str, resource: str) -> int:
    """Slices the namespace's pods hold now, as quota counts them (the seeded live workloads included)."""
    q = kube.get(ResourceQuota, QUOTA_NAME, namespace=ns)
    return int((q.status.used or {}).get(f"requests.{resource}", "0"))


def _node_of(kube: Client, name: str, ns: str) -> str:
    return until(f"pod {ns}/{name} scheduled", lambda: kube.get(Pod, name, namespace=ns).spec.nodeName)


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return load_stack_file(STACK_FILE, today=TEST_TODAY)


@pytest.fixture(scope="module")
def guarded(kube: Client, config: StackConfig):
    with gpu_guard.guarded(kube, config) as state:
        yield state


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
    # Even without a GPU request the class is kept out of ai (by the scoped quota too, see below).
    message = refused(kube, pod("ai-critical-cpu", "ai", None, "critical-gpu"))
    assert "priorityClassName critical-gpu is reserved for GPU tenant(s) media, not namespace ai" in message


def test_normal_gpu_pod_in_media_is_refused(kube: Client, guarded) -> None:
    message = refused(kube, pod("media-normal-cpu", "media", None, "normal-gpu"))
    assert "priorityClassName normal-gpu is reserved for GPU tenant(s) ai, not namespace media" in message


def test_a_pool_without_share_is_refused(kube: Client, guarded) -> None:
    message = refused(kube, pod("ai-quicksync", "ai", {INTEL: "1"}, "normal-gpu"))
    assert "GPU tenant ai has a share of nvidia.com/gpu only" in message


# ---- cluster-wide (defect 8): no namespace but a tenant's gets a slice or a GPU class ---------------------


@pytest.fixture(scope="module")
def outsider(kube: Client, guarded):
    kube.apply(Namespace(metadata=ObjectMeta(name=OUTSIDER)), field_manager=gpu_guard.MANAGER)
    yield OUTSIDER
    gpu_guard.delete_test_pods(kube, [OUTSIDER])
    kube.delete(Namespace, OUTSIDER)


@pytest.mark.parametrize("cls", [None, "critical-gpu", "normal-gpu", "batch-gpu"])
def test_no_gpu_slice_outside_the_tenants(kube: Client, guarded, outsider, cls) -> None:
    for res in (NVIDIA, INTEL):
        message = refused(kube, pod(f"outsider-{cls or 'default'}", outsider, {res: "1"}, cls))
        assert f"pod requests {res} in namespace {OUTSIDER}, which is no GPU tenant (media, ai)" in message


@pytest.mark.parametrize("cls", ["critical-gpu", "normal-gpu"])
def test_no_gpu_class_outside_its_tenant(kube: Client, guarded, outsider, cls) -> None:
    message = refused(kube, pod(f"outsider-{cls}-cpu", outsider, None, cls))
    assert f"priorityClassName {cls} is reserved for GPU tenant(s)" in message
    assert f"not namespace {OUTSIDER}" in message


def test_ordinary_pods_elsewhere_are_untouched(kube: Client, guarded, outsider) -> None:
    made = kube.create(pod("outsider-plain", outsider))
    assert made.spec.priorityClassName == guarded["default"]  # the globalDefault, filled in
    assert kube.create(pod("outsider-batch", outsider, None, "batch-gpu"), dry_run=True)


# ---- the second layer: quota admission with the API server's limitedResources ------------------------------


@pytest.fixture
def quota_layer_only(kube: Client, second_server: Client, config: StackConfig, guarded, outsider):
    """The policy's binding removed, so that only quota admission stands between a pod and a slice: on
    the second API server, the one started with the AdmissionConfiguration (limitedResources,
    toolchain/admission-config.yaml). Yields that server's client."""
    binding = next(
        o
        for o in admission_policy(load_stack_file(STACK_FILE, today=TEST_TODAY).gpu)
        if o["kind"].endswith("Binding")
    )
    kube.delete(ValidatingAdmissionPolicyBinding, POLICY_NAME)
    # A GPU pod without a class in media: the policy refuses it, quota admission lets it through.
    gpu_guard.wait_enforced(second_server, gpu_guard.probe_pod("media", gpu=NVIDIA), refused_with=None)
    yield second_server
    kube.apply(codecs.from_dict(binding), field_manager=gpu_guard.MANAGER, force=True)
    probe = gpu_guard.probe_pod("media", gpu=NVIDIA)
    for server in (kube, second_server):
        gpu_guard.wait_enforced(server, probe, refused_with=gpu_guard.own_class_refusal(config, "media"))


def test_quota_admission_alone_keeps_slices_in_the_tenants(quota_layer_only: Client) -> None:
    message = refused(quota_layer_only, pod("layer-nvidia", OUTSIDER, {NVIDIA: "1"}))
    assert f"insufficient quota to consume: requests.{NVIDIA}" in message
    message = refused(quota_layer_only, pod("layer-amd", "ai", {"amd.com/gpu": "1"}, "normal-gpu"))
    assert "insufficient quota to consume: requests.amd.com/gpu" in message


def test_quota_admission_alone_keeps_classes_in_their_tenants(quota_layer_only: Client) -> None:
    message = refused(quota_layer_only, pod("layer-critical", OUTSIDER, None, "critical-gpu"))
    assert "insufficient quota to match these scopes" in message
    message = refused(quota_layer_only, pod("layer-critical-ai", "ai", None, "critical-gpu"))
    assert f"exceeded quota: {deny_quota_name('critical-gpu')}" in message
    message = refused(quota_layer_only, pod("layer-normal-media", "media", None, "normal-gpu"))
    assert f"exceeded quota: {deny_quota_name('normal-gpu')}" in message
    # The tenant's own class is covered by its scope-only quota.
    assert quota_layer_only.create(pod("layer-own", "media", {NVIDIA: "1"}, "critical-gpu"), dry_run=True)
    # So is ai's, which the live ollama pod names: the flag, rolled out after the stack's quotas exist,
    # does not stop its ReplicaSet from recreating it.
    assert quota_layer_only.create(pod("layer-own-ai", "ai", None, "normal-gpu"), dry_run=True)


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
