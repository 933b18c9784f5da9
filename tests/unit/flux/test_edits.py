"""Minimal, comment-preserving edits of Flux's files (ADR 0029): the text engine on small strings, and the
directive's edits of a copy of the real repo's files (tests/policy/fixtures/flux-k3s, byte for byte the
files of sudoflux/flux-k3s at 9c35c94), judged afterwards by the same audit as the whole repo."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
import yaml

import facts
from flux.edits import DELETE, Change, EditError, edit_text, plan, summary
from review.audit import audit
from tests.conftest import ROOT

FIXTURE = ROOT / "tests" / "policy" / "fixtures" / "flux-k3s"
GPU = "clusters/k3s-home/infrastructure/07-gpu-management"
QUOTAS = f"{GPU}/namespace-quotas.yaml"
CLASSES = f"{GPU}/priority-classes.yaml"
EDIT_RULES = {"gpu-priority-class", "gpu-oversubscription", "directive-drift"}

PC = """---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: normal-gpu
value: 700   # immutable
globalDefault: false
description: 'Normal GPU workloads (AI inference)'
"""

QUOTA = """apiVersion: v1
kind: ResourceQuota
metadata:
  name: gpu-quota
  namespace: ai
spec:
  hard:
    requests.nvidia.com/gpu: "1"  # one slice
    limits.nvidia.com/gpu: "1"
    pods: 10
    \n    limits.gpu.intel.com/i915: "0\""""


def pc(path: tuple[str, ...], value) -> Change:
    return Change("PriorityClass", None, "normal-gpu", path, value)


def rq(key: str, value) -> Change:
    return Change("ResourceQuota", "ai", "gpu-quota", ("spec", "hard", key), value)


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_value_is_replaced_in_its_own_style_and_the_comment_stays() -> None:
    text, applied = edit_text(PC, [pc(("value",), 100), pc(("description",), "Normal GPU workloads (AI)")])
    assert changed_lines(PC, text) == [
        "-value: 700   # immutable",
        "+value: 100   # immutable",
        "-description: 'Normal GPU workloads (AI inference)'",
        "+description: 'Normal GPU workloads (AI)'",
    ]
    assert [(a.field, a.old, a.new, a.line) for a in applied] == [
        ("value", 700, 100, 6),
        ("description", "Normal GPU workloads (AI inference)", "Normal GPU workloads (AI)", 8),
    ]


def test_a_missing_mapping_is_inserted_at_the_files_indentation() -> None:
    text, [applied] = edit_text(
        PC, [pc(("metadata", "annotations", "kustomize.toolkit.fluxcd.io/force"), "enabled")]
    )
    assert changed_lines(PC, text) == ["+  annotations:", "+    kustomize.toolkit.fluxcd.io/force: enabled"]
    assert (applied.old, applied.line) == (DELETE, 5)
    assert '(absent) -> "enabled"' in str(applied)


def test_what_is_already_so_changes_nothing_and_absence_can_mean_the_value() -> None:
    same = [pc(("value",), 700), Change("PriorityClass", None, "normal-gpu", ("preemptionPolicy",), "x", "x")]
    assert edit_text(PC, same) == (PC, [])
    assert edit_text(PC, [pc(("nothing",), DELETE)]) == (PC, [])


def test_keys_are_removed_and_a_missing_final_newline_stays_missing() -> None:
    text, applied = edit_text(
        QUOTA,
        [
            rq("requests.nvidia.com/gpu", "2"),
            rq("limits.nvidia.com/gpu", DELETE),
            rq("limits.gpu.intel.com/i915", DELETE),
        ],
    )
    assert not text.endswith("\n")
    assert changed_lines(QUOTA, text) == [
        '-    requests.nvidia.com/gpu: "1"  # one slice',
        '-    limits.nvidia.com/gpu: "1"',
        '+    requests.nvidia.com/gpu: "2"  # one slice',
        '-    limits.gpu.intel.com/i915: "0"',
    ]
    assert text.endswith("    pods: 10\n    ")  # the blank line with its spaces, byte for byte
    assert [a.line for a in applied] == [8, 9, 12]
    assert yaml.safe_load(text)["spec"]["hard"] == {"requests.nvidia.com/gpu": "2", "pods": 10}


