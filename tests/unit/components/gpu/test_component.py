"""GpuManagement under recording mocks: every resource and the properties that make the guard rails bind."""

from __future__ import annotations

import json

import pulumi
import pytest
import yaml

import facts
from components.config.gpu import GpuConfig
from components.gpu.component import GpuManagement
from components.gpu.live_workloads import LiveWorkloads

PC = "kubernetes:scheduling.k8s.io/v1:PriorityClass"
RQ = "kubernetes:core/v1:ResourceQuota"
CM = "kubernetes:core/v1:ConfigMap"
VAP = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"
VAPB = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
HR = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
SM = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PR = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _without_flux_keeps(config):
    """The real config with nothing kept by Flux: every builder registers (the objects' own values)."""
    return config.model_copy(update={"cluster": config.cluster.model_copy(update={"flux_keeps": []})})


@pytest.fixture
def built(record, real_config):
    holder: dict = {}

    def build():
        holder["gpu"] = GpuManagement("gpu", _without_flux_keeps(real_config))
        urns = [r.urn for r in holder["gpu"].resources.values()]
        pulumi.Output.all(*urns).apply(lambda u: holder.setdefault("urns", u))

    mocks = record(build)
    return mocks, holder


def _named(mocks, typ: str, name: str, namespace: str | None = None):
    found = [
        r
        for r in mocks.of_type(typ)
        if r.inputs["metadata"]["name"] == name and r.inputs["metadata"].get("namespace") == namespace
    ]
    assert len(found) == 1, [r.name for r in mocks.of_type(typ)]
    return found[0]


def test_registers_exactly_the_gpu_objects(built) -> None:
    mocks, _ = built
    counts = {t: len(mocks.of_type(t)) for t in (PC, RQ, CM, VAP, VAPB, HR, SM, PR)}
    assert counts == {PC: 2, RQ: 6, CM: 2, VAP: 1, VAPB: 1, HR: 1, SM: 1, PR: 1}
    assert [r.type for r in mocks.resources].count("k3s-home:gpu:GpuManagement") == 1


def test_every_child_is_parented_to_the_component(built) -> None:
    mocks, holder = built
    children = [r for r in mocks.resources if r.type.startswith("kubernetes:")]
    assert len(holder["urns"]) == len(children) == 15
    assert all("k3s-home:gpu:GpuManagement$kubernetes:" in urn for urn in holder["urns"])


def test_priority_classes_are_the_directive_verbatim(built) -> None:
    mocks, _ = built
    critical = _named(mocks, PC, "critical-gpu").inputs
    normal = _named(mocks, PC, "normal-gpu").inputs
    assert (critical["value"], critical["globalDefault"], critical["description"]) == (
        1000,
        False,
        "Critical GPU workloads (Plex, Jellyfin)",
    )
    assert (normal["value"], normal["globalDefault"], normal["description"]) == (
        100,
        False,
        "Normal GPU workloads (AI)",
    )


def test_slice_quotas_use_requests_keys_only(built) -> None:
    mocks, _ = built
    ai = _named(mocks, RQ, "gpu-quota", "ai").inputs["spec"]
    media = _named(mocks, RQ, "gpu-quota", "media").inputs["spec"]
    assert ai == {"hard": {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "0"}}
    assert media == {"hard": {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "4"}}
    keys = [k for r in mocks.of_type(RQ) for k in r.inputs["spec"].get("hard", {})]
    assert not [k for k in keys if k.startswith("limits.")]


