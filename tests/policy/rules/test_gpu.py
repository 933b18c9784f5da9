"""rules.gpu: compliant, non-compliant, missing property and config override for each rule."""

from __future__ import annotations

import pytest

from components.config.cluster import Waiver
from components.gpu.quotas import resource_quotas
from components.gpu.render import render
from rules import Finding, Severity
from rules.gpu import admission_refusals, directive_drift, gpu_oversubscription, gpu_priority_class

NV = "nvidia.com/gpu"


def workload(kind: str, ns: str | None, gpu: dict | None, cls: str | None = None) -> dict:
    spec: dict = {"containers": [{"name": "app", "image": "x", "resources": {"limits": gpu} if gpu else {}}]}
    if cls:
        spec["priorityClassName"] = cls
    meta = {"name": "w", **({"namespace": ns} if ns else {})}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": {"template": {"spec": spec}}}


def helm_release(ns: str, values: dict, target: str | None = None) -> dict:
    spec: dict = {"chart": {"spec": {"chart": "app-template"}}, "values": values}
    if target:
        spec["targetNamespace"] = target
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "ollama", "namespace": ns},
        "spec": spec,
    }


def quota(ns: str, hard: dict, scoped: bool = False) -> dict:
    spec: dict = {"hard": hard}
    if scoped:
        spec["scopeSelector"] = {
            "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["normal-gpu"]}]
        }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "gpu-quota", "namespace": ns},
        "spec": spec,
    }


def priority_class(
    name: str, value: int | None, description: str | None = None, default: bool = False
) -> dict:
    obj: dict = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}}
    if value is not None:
        obj["value"] = value
    if description is not None:
        obj["description"] = description
    if default:
        obj["globalDefault"] = True
    return obj


def messages(findings: list[Finding]) -> list[str]:
    return [f.message for f in findings]


def with_tenant(config, ns: str, **update):
    tenants = [t.model_copy(update=update) if t.namespace == ns else t for t in config.gpu.tenants]
    return config.model_copy(update={"gpu": config.gpu.model_copy(update={"tenants": tenants})})


# ---- the component's own objects pass every rule -------------------------------------------------------


def test_rendered_objects_pass_every_gpu_rule(real_config) -> None:
    objects = render(real_config.gpu)
    assert [
        f for obj in objects for rule in (gpu_priority_class, directive_drift) for f in rule(obj, real_config)
    ] == []
    assert [f for f in gpu_oversubscription(objects, real_config)] == []


# ---- gpu-priority-class ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "StatefulSet", "DaemonSet", "Job"])
def test_priority_class_compliant(real_config, kind) -> None:
    assert gpu_priority_class(workload(kind, "ai", {NV: 1}, "normal-gpu"), real_config) == []
    assert gpu_priority_class(workload(kind, "media", {NV: "1"}, "critical-gpu"), real_config) == []


def test_priority_class_not_needed_without_a_gpu(real_config) -> None:
    assert gpu_priority_class(workload("Deployment", "ai", {"cpu": "2"}), real_config) == []


def test_priority_class_wrong_class(real_config) -> None:
    findings = gpu_priority_class(workload("Deployment", "ai", {NV: 1}, "critical-gpu"), real_config)
    assert findings == [
        Finding(
            "gpu-priority-class",
            "Deployment ai/w: priorityClassName critical-gpu is reserved for GPU tenant(s) media, "
            "not namespace ai",
            Severity.MANDATORY,
            "spec.template.spec.priorityClassName",
        ),
        Finding(
            "gpu-priority-class",
            "Deployment ai/w: requests nvidia.com/gpu=1 in GPU tenant namespace ai and must set "
            "priorityClassName: normal-gpu (it has critical-gpu; the cluster's globalDefault would not do)",
            Severity.MANDATORY,
            "spec.template.spec.containers[0].resources",
        ),
    ]


