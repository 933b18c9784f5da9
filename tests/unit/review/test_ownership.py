"""Planned creates of objects that already exist: caught at preview, not halfway through `up`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2 as httpx
import pytest

from review import gate
from review.gate import check_cluster, exit_code, main, render, summarize
from review.ownership import UNKNOWN, ClusterLookup, Collision, ObjectRef, collisions, creates, object_ref

PREFIX = "urn:pulumi:k3s-home::k3s-home::"
GPU = "k3s-home:gpu:GpuManagement"
PC_TYPE = "kubernetes:scheduling.k8s.io/v1:PriorityClass"
HR_TYPE = "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease"
CM_TYPE = "kubernetes:core/v1:ConfigMap"
SUMMARY = {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {}}}

NORMAL_GPU = ObjectRef("scheduling.k8s.io/v1", "PriorityClass", "normal-gpu")
LOKI = ObjectRef("helm.toolkit.fluxcd.io/v2", "HelmRelease", "loki", "monitoring")
DASHBOARD = ObjectRef("v1", "ConfigMap", "gpu-allocation-dashboard", "monitoring")


def pre(op: str, typ: str, name: str | None, namespace: str | None = None, custom: bool = True) -> dict:
    """A `resourcePreEvent` as `pulumi preview --event-log` writes it (shape taken from a real log)."""
    urn = f"{PREFIX}{GPU}${typ}::res-{name}"
    meta: dict = {"labels": {"app.kubernetes.io/managed-by": "pulumi"}}
    if name is not None:
        meta["name"] = name
    if namespace:
        meta["namespace"] = namespace
    group_version, kind = typ.split(":")[1:] if typ.startswith("kubernetes:") else ("", "")
    inputs = {"apiVersion": group_version.removeprefix("core/"), "kind": kind, "metadata": meta}
    state = {"type": typ, "urn": urn, "custom": custom, "id": "", "inputs": inputs, "outputs": {}}
    return {
        "sequence": 1,
        "timestamp": 0,
        "resourcePreEvent": {
            "metadata": {
                "op": op,
                "urn": urn,
                "type": typ,
                "old": state if op != "create" else None,
                "new": state,
                "detailedDiff": None,
                "logical": True,
                "provider": "",
            },
            "planning": True,
        },
    }


def key(ref: ObjectRef) -> tuple:
    return (ref.api_version, ref.kind, ref.namespace, ref.name)


def fake_exists(*live: ObjectRef, fail: dict[ObjectRef, str] | None = None):
    """An `exists` over `live` objects (compared without their URN), raising for those in `fail`."""
    asked: list[ObjectRef] = []
    keys = {key(r) for r in live}
    errors = {key(r): reason for r, reason in (fail or {}).items()}

    def exists(ref: ObjectRef) -> bool:
        asked.append(ref)
        if key(ref) in errors:
            raise TimeoutError(errors[key(ref)])
        return key(ref) in keys

    return exists, asked


@pytest.fixture(autouse=True)
def no_kubeconfig(monkeypatch):
    """The CLI never reaches a cluster from unit tests, whatever the caller's shell exports."""
    monkeypatch.delenv("KUBECONFIG", raising=False)


# --- extraction ---------------------------------------------------------------------------------------


