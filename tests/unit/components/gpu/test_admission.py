"""What the GPU ValidatingAdmissionPolicy means, in the fast layer: its CEL evaluated with cel-python over
a table of pods, and compared with rules.gpu.gpu_priority_class (one rule, two runtimes: ADR 0017).

cel-python is a CEL interpreter without the Kubernetes libraries. Of those it lacks the quantity library
(`quantity()`, `isQuantity()`, `compareTo`), the strings extension (`join`, `split`, `lowerAscii`, `find`,
`replace`, `format`), the lists extension (`isSorted`, `sum`, ...), optional types (`?.`, `optional.of`),
`url()`, `ip()`/`cidr()`, `semver()` and the `authorizer`; `matches` (standard CEL) works. The policy uses
two of them: `quantity()` in the per-container limit (clause 5) and `join` in its messageExpressions. So
validations that call `quantity()` are not evaluated here, messages are not either, and every pod below
asks for at most one slice per container: more than that, and the messages, are the API-server test's
(tests/integration/test_gpu_differential.py, test_gpu_admission.py).
"""

from __future__ import annotations

import copy
from typing import Any

import celpy
import pytest
from celpy import celtypes
from hypothesis import given, settings
from hypothesis import strategies as st

from components.gpu.admission import admission_policy
from rules.gpu import gpu_priority_class

# Kubernetes CEL library calls cel-python cannot evaluate (see the docstring).
LACKING = ("quantity(", "isQuantity(", ".join(")
# rules.gpu's clause 6 (per pod, at most the tenant's quota) is the ResourceQuota's, not the policy's.
QUOTA_CLAUSE = "the quota of namespace"


class Policy:
    """The policy's variables and validations, compiled once; `admits(pod)` as the API server decides."""

    def __init__(self, policy: dict) -> None:
        env = celpy.Environment()
        spec = policy["spec"]
        self.variables = [(v["name"], env.program(env.compile(v["expression"]))) for v in spec["variables"]]
        self.validations = [
            env.program(env.compile(v["expression"]))
            for v in spec["validations"]
            if not any(call in v["expression"] for call in LACKING)
        ]
        self.skipped = [
            v["expression"] for v in spec["validations"] if any(c in v["expression"] for c in LACKING)
        ]

    def admits(self, pod: dict) -> bool:
        activation: dict[str, Any] = {
            "object": celpy.json_to_cel(pod),
            "request": celpy.json_to_cel({"namespace": pod["metadata"]["namespace"]}),
        }
        variables: dict[Any, Any] = {}
        for name, program in self.variables:  # each may use the ones before it, as in the API server
            activation["variables"] = celtypes.MapType(variables)
            variables[celtypes.StringType(name)] = _value(program.evaluate(activation))
        activation["variables"] = celtypes.MapType(variables)
        verdicts = [_value(p.evaluate(activation)) for p in self.validations]
        assert all(isinstance(v, celtypes.BoolType) for v in verdicts), verdicts
        return all(verdicts)


def _value(result: Any) -> Any:
    if isinstance(result, Exception):  # cel-python hands evaluation errors back as values
        raise AssertionError(f"CEL evaluation failed: {result}")
    return result


def rule_admits(pod: dict, config) -> bool:
    return not [f for f in gpu_priority_class(pod, config) if QUOTA_CLAUSE not in f.message]


def pod_validation_admits(pod: dict) -> bool:
    """Clause 7 is the API server's pod validation, before any policy: no resources in an ephemeral
    container."""
    return not any(c.get("resources") for c in pod["spec"].get("ephemeralContainers", []))


def container(name: str, gpu: str | None = None, where: str = "limits", sidecar: bool = False) -> dict:
    c: dict[str, Any] = {"name": name, "image": "registry.invalid/x:1"}
    if gpu:
        c["resources"] = (
            {where: {gpu: "1"}} if where != "both" else {"requests": {gpu: "1"}, "limits": {gpu: "1"}}
        )
    else:
        c["resources"] = {"requests": {"cpu": "10m"}}
    if sidecar:
        c["restartPolicy"] = "Always"
    return c


def pod(ns: str, cls: str | None = None, containers=(), init=(), ephemeral=()) -> dict:
    spec: dict[str, Any] = {"containers": list(containers) or [container("app")]}
    if init:
        spec["initContainers"] = list(init)
    if ephemeral:
        spec["ephemeralContainers"] = list(ephemeral)
    if cls:
        spec["priorityClassName"] = cls
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns}, "spec": spec}