def test_priority_class_missing(real_config) -> None:
    assert messages(gpu_priority_class(workload("Pod", "media", {NV: 1}), real_config)) == [
        "Pod media/w: requests nvidia.com/gpu=1 in GPU tenant namespace media and must set "
        "priorityClassName: critical-gpu (it has none; the cluster's globalDefault would not do)"
    ]


def test_priority_class_gpu_outside_every_tenant(real_config) -> None:
    # No namespace means `default`, which is no tenant.
    assert messages(gpu_priority_class(workload("Pod", None, {"gpu.intel.com/i915": 1}), real_config)) == [
        "Pod w: requests gpu.intel.com/i915=1 in namespace default, which is no GPU tenant (media, ai); "
        "its slices would sit outside every quota and the capacity proof"
    ]


def test_priority_class_reserved_for_its_tenants(real_config) -> None:
    assert messages(gpu_priority_class(workload("Deployment", "ai", None, "critical-gpu"), real_config)) == [
        "Deployment ai/w: priorityClassName critical-gpu is reserved for GPU tenant(s) media, "
        "not namespace ai"
    ]


def test_priority_class_more_than_one_slice_per_container(real_config) -> None:
    assert messages(gpu_priority_class(workload("Pod", "media", {NV: 2}, "critical-gpu"), real_config)) == [
        "Pod media/w: asks for 2 nvidia.com/gpu; a container may request at most 1 (shared device)"
    ]


def pod(ns: str, cls: str | None, **lists: list[dict]) -> dict:
    spec: dict = {name: [{"name": f"{name}-{i}", "image": "x", **c} for i, c in enumerate(items)]
                  for name, items in lists.items()}  # fmt: skip
    spec.setdefault("containers", [{"name": "app", "image": "x"}])
    if cls:
        spec["priorityClassName"] = cls
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns}, "spec": spec}


def gpu(n: int, res: str = NV) -> dict:
    return {"resources": {"limits": {res: str(n)}}}


def test_priority_class_init_containers_count(real_config) -> None:
    assert messages(gpu_priority_class(pod("ai", None, initContainers=[gpu(1)]), real_config)) == [
        "Pod ai/p: requests nvidia.com/gpu=1 in GPU tenant namespace ai and must set priorityClassName: "
        "normal-gpu (it has none; the cluster's globalDefault would not do)"
    ]


def test_priority_class_ephemeral_containers_hold_no_gpu(real_config) -> None:
    # Kubernetes refuses resources on ephemeral containers; the tenant's own class does not make it right.
    findings = gpu_priority_class(pod("ai", "normal-gpu", ephemeralContainers=[gpu(1)]), real_config)
    assert messages(findings) == [
        "Pod ai/p: an ephemeral container asks for nvidia.com/gpu=1; Kubernetes allows no resources there"
    ]
    assert findings[0].path == "spec.ephemeralContainers[0].resources"


def test_priority_class_only_pools_the_tenant_shares(real_config) -> None:
    # ai has no share of the Intel pool (its quota is 0), and amd.com/gpu is no pool at all.
    intel = gpu(1, "gpu.intel.com/i915")
    amd = gpu(1, "amd.com/gpu")
    assert messages(gpu_priority_class(pod("ai", "normal-gpu", containers=[intel, amd]), real_config)) == [
        "Pod ai/p: asks for gpu.intel.com/i915; tenant ai has no share of that pool (k3s-home:gpu.tenants)",
        "Pod ai/p: asks for amd.com/gpu, which is no GPU pool of this cluster (nvidia.com/gpu, "
        "gpu.intel.com/i915)",
    ]