def test_creates_take_gvk_from_the_type_token_and_names_from_the_inputs():
    events = [
        pre("create", PC_TYPE, "normal-gpu"),
        pre("create", HR_TYPE, "loki", "monitoring"),
        pre("create", CM_TYPE, "gpu-allocation-dashboard", "monitoring"),
    ]
    assert [(r.api_version, r.kind, r.namespace, r.name) for r in creates(events)] == [
        ("scheduling.k8s.io/v1", "PriorityClass", None, "normal-gpu"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease", "monitoring", "loki"),
        ("v1", "ConfigMap", "monitoring", "gpu-allocation-dashboard"),  # core/v1 is apiVersion v1
    ]
    assert creates(events)[0].urn.endswith("PriorityClass::res-normal-gpu")
    assert [str(r) for r in creates(events)] == [
        "PriorityClass normal-gpu",
        "HelmRelease monitoring/loki",
        "ConfigMap monitoring/gpu-allocation-dashboard",
    ]


def test_imports_replacements_and_other_steps_are_not_creates():
    # Adopted objects arrive as `import` steps; a replacement creates after deleting (or beside) its own.
    events = [
        pre(op, PC_TYPE, "normal-gpu")
        for op in ("import", "create-replacement", "replace", "delete-replaced", "same", "update")
    ]
    assert creates(events) == []


def test_non_kubernetes_types_and_non_objects_are_ignored():
    events = [
        pre("create", "pulumi-python:dynamic:Resource", "secret"),
        pre("create", GPU, "gpu", custom=False),
        pre("create", "pulumi:providers:kubernetes", "default"),
        pre("create", "kubernetes:core/v1:ConfigMapPatch", "coredns", "kube-system"),
        pre("create", "kubernetes:helm.sh/v3:Release", "loki", "monitoring"),
        pre("create", "kubernetes:yaml/v2:ConfigGroup", "crds", custom=False),
        pre("create", "kubernetes:yaml:ConfigFile", "crds", custom=False),
        {"summaryEvent": {}},
    ]
    assert creates(events) == []


def test_a_step_without_new_state_is_not_a_create_to_check():
    event = pre("create", PC_TYPE, "normal-gpu")
    del event["resourcePreEvent"]["metadata"]["new"]
    assert object_ref(event["resourcePreEvent"]["metadata"]) is None


# --- the pure core ------------------------------------------------------------------------------------


def test_an_existing_object_is_a_collision():
    exists, _ = fake_exists(NORMAL_GPU, LOKI)
    assert collisions([NORMAL_GPU, DASHBOARD, LOKI], exists) == [Collision(NORMAL_GPU), Collision(LOKI)]


def test_absent_objects_are_no_collision():
    exists, asked = fake_exists()
    assert collisions([NORMAL_GPU, DASHBOARD], exists) == []
    assert asked == [NORMAL_GPU, DASHBOARD]


def test_a_failed_check_is_reported_as_advisory_not_swallowed():
    exists, _ = fake_exists(NORMAL_GPU, fail={LOKI: "timed out after 5s"})
    found = collisions([NORMAL_GPU, LOKI], exists)
    assert found == [Collision(NORMAL_GPU), Collision(LOKI, "timed out after 5s")]
    assert [c.exists for c in found] == [True, False]


def test_an_unknown_name_is_not_looked_up_but_reported():
    unknown = ObjectRef("v1", "ConfigMap", UNKNOWN, "monitoring")
    exists, asked = fake_exists()
    assert collisions([unknown], exists) == [Collision(unknown, "name not known until apply")]
    assert asked == []
    assert str(unknown) == "ConfigMap monitoring/(name unknown)"


def test_each_object_is_asked_once():
    exists, asked = fake_exists(NORMAL_GPU)
    assert collisions([NORMAL_GPU, NORMAL_GPU], exists) == [Collision(NORMAL_GPU)]
    assert asked == [NORMAL_GPU]


# --- the gate -----------------------------------------------------------------------------------------


def preview() -> list[dict]:
    return [
        pre("create", PC_TYPE, "normal-gpu"),
        pre("import", PC_TYPE, "critical-gpu"),  # adopted via cluster.adopt: never looked up
        pre("create", HR_TYPE, "loki", "monitoring"),
        pre("create", CM_TYPE, "gpu-allocation-dashboard", "monitoring"),
        SUMMARY,
    ]


def test_the_gate_blocks_on_a_collision_and_names_it_in_its_section():
    exists, asked = fake_exists(
        NORMAL_GPU, LOKI, ObjectRef("scheduling.k8s.io/v1", "PriorityClass", "critical-gpu")
    )
    summary = check_cluster(summarize(preview(), set()), exists)
    assert "critical-gpu" not in {r.name for r in asked}
    assert exit_code(summary) == 1
    text = render(summary)
    section = text.split(f"{gate.COLLISION_HEADING} (2):\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == ["!! HelmRelease monitoring/loki", "!! PriorityClass normal-gpu"]
    assert "2 create(s) of objects that already exist in the cluster" in text.splitlines()[-1]
    assert text.splitlines()[-1].startswith("Verdict: BLOCKED")


def test_the_gate_passes_when_nothing_exists():
    exists, _ = fake_exists()
    summary = check_cluster(summarize(preview(), set()), exists)
    assert exit_code(summary) == 0
    assert f"{gate.COLLISION_HEADING} (0):\n   none\n" in render(summary)


def test_unchecked_creates_are_advisory_and_named_on_one_line_per_reason():
    exists, _ = fake_exists(fail={NORMAL_GPU: "API down", LOKI: "API down", DASHBOARD: "HTTP 403: forbidden"})
    summary = check_cluster(summarize(preview(), set()), exists)
    assert exit_code(summary) == 0
    text = render(summary)
    assert "[advisory] could not check ConfigMap monitoring/gpu-allocation-dashboard: HTTP 403" in text
    assert (
        "[advisory] could not check HelmRelease monitoring/loki, PriorityClass normal-gpu: API down" in text
    )
    assert (
        text.splitlines()[-1]
        == "Verdict: ok to apply (3 create(s) not checked against the cluster, see above)"
    )


# --- the CLI ------------------------------------------------------------------------------------------


def write_log(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture
def fake_cluster(monkeypatch):
    """`ClusterLookup` replaced by a fake cluster holding normal-gpu; records the kubeconfig it got."""
    seen: list[str] = []

    class FakeLookup:
        def __init__(self, kubeconfig: str) -> None:
            seen.append(kubeconfig)
            self.exists, _ = fake_exists(NORMAL_GPU)

        def __call__(self, ref: ObjectRef) -> bool:
            return self.exists(ref)

        def close(self) -> None:
            pass

    monkeypatch.setattr(gate, "ClusterLookup", FakeLookup)
    return seen


def test_cli_checks_the_cluster_of_kubeconfig(tmp_path, capsys, monkeypatch, fake_cluster):
    monkeypatch.setenv("KUBECONFIG", "/tmp/kc")
    log = write_log(tmp_path / "events.jsonl", preview())
    assert main([str(log)]) == 1
    assert fake_cluster == ["/tmp/kc"]
    assert "!! PriorityClass normal-gpu" in capsys.readouterr().out


def test_cli_no_cluster_check_and_no_kubeconfig_say_so(tmp_path, capsys, monkeypatch, fake_cluster):
    log = write_log(tmp_path / "events.jsonl", preview())
    monkeypatch.setenv("KUBECONFIG", "/tmp/kc")
    assert main([str(log), "--no-cluster-check"]) == 0
    assert "   not checked (--no-cluster-check)" in capsys.readouterr().out
    monkeypatch.delenv("KUBECONFIG")
    assert main([str(log)]) == 0
    assert "   not checked (KUBECONFIG not set)" in capsys.readouterr().out
    assert fake_cluster == []


# --- the live lookup, over a fake API server ----------------------------------------------------------


def api_server(objects: set[str], calls: list[str] | None = None) -> httpx.Client:
    discovery = {
        "/api/v1": [{"name": "configmaps", "kind": "ConfigMap", "namespaced": True}],
        "/apis/scheduling.k8s.io/v1": [
            {"name": "priorityclasses", "kind": "PriorityClass", "namespaced": False},
            {"name": "priorityclasses/status", "kind": "PriorityClass", "namespaced": False},
        ],
    }

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if calls is not None:
            calls.append(path)
        if path in discovery:
            return httpx.Response(200, json={"kind": "APIResourceList", "resources": discovery[path]})
        if path in objects:
            return httpx.Response(200, json={"metadata": {"name": path.rsplit("/", 1)[-1]}})
        return httpx.Response(404, json={"kind": "Status", "reason": "NotFound"})

    return httpx.Client(base_url="https://k3s.test", transport=httpx.MockTransport(handle))


def test_lookup_uses_discovery_for_plural_and_scope():
    calls: list[str] = []
    http = api_server({"/apis/scheduling.k8s.io/v1/priorityclasses/normal-gpu"}, calls)
    lookup = ClusterLookup("unused", http=http, namespace="home")
    assert lookup(NORMAL_GPU) is True
    assert lookup(ObjectRef("scheduling.k8s.io/v1", "PriorityClass", "batch-gpu")) is False
    assert lookup(ObjectRef("v1", "ConfigMap", "x")) is False  # no namespace: the kubeconfig's
    assert calls == [
        "/apis/scheduling.k8s.io/v1",
        "/apis/scheduling.k8s.io/v1/priorityclasses/normal-gpu",
        "/apis/scheduling.k8s.io/v1/priorityclasses/batch-gpu",  # discovery is cached
        "/api/v1",
        "/api/v1/namespaces/home/configmaps/x",
    ]


def test_lookup_of_a_kind_the_server_does_not_serve_is_absent():
    lookup = ClusterLookup("unused", http=api_server(set()))
    assert lookup(LOKI) is False  # no Flux CRDs: no HelmRelease can exist
    assert lookup(ObjectRef("v1", "Widget", "w", "default")) is False


def test_lookup_errors_other_than_404_raise_with_the_reason():
    http = httpx.Client(
        base_url="https://k3s.test",
        transport=httpx.MockTransport(
            lambda r: (
                httpx.Response(
                    200, json={"resources": [{"name": "secrets", "kind": "Secret", "namespaced": True}]}
                )
                if r.url.path == "/api/v1"
                else httpx.Response(403, json={"message": "secrets is forbidden"})
            )
        ),
    )
    with pytest.raises(Exception, match="HTTP 403: secrets is forbidden"):
        ClusterLookup("unused", http=http)(ObjectRef("v1", "Secret", "grafana-sso", "monitoring"))


def test_an_unreachable_api_server_fails_every_check_fast_with_one_reason():
    calls: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(base_url="https://k3s.test", transport=httpx.MockTransport(refuse))
    lookup = ClusterLookup("unused", http=http)
    found = collisions([NORMAL_GPU, LOKI, DASHBOARD], lookup)
    assert {c.error for c in found} == {"the API server at https://k3s.test is not answering (ConnectError)"}
    assert len(found) == 3 and len(calls) == 1


def test_an_unreadable_kubeconfig_is_a_reason_not_a_crash(tmp_path):
    found = collisions([NORMAL_GPU], ClusterLookup(str(tmp_path / "missing")))
    assert len(found) == 1 and found[0].error.startswith("cannot read kubeconfig")