def test_an_edit_that_would_change_more_than_asked_writes_nothing() -> None:
    flow = "kind: ResourceQuota\nmetadata: {name: gpu-quota, namespace: ai}\nspec: {hard: {pods: 1}}\n"
    # A flow mapping's plain scalar runs to the `}`: the splice breaks it, and the check refuses.
    with pytest.raises(
        EditError, match=r"x\.yaml: the edit would not be YAML \(while parsing a flow mapping\)"
    ):
        edit_text(flow, [rq("pods", 2)], "x.yaml")


def test_an_object_the_file_does_not_define_is_refused() -> None:
    with pytest.raises(EditError, match="ResourceQuota media/gpu-quota: 0 documents define it"):
        edit_text(QUOTA, [Change("ResourceQuota", "media", "gpu-quota", ("spec",), 1)])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "flux-k3s"
    shutil.copytree(FIXTURE / "clusters", copy / "clusters")
    return copy


def test_the_directive_s_edits_of_the_real_files(repo: Path, real_config) -> None:
    before = {p: p.read_bytes() for p in sorted(repo.rglob("*.yaml"))}
    edits = plan(repo, real_config, facts.load())
    changed = {e.path: e for e in edits if e.changed}
    assert sorted(changed) == [
        "clusters/k3s-home/apps/ai/automatic1111/helmrelease.yaml",
        "clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml",
        QUOTAS,
        CLASSES,
    ]
    # Ollama already runs at normal-gpu; the dcgm chart already ships its ServiceMonitor with the label.
    assert {e.path for e in edits if not e.changed} == {
        "clusters/k3s-home/apps/ai/ollama/helmrelease.yaml",
        "clusters/k3s-home/apps/monitoring/dcgm-exporter/helm-release.yaml",
    }
    jellyfin = changed["clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml"]
    assert changed_lines(jellyfin.before.decode(), jellyfin.after.decode()) == [
        "-          priorityClassName: critical  # High priority for media server",
        "+          priorityClassName: critical-gpu  # High priority for media server",
    ]
    classes = changed[CLASSES]
    assert changed_lines(classes.before.decode(), classes.after.decode()) == [
        '-description: "Critical GPU workloads (media streaming)"',
        '+description: "Critical GPU workloads (Plex, Jellyfin)"',
        "-value: 700",
        "+  annotations:",
        "+    kustomize.toolkit.fluxcd.io/force: enabled",
        "+value: 100",
        '-description: "Normal GPU workloads (AI inference)"',
        '+description: "Normal GPU workloads (AI)"',
    ]
    quotas = changed[QUOTAS]
    assert (
        len(changed_lines(quotas.before.decode(), quotas.after.decode())) == 10
    )  # 3 values edited, 4 keys removed
    hard = {d["metadata"]["namespace"]: d["spec"]["hard"] for d in yaml.safe_load_all(quotas.after)}
    assert hard == {
        "media": {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "4"},
        "ai": {"requests.nvidia.com/gpu": "2", "requests.gpu.intel.com/i915": "0"},
    }
    text = summary(edits)
    assert text.splitlines()[0] == "Edits of Flux's own files (ADR 0029): 4 file(s), 6 object(s), 13 field(s)"
    assert f"{CLASSES}:15: PriorityClass normal-gpu: value: 700 -> 100" in text
    assert (
        f'{QUOTAS}:10: ResourceQuota media/gpu-quota: spec.hard.limits.nvidia.com/gpu: "0" -> (removed)'
        in text
    )
    # plan writes nothing itself
    assert {p: p.read_bytes() for p in sorted(repo.rglob("*.yaml"))} == before


def test_after_the_edit_the_audit_finds_no_gpu_violation_and_a_second_plan_changes_nothing(
    repo: Path, real_config
) -> None:
    found = {f.rule for _, f in audit(repo, real_config).findings if f.severity.value == "mandatory"}
    assert EDIT_RULES & found == {"gpu-priority-class", "gpu-oversubscription"}  # the repo as it is
    for edit in plan(repo, real_config, facts.load()):
        (repo / edit.path).write_bytes(edit.after)
    report = audit(repo, real_config)
    assert [(w, f.rule) for w, f in report.findings if f.rule in EDIT_RULES] == []
    assert report.mandatory > 0  # the rest of the repo's findings are others' (storage, secrets, ...)
    assert not any(e.changed for e in plan(repo, real_config, facts.load()))


def test_a_file_the_facts_name_but_the_repo_lacks_is_refused(repo: Path, real_config) -> None:
    (repo / QUOTAS).unlink()
    with pytest.raises(EditError, match=f"ResourceQuota/media/gpu-quota: {QUOTAS} is not in FLUX_REPO"):
        plan(repo, real_config, facts.load())