def test_priority_class_pod_total_within_the_tenant_quota(real_config) -> None:
    # ai may hold 2 slices: three one-slice containers can never be admitted.
    three = pod("ai", "normal-gpu", containers=[gpu(1), gpu(1), gpu(1)])
    assert messages(gpu_priority_class(three, real_config)) == [
        "Pod ai/p: the pod asks for 3 nvidia.com/gpu in all; the quota of namespace ai allows 2"
    ]
    # Init containers run before the app containers: the pod holds the larger of the two, not the sum.
    assert (
        gpu_priority_class(
            pod("ai", "normal-gpu", initContainers=[gpu(1)], containers=[gpu(1), gpu(1)]), real_config
        )
        == []
    )
    # A sidecar (restartPolicy Always) keeps running beside them: it adds up.
    sidecar = {**gpu(1), "restartPolicy": "Always"}
    assert messages(
        gpu_priority_class(
            pod("ai", "normal-gpu", initContainers=[sidecar], containers=[gpu(1), gpu(1)]), real_config
        )
    ) == ["Pod ai/p: the pod asks for 3 nvidia.com/gpu in all; the quota of namespace ai allows 2"]


def test_pod_requests_follow_the_kubernetes_formula() -> None:
    from rules.gpu import Consumer, pod_requests

    def c(kind: str, n: int, sidecar: bool = False) -> Consumer:
        return Consumer("p", {NV: n}, None, kind, sidecar)

    assert pod_requests([c("containers", 1), c("containers", 2)], NV) == 3
    assert pod_requests([c("initContainers", 4), c("containers", 1)], NV) == 4
    # sidecar 1, then an init container of 2 while it runs (3), then apps 1 + sidecar 1 (2): 3
    assert pod_requests([c("initContainers", 1, True), c("initContainers", 2), c("containers", 1)], NV) == 3
    assert pod_requests([c("containers", 1)], "gpu.intel.com/i915") == 0


def test_priority_class_helm_values_at_any_depth(real_config) -> None:
    values = {
        "controllers": {
            "main": {
                "pod": {"priorityClassName": "normal-gpu"},
                "containers": {"app": {"resources": {"limits": {NV: 1}, "requests": {NV: 1}}}},
            }
        }
    }
    assert gpu_priority_class(helm_release("ai", values), real_config) == []
    del values["controllers"]["main"]["pod"]
    (finding,) = gpu_priority_class(helm_release("ai", values), real_config)
    assert finding.path == "spec.values.controllers.main.containers.app.resources"
    assert "must set priorityClassName: normal-gpu (it has none;" in finding.message


def test_priority_class_helm_target_namespace(real_config) -> None:
    values = {
        "ollama": {"gpu": {"enabled": True}},
        "resources": {"limits": {NV: 1}},
        "priorityClassName": "normal-gpu",
    }
    assert gpu_priority_class(helm_release("flux-system", values, target="ai"), real_config) == []
    (finding,) = gpu_priority_class(helm_release("flux-system", values, target="media"), real_config)
    assert "GPU tenant namespace media and must set priorityClassName: critical-gpu (it has normal-gpu;" in (
        finding.message
    )


def test_priority_class_config_override(real_config) -> None:
    # Give ai the critical class: the same object is now compliant, and normal-gpu is the wrong one.
    config = with_tenant(real_config, "ai", priority_class_name="critical-gpu")
    assert gpu_priority_class(workload("Pod", "ai", {NV: 1}, "critical-gpu"), config) == []
    assert len(gpu_priority_class(workload("Pod", "ai", {NV: 1}, "normal-gpu"), config)) == 2


# ---- gpu-oversubscription ----------------------------------------------------------------------------


def test_oversubscription_compliant(real_config) -> None:
    assert gpu_oversubscription(resource_quotas(real_config.gpu), real_config) == []


def test_oversubscription_over_capacity(real_config) -> None:
    objects = [
        quota("media", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "4"}),
        quota("ai", {f"requests.{NV}": "15", "requests.gpu.intel.com/i915": "0"}),
    ]
    assert messages(gpu_oversubscription(objects, real_config)) == [
        "pool nvidia.com/gpu: media reserved 2 + ai max 15 = 17 > 4 slices "
        "(1 device x 4 replicas on k3s3); lower a max or a reservation"
    ]


