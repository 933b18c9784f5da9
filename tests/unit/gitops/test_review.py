"""The rendered diff through the review gate: the same summary and verdicts as a preview."""

from __future__ import annotations

from pathlib import Path

from gitops.layout import Rendered
from gitops.review import defined_elsewhere, diff_events, repo_objects
from review.gate import check_cluster, exit_code, render, summarize
from review.ownership import ObjectRef

GPU = "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement$kubernetes:core/v1:{k}::gpu-{n}"
STORAGE_FOLDER = "clusters/k3s-home/apps/monitoring/monitoring-storage"


def quota(name: str, hard: str = "1") -> Rendered:
    obj = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": "ai"},
        "spec": {"hard": {"requests.nvidia.com/gpu": hard}},
    }
    return Rendered(obj, GPU.format(k="ResourceQuota", n=name), "kubernetes:core/v1:ResourceQuota")


def pvc(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "monitoring"},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
    }


def complete(events: list[dict]) -> list[dict]:
    return [*events, {"summaryEvent": {}}]


def test_creates_updates_and_unchanged_objects_per_component() -> None:
    existing = {
        ("ResourceQuota", "ai", "a"): ("p/resource-quotas.yaml", quota("a").obj),
        ("ResourceQuota", "ai", "b"): ("p/resource-quotas.yaml", quota("b", "2").obj),
    }
    summary = summarize(complete(list(diff_events([quota("a"), quota("b"), quota("c")], existing))), set())
    assert dict(summary.counts["k3s-home:gpu:GpuManagement"]) == {"update": 1, "create": 1}
    assert exit_code(summary) == 0


def test_an_object_that_leaves_the_render_is_a_delete_and_a_claim_blocks_first() -> None:
    existing = {("PersistentVolumeClaim", "monitoring", "data"): (f"{STORAGE_FOLDER}/pvcs.yaml", pvc("data"))}
    summary = summarize(complete(list(diff_events([quota("a")], existing))), set())
    assert [c.kind for c in summary.changes] == ["delete", "create"]  # destructive first
    assert summary.changes[0].component == "k3s-home:storage:MonitoringStorage"
    assert summary.changes[0].blocks and exit_code(summary) == 1
    acked = summarize(complete(list(diff_events([quota("a")], existing))), {"monitoring/data"})
    assert exit_code(acked) == 0


def test_secret_values_never_reach_the_events() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "m"},
        "data": {"k": "c2VjcmV0"},
    }
    item = Rendered(secret, GPU.format(k="Secret", n="s"), "kubernetes:core/v1:Secret")
    events = list(
        diff_events([item], {("Secret", "m", "s"): ("x/secret-m-s.yaml", {**secret, "data": {"k": "b2xk"}})})
    )
    assert "c2VjcmV0" not in repr(events) and "b2xk" not in repr(events)
    assert events[0]["resourcePreEvent"]["metadata"]["op"] == "update"


SYNC = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {path: ./clusters/k3s-home/infrastructure, prune: true}
"""


def test_a_create_of_an_object_a_flux_file_defines_blocks(tmp_path: Path) -> None:
    cluster = tmp_path / "clusters" / "k3s-home"
    (cluster / "flux-system").mkdir(parents=True)
    (cluster / "flux-system" / "gotk-sync.yaml").write_text(SYNC)
    flux = cluster / "infrastructure" / "07-gpu-management"  # no kustomization.yaml: every manifest below
    flux.mkdir(parents=True)
    (flux / "namespace-quotas.yaml").write_text(
        "---\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: a\n  namespace: ai\n"
    )
    (flux / "broken.yaml").write_text("a: [\n")
    # In Git but reached by no Kustomization: Flux applies nothing from it, so it collides with nothing.
    (cluster / "unwired").mkdir()
    (cluster / "unwired" / "quota.yaml").write_text(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: b\n  namespace: ai\n"
    )
    found, unreadable = repo_objects(tmp_path, [])
    assert unreadable == ["clusters/k3s-home/infrastructure/07-gpu-management/broken.yaml"]
    summary = check_cluster(
        summarize(complete(list(diff_events([quota("a"), quota("b")], {}))), set()), defined_elsewhere(found)
    )
    assert [str(c.ref) for c in summary.colliding] == ["ResourceQuota ai/a"]
    assert exit_code(summary) == 1
    assert "!! ResourceQuota ai/a" in render(summary)


def test_a_file_without_namespace_matches_by_kind_and_name() -> None:
    exists = defined_elsewhere({("HelmRelease", "", "loki"): "apps/monitoring/loki/helm-release.yaml"})
    assert exists(ObjectRef("helm.toolkit.fluxcd.io/v2", "HelmRelease", "loki", "monitoring"))
    assert not exists(ObjectRef("helm.toolkit.fluxcd.io/v2", "HelmRelease", "tempo", "monitoring"))


def test_the_edited_flux_objects_are_judged_after_the_edit(real_config) -> None:
    from flux.edits import FileEdit
    from gitops.review import blocking, edited_findings

    quota = (
        b"apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: gpu-quota, namespace: ai}\n"
        b"spec: {hard: {limits.nvidia.com/gpu: '1'}}\n"
    )
    fixed = (
        b"apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: gpu-quota, namespace: ai}\nspec: {hard: {}}\n"
    )
    path = "clusters/k3s-home/infrastructure/07-gpu-management/namespace-quotas.yaml"
    bad = edited_findings([FileEdit(path, quota, quota)], real_config)
    assert [(p, f.rule) for p, f in blocking(bad)] == [(path, "gpu-oversubscription")]
    assert blocking(edited_findings([FileEdit(path, quota, fixed)], real_config)) == []