def test_priority_class_scoped_quotas_keep_foreign_classes_out(built) -> None:
    mocks, _ = built
    for ns, foreign in (("ai", "critical-gpu"), ("media", "normal-gpu")):
        spec = _named(mocks, RQ, f"gpu-deny-{foreign}", ns).inputs["spec"]
        assert spec == {
            "hard": {"pods": "0"},
            "scopeSelector": {
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": [foreign]}]
            },
        }
    # A tenant's own class is never denied in its namespace; a scope-only quota covers it instead, which
    # the API server's limitedResources requires (toolchain/admission-config.yaml).
    names = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in mocks.of_type(RQ)}
    assert ("ai", "gpu-deny-normal-gpu") not in names and ("media", "gpu-deny-critical-gpu") not in names
    for ns, own in (("ai", "normal-gpu"), ("media", "critical-gpu")):
        quota = _named(mocks, RQ, f"gpu-class-{own}", ns).inputs
        assert quota["spec"] == {
            "scopeSelector": {
                "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": [own]}]
            }
        }
        # Without `hard` its status never matches a spec.hard: Pulumi must not wait for it.
        assert quota["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}


def test_admission_policy_requires_the_tenants_own_class(built) -> None:
    mocks, _ = built
    spec = mocks.one(VAP).inputs["spec"]
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"] == [
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]},
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["UPDATE"],
            "resources": ["pods/ephemeralcontainers"],
        },
    ]
    variables = {v["name"]: v["expression"] for v in spec["variables"]}
    # Every container list, init and ephemeral containers included.
    for field in ("containers", "initContainers", "ephemeralContainers"):
        assert (
            f"object.spec.{field}.filter(c, has(c.resources)).map(c, c.resources)" in variables["resources"]
        )
    # The class is compared with the tenant's own, so a filled-in globalDefault does not pass.
    assert "{'media': 'critical-gpu', 'ai': 'normal-gpu'}[request.namespace]" in variables["expected"]
    assert variables["requested"].startswith(
        "['nvidia.com/gpu', 'gpu.intel.com/i915', 'nvidia.com/gpu.shared', 'amd.com/gpu'].filter("
    )
    own, outside, shares, reserved, *per_pool = spec["validations"]
    assert outside["expression"] == "size(variables.requested) == 0 || variables.expected != ''"
    assert (
        "{'media': ['nvidia.com/gpu', 'gpu.intel.com/i915'], 'ai': ['nvidia.com/gpu']}"
        in shares["expression"]
    )
    assert "is reserved for GPU tenant(s) ' + " in reserved["messageExpression"]
    assert own["expression"] == (
        "size(variables.requested) == 0 || variables.expected == '' || variables.actual == variables.expected"
    )
    assert "must set priorityClassName: ' + variables.expected" in own["messageExpression"]
    assert [v["message"].split(":")[0] for v in per_pool] == [
        "a container may request at most 1 nvidia.com/gpu",
        "a container may request at most 1 gpu.intel.com/i915",
    ]
    assert "compareTo(quantity('1')) <= 0" in per_pool[0]["expression"]


def test_admission_binding_covers_every_namespace(built) -> None:
    mocks, _ = built
    spec = mocks.one(VAPB).inputs["spec"]
    assert spec["policyName"] == mocks.one(VAP).inputs["metadata"]["name"] == "gpu-tenant-priority-class"
    # The Flux repo still runs jellyfin at `critical` and automatic1111 at `batch-gpu` (facts), and the unit
    # layer reads no cluster: Warn, never Deny (ADR 0030; components.gpu.enforcement).
    assert spec["validationActions"] == ["Warn", "Audit"]
    assert "matchResources" not in spec  # defect 8: a binding over the tenants let every other namespace in


def _fixed_facts():
    real = facts.load()
    fixed = {"jellyfin": "critical-gpu", "automatic1111": "normal-gpu"}
    workloads = [
        w.model_copy(update={"priority_class": fixed.get(w.name, w.priority_class)})
        for w in real.gpu_workloads
    ]
    return real.model_copy(update={"gpu_workloads": workloads})


def test_binding_denies_once_nothing_live_would_be_refused(record, real_config) -> None:
    holder: dict = {}
    live = LiveWorkloads((), None, "/tmp/kubeconfig")
    mocks = record(
        lambda: holder.setdefault("gpu", GpuManagement("gpu", real_config, facts=_fixed_facts(), live=live))
    )
    assert mocks.one(VAPB).inputs["spec"]["validationActions"] == ["Deny"]
    admission = holder["gpu"].summary["admission"]
    assert admission["validationActions"] == ["Deny"]
    assert admission["targetRead"] is True and admission["wouldRefuse"] == []
    assert admission["why"].startswith("no live workload would be refused (3 checked")