def test_oversubscription_limits_keys_are_never_tracked(real_config) -> None:
    # The live repo's defect: limits.<gpu> is accepted by the API server and never counted.
    objects = [
        quota("media", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "4"}),
        quota("ai", {f"limits.{NV}": "2", "requests.gpu.intel.com/i915": "0"}),
    ]
    findings = gpu_oversubscription(objects, real_config)
    assert messages(findings) == [
        "ResourceQuota ai/gpu-quota: quota key limits.nvidia.com/gpu is accepted but never tracked for the "
        "extended resource nvidia.com/gpu; use requests.nvidia.com/gpu",
        "pool nvidia.com/gpu is not bounded: media reserved 2 + ai unbounded (no quota); "
        "give every tenant a quota on it",
    ]
    assert findings[0].path == "spec.hard.limits.nvidia.com/gpu"


def test_oversubscription_missing_quota(real_config) -> None:
    objects = [quota("media", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "4"})]
    assert messages(gpu_oversubscription(objects, real_config)) == [
        "pool nvidia.com/gpu is not bounded: media reserved 2 + ai unbounded (no quota); "
        "give every tenant a quota on it",
        "pool gpu.intel.com/i915 is not bounded: media reserved 4 + ai unbounded (no quota); "
        "give every tenant a quota on it",
    ]


def test_oversubscription_scoped_quota_bounds_only_some_pods(real_config) -> None:
    objects = [
        quota("media", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "4"}),
        quota("ai", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "0"}, scoped=True),
    ]
    assert len(gpu_oversubscription(objects, real_config)) == 2


def test_oversubscription_quota_below_reservation_and_foreign_namespace(real_config) -> None:
    objects = [
        *resource_quotas(real_config.gpu),
        quota("media", {f"requests.{NV}": "1"}),  # the tighter quota wins
        quota("frigate", {f"requests.{NV}": "13"}),  # not a tenant, still consumes the pool
    ]
    assert messages(gpu_oversubscription(objects, real_config)) == [
        "ResourceQuota media/gpu-quota: quota requests.nvidia.com/gpu is 1, below namespace media's "
        "reservation of 2",
        "pool nvidia.com/gpu: media reserved 2 + ai max 2 + frigate max 13 = 17 > 4 slices "
        "(1 device x 4 replicas on k3s3); lower a max or a reservation",
    ]


def test_oversubscription_not_a_whole_number(real_config) -> None:
    objects = [*resource_quotas(real_config.gpu), quota("ai", {f"requests.{NV}": "500m"})]
    assert messages(gpu_oversubscription(objects, real_config)) == [
        "ResourceQuota ai/gpu-quota: requests.nvidia.com/gpu is '500m', not a whole number of slices"
    ]


def test_oversubscription_config_override(real_config) -> None:
    # With 20 replicas of the one T4 the same 17 slices fit the pool.
    pools = list(real_config.gpu.pools)
    ts = pools[0].time_slicing.model_copy(update={"replicas": 20})
    pools[0] = pools[0].model_copy(update={"time_slicing": ts})
    config = real_config.model_copy(update={"gpu": real_config.gpu.model_copy(update={"pools": pools})})
    objects = [
        quota("media", {f"requests.{NV}": "2", "requests.gpu.intel.com/i915": "4"}),
        quota("ai", {f"requests.{NV}": "15", "requests.gpu.intel.com/i915": "0"}),
    ]
    assert gpu_oversubscription(objects, config) == []


# ---- directive-drift -----------------------------------------------------------------------------------


def test_drift_compliant(real_config) -> None:
    assert directive_drift(priority_class("normal-gpu", 100, "Normal GPU workloads (AI)"), real_config) == []
    assert directive_drift(priority_class("medium-priority", 700, default=True), real_config) == []


def test_drift_live_normal_gpu_is_advisory(real_config) -> None:
    (finding,) = directive_drift(priority_class("normal-gpu", 700, "Normal GPU workloads (AI)"), real_config)
    assert finding == Finding(
        "directive-drift",
        "PriorityClass normal-gpu: value is 700; the directive (Phase 2, "
        "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:54) sets 100",
        Severity.ADVISORY,
        "value",
    )


