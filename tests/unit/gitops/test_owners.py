"""Moving between direct and GitOps mode: who owns each object now and after (pure)."""

from __future__ import annotations

from gitops.layout import Rendered
from gitops.owners import PULUMI, to_direct, to_render

GPU = "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement$kubernetes:core/v1:ResourceQuota::gpu-{n}"
GPU_FOLDER = "clusters/k3s-home/infrastructure-runtime/06-gpu-management"


def quota(name: str) -> Rendered:
    obj = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": "ai"}}
    return Rendered(obj, GPU.format(n=name), "kubernetes:core/v1:ResourceQuota")


def test_to_render_lists_state_and_hand_written_owners_and_skips_new_objects() -> None:
    direct = {("ResourceQuota", "ai", "a"): "urn:a", ("PersistentVolume", "", "pv-1"): "urn:pv"}
    flux = {
        (
            "ResourceQuota",
            "ai",
            "b",
        ): "clusters/k3s-home/infrastructure/07-gpu-management/namespace-quotas.yaml"
    }
    moves = {m.key[2]: m for m in to_render([quota("a"), quota("b"), quota("new")], [], flux, direct)}
    assert set(moves) == {"a", "b", "pv-1"}
    assert (moves["a"].now, moves["a"].after) == (PULUMI, f"Flux ({GPU_FOLDER})")
    assert "python -m k3s_home state delete 'urn:a'" in moves["a"].step
    assert moves["b"].now == f"Flux file {flux[('ResourceQuota', 'ai', 'b')]}"
    assert "remove it from that file" in moves["b"].step
    assert moves["pv-1"].after == "nobody (stays in the cluster, unmanaged)"


def test_an_adopted_object_in_the_state_goes_back_to_flux_s_file() -> None:
    adopted = quota("gpu-quota")
    flux = {("ResourceQuota", "", "gpu-quota"): "clusters/k3s-home/infrastructure/07-gpu-management/q.yaml"}
    [move] = to_render([], [adopted], flux, {adopted.key: "urn:q"})
    assert move.after == "Flux file clusters/k3s-home/infrastructure/07-gpu-management/q.yaml"
    assert "adopted" in move.step


def test_to_direct_moves_every_object_of_the_stack_s_folders_to_pulumi() -> None:
    moves = to_direct({("ResourceQuota", "ai", "a"): f"{GPU_FOLDER}/resource-quotas.yaml"}, {})
    assert [(m.now, m.after) for m in moves] == [(f"Flux ({GPU_FOLDER})", PULUMI)]
    assert "prune: false" in moves[0].step and "cluster.adopt" in moves[0].step
    assert str(moves[0]).startswith("ResourceQuota ai/a: Flux (")