def test_summary_reports_the_rendered_binding_not_a_wish(record, real_config) -> None:
    holder: dict = {}
    mocks = record(lambda: holder.setdefault("gpu", GpuManagement("gpu", real_config)))
    admission = holder["gpu"].summary["admission"]
    assert admission["validationActions"] == mocks.one(VAPB).inputs["spec"]["validationActions"]
    assert admission["policy"] == "gpu-tenant-priority-class"
    assert admission["targetRead"] is False  # no KUBECONFIG in the unit layer
    assert [line.split(" (")[0] for line in admission["wouldRefuse"]] == [
        "HelmRelease ai/automatic1111",
        "HelmRelease media/jellyfin",
    ]


def test_time_slicing_config_map(built) -> None:
    mocks, _ = built
    cm = _named(mocks, CM, "nvidia-device-plugin-config", "nvidia-device-plugin").inputs
    assert yaml.safe_load(cm["data"]["config.yaml"]) == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": False,
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
            }
        },
    }


def test_dcgm_exporter_release_and_service_monitor(built) -> None:
    mocks, _ = built
    hr = mocks.one(HR).inputs
    assert (hr["apiVersion"], hr["metadata"]["namespace"]) == ("helm.toolkit.fluxcd.io/v2", "monitoring")
    assert hr["spec"]["chart"]["spec"] == {
        "chart": "dcgm-exporter",
        "version": "3.1.5",
        "sourceRef": {"kind": "HelmRepository", "name": "nvidia-dcgm", "namespace": "flux-system"},
    }
    values = hr["spec"]["values"]
    assert values["serviceMonitor"] == {"enabled": False}
    # k3s keeps runc as the default runtime; chart 3.1.5 has no runtimeClassName value: a post-renderer.
    (renderer,) = hr["spec"]["postRenderers"]
    (patch,) = renderer["kustomize"]["patches"]
    assert patch["target"] == {"kind": "DaemonSet"}
    assert yaml.safe_load(patch["patch"]) == [
        {"op": "add", "path": "/spec/template/spec/runtimeClassName", "value": "nvidia"}
    ]
    terms = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["k3s3"]
    assert "nvidia.com/gpu" not in json.dumps(values)  # the exporter must not take a tenant's slice
    sm = mocks.one(SM).inputs
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "dcgm-exporter"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["monitoring"]}
    assert sm["spec"]["endpoints"][0]["port"] == "metrics"


def test_alerts_cover_saturation_framebuffer_xid_quota_and_pending(built) -> None:
    mocks, _ = built
    pr = mocks.one(PR).inputs
    assert pr["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    rules = {r["alert"]: r for r in pr["spec"]["groups"][0]["rules"]}
    assert list(rules) == [
        "GpuUtilizationSaturated",
        "GpuFramebufferHigh",
        "GpuXidError",
        "GpuQuotaExhausted",
        "GpuPodPending",
    ]
    assert "DCGM_FI_DEV_GPU_UTIL" in rules["GpuUtilizationSaturated"]["expr"]
    assert rules["GpuUtilizationSaturated"]["expr"].endswith("> 95")
    assert rules["GpuFramebufferHigh"]["expr"].endswith("> 90")
    assert "DCGM_FI_DEV_FB_USED" in rules["GpuFramebufferHigh"]["expr"]
    assert "DCGM_FI_DEV_XID_ERRORS" in rules["GpuXidError"]["expr"]
    assert rules["GpuXidError"]["labels"]["severity"] == "critical"
    quota = rules["GpuQuotaExhausted"]["expr"]
    # A PromQL string holding the regex `requests\.nvidia\.com/gpu|...` (the backslash itself escaped).
    assert r'resource=~"requests\\.nvidia\\.com/gpu|requests\\.gpu\\.intel\\.com/i915"' in quota
    assert quota.endswith(">= 1")
    pending = rules["GpuPodPending"]
    assert 'resource=~"nvidia_com_gpu|gpu_intel_com_i915"' in pending["expr"]
    assert 'phase="Pending"' in pending["expr"] and pending["for"] == "10m"


def test_dashboard_shows_allocation_per_namespace(built) -> None:
    mocks, _ = built
    cm = _named(mocks, CM, "gpu-allocation-dashboard", "monitoring").inputs
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(cm["data"]["gpu-allocation.json"])
    assert board["uid"] == "k3s-home-gpu-allocation"
    first = board["panels"][0]
    assert first["title"] == "GPU slices allocated per namespace"
    assert first["targets"][0]["expr"].startswith(
        'sum by (namespace, resource) (kube_resourcequota{type="used"'
    )


def test_summary_and_advisory_warning(record, real_config, monkeypatch) -> None:
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warned.append(msg))
    holder: dict = {}
    record(lambda: holder.setdefault("gpu", GpuManagement("gpu", real_config)))
    summary = holder["gpu"].summary
    assert [(p["resource"], p["capacity"], p["committed"], p["free"]) for p in summary["pools"]] == [
        ("nvidia.com/gpu", 4, 4, 0),
        ("gpu.intel.com/i915", 20, 4, 16),
    ]
    assert summary["priorityClasses"] == {"critical-gpu": 1000, "normal-gpu": 100}
    assert summary["tenants"][1] == {
        "namespace": "ai",
        "priorityClassName": "normal-gpu",
        "quota": {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "0"},
    }
    # Two about the classes' values, two workloads the policy would refuse, and the unread target.
    assert len(summary["advisories"]) == 5
    assert warned == [f"gpu advisory: {note}" for note in summary["advisories"]]
    assert "preempted first on k3s3" in warned[0]
    assert sum("GPU admission stays [Warn, Audit]" in w for w in warned) == 3