def test_drift_missing_properties(real_config) -> None:
    assert messages(
        directive_drift(priority_class("critical-gpu", None, None, default=True), real_config)
    ) == [
        "PriorityClass critical-gpu: value is None; the directive (Phase 2, "
        "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:46) sets 1000",
        "PriorityClass critical-gpu: description is None; the directive (Phase 2, "
        "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:48) sets 'Critical GPU workloads (Plex, Jellyfin)'",
        "PriorityClass critical-gpu: globalDefault is True; the directive (Phase 2) sets False",
    ]


def test_drift_judges_against_the_directive_not_the_config(real_config) -> None:
    # A config that sets 750 does not make 750 right: only a waiver that names the line explains it.
    classes = [
        pc.model_copy(update={"value": 750}) if pc.name == "normal-gpu" else pc
        for pc in real_config.gpu.priority_classes
    ]
    config = real_config.model_copy(
        update={"gpu": real_config.gpu.model_copy(update={"priority_classes": classes})}
    )
    live = priority_class("normal-gpu", 750, "Normal GPU workloads (AI)")
    assert messages(directive_drift(live, config)) == [
        "PriorityClass normal-gpu: value is 750; the directive (Phase 2, "
        "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:54) sets 100"
    ]
    index = [pc.name for pc in classes].index("normal-gpu")
    waiver = Waiver(
        key=f"gpu.priorityClasses[{index}].value",
        directive="CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:54",
        reason="AI preempted last",
        approved_by="CIO",
    )
    waived = config.model_copy(update={"cluster": config.cluster.model_copy(update={"waivers": [waiver]})})
    assert messages(directive_drift(live, waived)) == [
        "PriorityClass normal-gpu: value is 750; the directive (Phase 2, "
        "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:54) sets 100; waived "
        "(CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md:54, approved by CIO)"
    ]


# ---- admission_refusals: the clauses the ValidatingAdmissionPolicy holds (ADR 0030) ----------------------


def test_admission_refusals_are_the_policys_clauses_only(real_config) -> None:
    # Clause 6 (the quota's) and 7 (pod validation's) are refused whatever the binding says: not counted.
    three = pod("ai", "normal-gpu", containers=[gpu(1), gpu(1), gpu(1)])
    assert gpu_priority_class(three, real_config) and admission_refusals(three, real_config) == []
    ephemeral = pod("ai", "normal-gpu", ephemeralContainers=[gpu(1)])
    assert gpu_priority_class(ephemeral, real_config) and admission_refusals(ephemeral, real_config) == []
    # Clauses 1 to 5 are: the tenant's own class (3), as the CEL words it.
    jellyfin = workload("Deployment", "media", {"gpu.intel.com/i915": "1"}, "critical")
    assert [f.message for f in admission_refusals(jellyfin, real_config)] == [
        "Deployment media/w: requests gpu.intel.com/i915=1 in GPU tenant namespace media and must set "
        "priorityClassName: critical-gpu (it has critical; the cluster's globalDefault would not do)"
    ]
    # An init container asking for a slice counts; a pod without a GPU is none of the policy's business.
    assert admission_refusals(pod("ai", "batch-gpu", initContainers=[gpu(1)]), real_config)
    assert admission_refusals(workload("Deployment", "media", None, "critical"), real_config) == []
    # A GPU class outside its tenant (1), a slice outside every tenant (2), a pool without a share (4),
    # two slices in one container (5).
    assert admission_refusals(workload("Pod", "default", None, "critical-gpu"), real_config)
    assert admission_refusals(workload("Pod", "default", {NV: "1"}), real_config)
    assert admission_refusals(pod("ai", "normal-gpu", containers=[gpu(1, "gpu.intel.com/i915")]), real_config)
    assert admission_refusals(workload("Pod", "media", {NV: "2"}, "critical-gpu"), real_config)