NV, INTEL, AMD = "nvidia.com/gpu", "gpu.intel.com/i915", "amd.com/gpu"
BARE = {"name": "bare", "image": "registry.invalid/x:1"}
# (case, pod, the policy's CEL admits it). The real config's tenants: media (critical-gpu: nvidia, intel)
# and ai (normal-gpu: nvidia).
TABLE = [
    ("no GPU, no class, tenant namespace", pod("ai"), True),
    ("no GPU, no class, other namespace", pod("default"), True),
    ("app GPU, own class", pod("ai", "normal-gpu", [container("app", NV)]), True),
    (
        "app GPU in requests and limits, own class",
        pod("ai", "normal-gpu", [container("a", NV, "both")]),
        True,
    ),
    (
        "app GPU in requests only, own class",
        pod("media", "critical-gpu", [container("a", INTEL, "requests")]),
        True,
    ),
    ("app GPU, no class", pod("ai", None, [container("app", NV)]), False),
    ("app GPU, another tenant's class", pod("ai", "critical-gpu", [container("app", NV)]), False),
    ("app GPU, not a tenant", pod("default", None, [container("app", NV)]), False),
    ("app GPU, not a tenant, a GPU class", pod("default", "normal-gpu", [container("app", NV)]), False),
    ("GPU class without GPU outside its tenant", pod("default", "critical-gpu"), False),
    ("a pool the tenant has no share of", pod("ai", "normal-gpu", [container("app", INTEL)]), False),
    ("a GPU that is no pool", pod("media", "critical-gpu", [container("app", AMD)]), False),
    ("init container GPU, no class", pod("ai", None, init=[container("init", NV)]), False),
    ("init container GPU, own class", pod("ai", "normal-gpu", init=[container("init", NV)]), True),
    ("sidecar GPU, no class", pod("media", None, init=[container("side", NV, sidecar=True)]), False),
    ("sidecar GPU, own class", pod("media", "critical-gpu", init=[container("s", NV, sidecar=True)]), True),
    ("ephemeral GPU, no class", pod("ai", None, ephemeral=[container("debug", NV)]), False),
    ("ephemeral GPU, not a tenant", pod("default", None, ephemeral=[container("debug", NV)]), False),
    (
        "ephemeral GPU, own class (pod validation refuses)",
        pod("ai", "normal-gpu", ephemeral=[container("d", NV)]),
        True,
    ),
    ("ephemeral without resources, tenant, no class", pod("ai", None, ephemeral=[BARE]), True),
    (
        "GPU container beside a non-GPU sidecar, own class",
        pod("media", "critical-gpu", [container("app", NV)], init=[container("side", sidecar=True)]),
        True,
    ),
    (
        "GPU container beside a non-GPU sidecar, no class",
        pod("media", None, [container("app", NV)], init=[container("side", sidecar=True)]),
        False,
    ),
    (
        "GPU container beside a non-GPU app container, not a tenant",
        pod("default", None, [container("app", NV), container("log")]),
        False,
    ),
    (
        "non-GPU app container beside a GPU sidecar, no class",
        pod("ai", None, [container("app")], init=[container("side", NV, sidecar=True)]),
        False,
    ),
    ("container without resources", pod("ai", None, [BARE]), True),
]


@pytest.fixture(scope="module")
def policy(request) -> Policy:
    config = request.getfixturevalue("real_config")
    return Policy(admission_policy(config.gpu)[0])


def test_the_validations_cel_python_cannot_evaluate_are_only_the_quantity_limits(policy, real_config) -> None:
    assert len(policy.skipped) == len(real_config.gpu.pools)
    assert all("quantity(" in e and "compareTo" in e for e in policy.skipped)
    assert len(policy.validations) == 4  # clauses 1 to 4


@pytest.mark.parametrize(("case", "obj", "admitted"), TABLE, ids=[c for c, _, _ in TABLE])
def test_the_policy_and_the_rule_agree_on_every_pod(policy, real_config, case, obj, admitted) -> None:
    """The CEL's verdict is the table's; the API server's (pod validation, then the policy) is the rule's."""
    pod_copy = copy.deepcopy(obj)
    assert policy.admits(pod_copy) is admitted, case
    api_server = pod_validation_admits(pod_copy) and policy.admits(pod_copy)
    assert rule_admits(pod_copy, real_config) is api_server, case
    assert pod_copy == obj  # neither runtime changed the pod


def _asks_gpu(c: dict) -> bool:
    resources = c.get("resources") or {}
    return bool((set(resources.get("limits", {})) | set(resources.get("requests", {}))) - {"cpu"})


def test_the_table_has_both_verdicts_for_every_container_list() -> None:
    lists = ("containers", "initContainers", "ephemeralContainers")
    kinds = {
        (k, admitted)
        for _, obj, admitted in TABLE
        for k in lists
        if any(_asks_gpu(c) for c in obj["spec"].get(k, []))
    }
    assert {(k, v) for k in lists for v in (True, False)} <= kinds


# The integration test's axes (tests/integration/test_gpu_differential.py), at one slice per container.
NAMESPACES = ["media", "ai", "default"]
CLASSES = [None, "critical-gpu", "normal-gpu", "medium-priority"]
GPUS = [None, None, NV, INTEL, AMD]


@st.composite
def pods(draw) -> dict:
    def one(name: str, sidecar: bool = False) -> dict:
        gpu = draw(st.sampled_from(GPUS))
        return container(name, gpu, draw(st.sampled_from(["limits", "requests", "both"])), sidecar)

    apps = [one(f"app{i}") for i in range(draw(st.integers(1, 2)))]
    init = [one(f"init{i}", draw(st.booleans())) for i in range(draw(st.integers(0, 2)))]
    # GPU resources or none: a CPU request there is refused too, but that is no GPU question.
    ephemeral = [
        container(f"debug{i}", gpu) if (gpu := draw(st.sampled_from(GPUS))) else dict(BARE, name=f"debug{i}")
        for i in range(draw(st.integers(0, 1)))
    ]
    return pod(draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(CLASSES)), apps, init, ephemeral)


def test_the_policy_and_the_rule_agree_on_generated_pods(policy, real_config) -> None:
    verdicts = {True: 0, False: 0}

    @settings(max_examples=150)
    @given(pods())
    def agree(obj: dict) -> None:
        api_server = pod_validation_admits(obj) and policy.admits(obj)
        assert rule_admits(obj, real_config) is api_server, obj
        verdicts[api_server] += 1

    agree()
    assert min(verdicts.values()) >= 30, verdicts  # agreement is not agreement on one answer