def test_adopted_objects_are_imported(record, real_config) -> None:
    cluster = real_config.cluster.model_copy(
        update={
            "flux_keeps": [],
            "adopt": [
                "PriorityClass/critical-gpu",
                "ResourceQuota/ai/gpu-quota",
                "ConfigMap/nvidia-device-plugin/nvidia-device-plugin-config",
            ],
        }
    )
    config = real_config.model_copy(update={"cluster": cluster})
    mocks = record(lambda: GpuManagement("gpu", config))
    imported = {r.name: r.options.resource_id for r in mocks.resources if r.options.resource_id}
    assert imported == {
        "gpu-priority-class-critical-gpu": "critical-gpu",
        "gpu-resource-quota-ai-gpu-quota": "ai/gpu-quota",
        "gpu-config-map-nvidia-device-plugin-nvidia-device-plugin-config": (
            "nvidia-device-plugin/nvidia-device-plugin-config"
        ),
    }


def test_objects_flux_keeps_are_not_registered_and_nor_is_a_second_service_monitor(
    record, real_config
) -> None:
    # ADR 0029: Flux keeps the GPU classes, the slice quotas and the dcgm release; their changes are edits
    # of Flux's files. The chart's own ServiceMonitor is the only one of that name.
    mocks = record(lambda: GpuManagement("gpu", real_config))
    names = {
        (r.type, r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"])
        for r in mocks.resources
        if r.type.startswith("kubernetes:")
    }
    assert not mocks.of_type(PC) and not mocks.of_type(HR) and not mocks.of_type(SM)
    assert (RQ, "ai", "gpu-quota") not in names and (RQ, "media", "gpu-quota") not in names
    # The stack's own objects stay: the scope quotas, the admission policy, the alerts, the dashboard.
    assert (RQ, "ai", "gpu-deny-critical-gpu") in names and len(mocks.of_type(RQ)) == 4
    assert len(mocks.of_type(VAP)) == len(mocks.of_type(PR)) == 1
    imported = {r.name for r in mocks.resources if r.options.resource_id}
    assert imported == {"gpu-config-map-nvidia-device-plugin-nvidia-device-plugin-config"}


def test_unproven_model_registers_nothing(record, real_config) -> None:
    # model_construct skips validation: the component must still refuse before registering anything.
    gpu = real_config.gpu
    ai = gpu.tenants[1].model_copy(
        update={
            "pools": {"nvidia.com/gpu": gpu.tenants[1].pools["nvidia.com/gpu"].model_copy(update={"max": 15})}
        }
    )
    bad = GpuConfig.model_construct(**{**dict(gpu), "tenants": [gpu.tenants[0], ai]})
    config = real_config.model_copy(update={"gpu": bad})

    def build():
        with pytest.raises(pulumi.RunError) as err:
            GpuManagement("gpu", config)
        assert str(err.value) == (
            "k3s-home:gpu.tenants: oversubscribed: pool nvidia.com/gpu: media reserved 2 + ai max 15 = 17 > "
            "4 slices (1 device x 4 replicas on k3s3); lower a max or a reservation"
        )

    assert record(build).resources == []
