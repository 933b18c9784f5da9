"""The admission binding's validationActions: a pure function of (config, facts, live workloads), ADR 0030."""

from __future__ import annotations

from typing import Any

import pytest

import facts
from components.gpu.enforcement import DENY, WARN, decide, fact_pod, refusals
from components.gpu.live_workloads import LiveWorkloads
from facts.model import Facts

JELLYFIN_SOURCE = "clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml:23"
A1111_SOURCE = "clusters/k3s-home/apps/ai/automatic1111/helmrelease.yaml:24"
TARGET = "/tmp/kubeconfig"
FIXED = {"jellyfin": "critical-gpu", "automatic1111": "normal-gpu", "ollama": "normal-gpu"}


def _facts(classes: dict[str, str | None]) -> Facts:
    """The real facts with the GPU releases' classes replaced by `classes` (by release name)."""
    real = facts.load()
    workloads = [
        w.model_copy(update={"priority_class": classes.get(w.name, w.priority_class)})
        for w in real.gpu_workloads
    ]
    return real.model_copy(update={"gpu_workloads": workloads})


def deployment(
    name: str,
    namespace: str,
    cls: str | None,
    gpu: dict[str, str] | None = None,
    init_gpu: dict[str, str] | None = None,
) -> dict[str, Any]:
    def container(n: str, asked: dict[str, str] | None) -> dict[str, Any]:
        return {"name": n, "image": "x", "resources": {"limits": asked} if asked else {}}

    spec: dict[str, Any] = {"containers": [container("app", gpu)]}
    if init_gpu:
        spec["initContainers"] = [container("warm-up", init_gpu)]
    if cls:
        spec["priorityClassName"] = cls
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": spec}},
    }


def read(*objects: dict) -> LiveWorkloads:
    return LiveWorkloads(tuple(objects), None, TARGET)


UNREADABLE = LiveWorkloads.not_read("cannot list Pods: connection refused", TARGET)
NVIDIA = {"nvidia.com/gpu": "1"}

# (case, release classes, live, expected actions, workloads named)
TABLE = [
    (
        "today: jellyfin critical, automatic1111 batch-gpu",
        {},
        read(),
        WARN,
        ["HelmRelease ai/automatic1111", "HelmRelease media/jellyfin"],
    ),
    (
        "jellyfin critical only",
        {**FIXED, "jellyfin": "critical"},
        read(),
        WARN,
        ["HelmRelease media/jellyfin"],
    ),
    ("all fixed, cluster read, nothing live refused", FIXED, read(), DENY, []),
    ("all fixed, cluster unreadable", FIXED, UNREADABLE, WARN, []),
    (
        "today, cluster unreadable",
        {},
        UNREADABLE,
        WARN,
        ["HelmRelease ai/automatic1111", "HelmRelease media/jellyfin"],
    ),
    (
        "all fixed, a non-GPU pod with any class is ignored",
        FIXED,
        read(deployment("web", "media", "critical"), deployment("batch", "default", None)),
        DENY,
        [],
    ),
    (
        "all fixed, a live template still at the old class",
        FIXED,
        read(deployment("jellyfin", "media", "critical", {"gpu.intel.com/i915": "1"})),
        WARN,
        ["Deployment media/jellyfin"],
    ),
    (
        "all fixed, an init container asking for a GPU counts",
        FIXED,
        read(deployment("warm", "ai", "batch-gpu", init_gpu=NVIDIA)),
        WARN,
        ["Deployment ai/warm"],
    ),
    (
        "all fixed, a live GPU pod outside the tenants",
        FIXED,
        read(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": [{"name": "c", "resources": {"limits": NVIDIA}}]},
            }
        ),
        WARN,
        ["Pod default/p"],
    ),
    (
        "all fixed, a compliant live GPU template",
        FIXED,
        read(deployment("ollama", "ai", "normal-gpu", NVIDIA)),
        DENY,
        [],
    ),
]


@pytest.mark.parametrize(("case", "classes", "live", "actions", "named"), TABLE, ids=[t[0] for t in TABLE])
def test_decide(real_config, case, classes, live, actions, named) -> None:
    got = decide(real_config, _facts(classes), live)
    assert got.actions == actions, case
    assert sorted(r.workload for r in got.refused) == sorted(named)
    assert (got.unreadable is not None) == (live.unreadable is not None)
    # Every refusal, and an unreadable target, is one advisory line that says the binding stays Warn.
    assert len(got.advisories()) == len(named) + (live.unreadable is not None)
    assert all(line.startswith("GPU admission stays [Warn, Audit]: ") for line in got.advisories())
    assert "\n" not in "".join(got.advisories())


def test_today_names_each_release_by_its_file_and_line_and_the_policy_message(real_config) -> None:
    got = decide(real_config, facts.load(), read())
    lines = got.advisories()
    [jellyfin] = [line for line in lines if "media/jellyfin" in line]
    assert f"HelmRelease media/jellyfin ({JELLYFIN_SOURCE}) would be refused" in jellyfin
    # The policy's own words, as the API server said them in the FailedCreate event.
    assert "must set priorityClassName: critical-gpu (it has critical" in jellyfin
    [a1111] = [line for line in lines if "ai/automatic1111" in line]
    assert f"({A1111_SOURCE})" in a1111
    assert "must set priorityClassName: normal-gpu (it has batch-gpu" in a1111
    assert not any("ollama" in line for line in lines)  # normal-gpu in ai: admitted
    assert "2 live workload(s) would be refused" in got.why


def test_unreadable_says_why_and_never_denies(real_config) -> None:
    got = decide(real_config, _facts(FIXED), UNREADABLE)
    assert got.actions == WARN
    assert "connection refused" in got.why and "never Deny blindly" in got.why
    assert "could not be read (cannot list Pods: connection refused)" in got.advisories()[0]


def test_deny_says_what_was_checked(real_config) -> None:
    got = decide(real_config, _facts(FIXED), read(deployment("web", "media", None)))
    assert got.actions == DENY
    assert got.why == f"no live workload would be refused (4 checked: the Flux repo's GPU releases, {TARGET})"


def test_undeployed_releases_are_not_live(real_config) -> None:
    real = facts.load()
    gone = [w.model_copy(update={"deployed": False}) for w in real.gpu_workloads]
    assert refusals(real_config, real.model_copy(update={"gpu_workloads": gone}), read()) == []


def test_fact_pod_is_what_the_release_runs() -> None:
    jellyfin = next(w for w in facts.load().gpu_workloads if w.name == "jellyfin")
    pod = fact_pod(jellyfin)
    assert pod["metadata"] == {"name": "jellyfin", "namespace": "media"}
    assert pod["spec"]["priorityClassName"] == "critical"
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"gpu.intel.com/i915": "1"}
