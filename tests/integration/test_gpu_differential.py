"""One rule, two runtimes (ADR 0017): rules.gpu and the real API server's admission agree on every pod.

Hypothesis generates pod specs over the axes the rule cares about: app, init (and sidecar) and ephemeral
containers, GPU amounts in limits only or in requests and limits, a class set or missing (the
globalDefault is then filled in), tenant and non-tenant namespaces. Each spec goes through
rules.gpu.gpu_priority_class and through the embedded API server (server-side dry run; ephemeral
containers join a created pod through their subresource, as `kubectl debug` does). The verdicts must be
equal. The same check must fail against a policy whose CEL forgets init containers.

The unit layer evaluates the same CEL with cel-python (tests/unit/components/gpu/test_admission.py), which
lacks the Kubernetes quantity library: more than one slice per container (clause 5) is judged here only.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Pod

from components.config import StackConfig, load_stack_file
from components.gpu.admission import admission_policy
from rules.gpu import gpu_priority_class
from tests.conftest import TEST_TODAY
from tests.integration import gpu_guard
from tests.integration.waiting import until

pytestmark = pytest.mark.integration

STACK_FILE = Path(__file__).resolve().parents[2] / "Pulumi.k3s-home.yaml"
EXAMPLES = 300
IMAGE = "registry.invalid/pause:3.10"
PREFIX = "k3s-home-diff-"


def isolated(config: StackConfig) -> StackConfig:
    """The real GPU config with its tenants moved to namespaces of this test's own: the live workloads
    seeded into media and ai hold slices, and each pod here is judged on empty quotas (clause 6)."""
    tenants = [t.model_copy(update={"namespace": PREFIX + t.namespace}) for t in config.gpu.tenants]
    return config.model_copy(update={"gpu": config.gpu.model_copy(update={"tenants": tenants})})


CONFIG = isolated(load_stack_file(STACK_FILE, today=TEST_TODAY))
TENANTS = [t.namespace for t in CONFIG.gpu.tenants]
OWN = {t.namespace: t.priority_class_name for t in CONFIG.gpu.tenants}
# The tenants, the real tenant namespaces (no tenants here, and live GPU pods in them), and another.
NAMESPACES = [*TENANTS, "media", "default"]
CLASSES = [None, "critical-gpu", "normal-gpu", "medium-priority", "batch-gpu"]  # None: the globalDefault
# Two pools and a GPU that is none (weighted by repetition).
RESOURCES = ["nvidia.com/gpu", "nvidia.com/gpu", "gpu.intel.com/i915", "gpu.intel.com/i915", "amd.com/gpu"]
_names = itertools.count()


@st.composite
def resources(draw, cpu_allowed: bool = True) -> dict:
    # Mostly no GPU, mostly one slice of a pool: both verdicts stay well represented.
    one_slice = st.sampled_from(RESOURCES[:4]).map(lambda r: {r: 1})
    some = st.dictionaries(st.sampled_from(RESOURCES), st.integers(1, 3), min_size=1, max_size=2)
    gpus = draw(st.one_of(st.just({}), st.just({}), one_slice, one_slice, some))
    cpu = cpu_allowed and draw(st.booleans())
    if not gpus and not cpu:
        return {}
    amounts = {r: str(n) for r, n in gpus.items()}
    # Extended resources: limits alone (requests default to them) or requests equal to limits.
    both = draw(st.booleans())
    out: dict[str, Any] = {"limits": dict(amounts)} if amounts else {}
    if both or cpu:
        out["requests"] = {**(amounts if both else {}), **({"cpu": "10m"} if cpu else {})}
    return out


@st.composite
def pod_specs(draw) -> dict:
    def container(prefix: str, i: int, sidecar: bool = False) -> dict:
        c: dict[str, Any] = {"name": f"{prefix}{i}", "image": IMAGE, "resources": draw(resources())}
        if sidecar:
            c["restartPolicy"] = "Always"
        return c

    spec: dict[str, Any] = {
        "containers": [container("app", i) for i in range(draw(st.integers(1, 2)))],
        "initContainers": [container("init", i, draw(st.booleans())) for i in range(draw(st.integers(0, 2)))],
        "ephemeralContainers": [
            # Only GPU resources, if any: a CPU request there is refused too, but that is no GPU question.
            {"name": f"debug{i}", "image": IMAGE, "resources": draw(resources(cpu_allowed=False))}
            for i in range(draw(st.integers(0, 1)))
        ],
    }
    ns = draw(st.sampled_from(NAMESPACES))
    # Half the time the namespace's own GPU class, so that compliant GPU pods are common too.
    cls = draw(st.one_of(st.sampled_from(CLASSES), st.just(OWN.get(ns))))
    if cls:
        spec["priorityClassName"] = cls
    meta = {"name": f"diff-{next(_names)}", "namespace": ns, "labels": dict(gpu_guard.LABEL)}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def api_verdict(kube: Client, pod: dict) -> tuple[bool, str]:
    """(admitted, the refusal message) from the real API server."""
    base = copy.deepcopy(pod)
    ephemeral = base["spec"].pop("ephemeralContainers")
    try:
        kube.create(codecs.from_dict(base), dry_run=True)
    except ApiError as err:
        assert err.status.code in (403, 422), err.status
        return False, str(err.status.message)
    if not ephemeral:
        return True, ""
    # Ephemeral containers cannot be set on create: they join an existing pod through the subresource.
    ns, name = base["metadata"]["namespace"], base["metadata"]["name"]
    kube.create(codecs.from_dict(base))
    try:
        patch = {"spec": {"ephemeralContainers": ephemeral}}
        kube.patch(Pod.Ephemeralcontainers, name, patch, namespace=ns, dry_run=True)
    except ApiError as err:
        assert err.status.code in (403, 422), err.status
        return False, str(err.status.message)
    finally:
        kube.delete(Pod, name, namespace=ns, grace_period=0)
        if ns in TENANTS:  # its slices must be released before the next example is judged
            until(f"quota in {ns} to be idle again", lambda: gpu_guard.quota_idle(kube, ns))
    return True, ""


def check(kube: Client, config: StackConfig, pod: dict) -> None:
    findings = gpu_priority_class(pod, config)
    admitted, message = api_verdict(kube, pod)
    assert admitted == (not findings), (
        f"rules.gpu says {'refuse' if findings else 'admit'}, the API server says "
        f"{'admit' if admitted else 'refuse'}\n"
        f"rule: {[f.message for f in findings]}\napi: {message}\npod: {pod['metadata']} {pod['spec']}"
    )


COMMON = {
    "max_examples": EXAMPLES,
    "deadline": None,
    "derandomize": True,  # the same specs on every run: no luck in either direction
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return CONFIG


@pytest.fixture(scope="module")
def guarded(kube: Client, config: StackConfig):
    with gpu_guard.guarded(kube, config) as state:
        for ns in TENANTS:
            until(f"quota {ns} to be idle", lambda ns=ns: gpu_guard.quota_idle(kube, ns))
        yield state


def test_rule_and_api_server_agree(kube: Client, config: StackConfig, guarded) -> None:
    verdicts: dict[bool, int] = {True: 0, False: 0}

    @settings(**COMMON)
    @given(pod_specs())
    def agree(pod: dict) -> None:
        check(kube, config, pod)
        verdicts[not gpu_priority_class(pod, config)] += 1

    agree()
    # Both verdicts are well represented, so agreement is not agreement on one answer.
    assert verdicts[True] >= EXAMPLES // 10 and verdicts[False] >= EXAMPLES // 10, verdicts


def _without_init_containers(policy: dict) -> dict:
    """The mutant of issue 12: the CEL reads app and ephemeral containers, not init containers."""
    mutant = copy.deepcopy(policy)
    (var,) = [v for v in mutant["spec"]["variables"] if v["name"] == "resources"]
    terms = var["expression"].split(" + ")
    kept = [t for t in terms if "initContainers" not in t]
    assert len(kept) == len(terms) - 1, var["expression"]
    var["expression"] = " + ".join(kept)
    return mutant


@pytest.fixture
def mutant(kube: Client, config: StackConfig, guarded):
    policy, _ = admission_policy(config.gpu)
    probe = gpu_guard.probe_pod(TENANTS[0], init_gpu=config.gpu.pools[0].advertised)
    kube.apply(
        codecs.from_dict(_without_init_containers(policy)), field_manager=gpu_guard.MANAGER, force=True
    )
    gpu_guard.wait_enforced(kube, probe, refused_with=None)  # a slice in an init container now passes
    yield
    kube.apply(codecs.from_dict(policy), field_manager=gpu_guard.MANAGER, force=True)
    gpu_guard.wait_enforced(kube, probe, refused_with=gpu_guard.own_class_refusal(config, TENANTS[0]))


def test_the_mutant_without_init_containers_fails_it(kube: Client, config: StackConfig, mutant) -> None:
    @settings(**COMMON, phases=[Phase.generate])  # stop at the first disagreement, no shrinking
    @given(pod_specs())
    def agree(pod: dict) -> None:
        check(kube, config, pod)

    with pytest.raises(AssertionError, match=r"rules\.gpu says refuse, the API server says admit"):
        agree()
