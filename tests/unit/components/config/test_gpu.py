"""The gpu section model and its capacity proof."""

from __future__ import annotations

import copy
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.config import ConfigError, load
from components.config.gpu import GpuConfig, advisories
from rules.gpu import DIRECTIVE_PRIORITY_CLASSES
from tests.conftest import TEST_TODAY

# ---- the real cluster --------------------------------------------------------------------------------


def test_real_pools_have_the_cluster_capacity(real_config) -> None:
    nvidia, intel = real_config.gpu.pools
    assert (nvidia.advertised, nvidia.capacity, nvidia.max_per_container) == ("nvidia.com/gpu", 4, 1)
    assert nvidia.nodes == ["k3s3"] and nvidia.model == "Tesla T4"
    assert nvidia.time_slicing is not None
    assert nvidia.time_slicing.replicas == 4
    assert nvidia.time_slicing.rename_by_default is False
    assert nvidia.time_slicing.fail_requests_greater_than_one is True
    assert (intel.advertised, intel.capacity, intel.shared_dev_num) == ("gpu.intel.com/i915", 20, 10)
    assert intel.nodes == ["k3s1", "k3s2"]


def test_real_tenants_follow_the_directive(real_config) -> None:
    gpu = real_config.gpu
    tenants = {t.namespace: t for t in gpu.tenants}
    assert tenants["ai"].priority_class_name == "normal-gpu"
    assert tenants["media"].priority_class_name == "critical-gpu"
    assert gpu.quota_hard(tenants["ai"]) == {
        "requests.nvidia.com/gpu": "2",
        "requests.gpu.intel.com/i915": "0",
    }
    assert gpu.quota_hard(tenants["media"]) == {
        "requests.nvidia.com/gpu": "2",
        "requests.gpu.intel.com/i915": "4",
    }
    assert {pc.name: (pc.value, pc.description) for pc in gpu.priority_classes} == DIRECTIVE_PRIORITY_CLASSES


def test_real_capacity_proof_reads_as_one_line(real_config) -> None:
    assert [v.explain() for v in real_config.gpu.verdicts()] == [
        "pool nvidia.com/gpu: media reserved 2 + ai max 2 = 4 <= 4 slices "
        "(1 device x 4 replicas on k3s3); 0 free",
        "pool gpu.intel.com/i915: media reserved 4 = 4 <= 20 slices "
        "(1 device x 10 shares on each of k3s1, k3s2); 16 free",
    ]


def test_priority_classes_default_to_the_directive(real_raw) -> None:
    raw = copy.deepcopy(real_raw["gpu"])
    del raw["priorityClasses"]
    gpu = GpuConfig.model_validate(raw)
    assert [(pc.name, pc.value) for pc in gpu.priority_classes] == [
        ("critical-gpu", 1000),
        ("normal-gpu", 100),
    ]


def test_advisory_names_the_globaldefault_interaction(real_config) -> None:
    notes = advisories(real_config.gpu, real_config.cluster)
    assert notes == [
        "priority class normal-gpu (100) is below the cluster globalDefault medium-priority (700): every pod "
        "without a class outranks the GPU pods of ai, which are preempted first on k3s3",
        "priority class normal-gpu is 700 live and 100 here: value is immutable, so it is replaced; "
        "pods naming it are refused while it is missing",
    ]


def test_no_advisory_when_gpu_classes_outrank_the_default(real_config) -> None:
    cluster = real_config.cluster.model_copy(update={"priority_classes": []})
    assert advisories(real_config.gpu, cluster) == []


# ---- bad input: one line through load(), naming key, pool, tenants, numbers ----------------------------


def _bad(real_raw: dict, edit) -> str:
    raw = copy.deepcopy(real_raw)
    edit(raw["gpu"])
    with pytest.raises(ConfigError) as err:
        load(raw, today=TEST_TODAY)
    message = str(err.value)
    assert "\n" not in message
    return message


def _tenant(gpu: dict, ns: str) -> dict:
    return next(t for t in gpu["tenants"] if t["namespace"] == ns)


BAD_INPUT = {
    "zero devices": (
        lambda g: g["pools"][0].update(devicesPerNode=0),
        "k3s-home:gpu.pools[0].devicesPerNode: pool nvidia.com/gpu has devicesPerNode 0; "
        "capacity must be positive (at least 1)",
    ),
    "negative replicas": (
        lambda g: g["pools"][0]["timeSlicing"].update(replicas=-4),
        "k3s-home:gpu.pools[0].timeSlicing: pool nvidia.com/gpu has time-slicing replicas -4; "
        "capacity must be positive (at least 1)",
    ),
    "zero sharedDevNum": (
        lambda g: g["pools"][1].update(sharedDevNum=0),
        "k3s-home:gpu.pools[1].sharedDevNum: pool gpu.intel.com/i915 has sharedDevNum 0; "
        "capacity must be positive (at least 1)",
    ),
    "unknown pool": (
        lambda g: _tenant(g, "ai")["pools"].update({"amd.com/gpu": {"max": 1}}),
        "k3s-home:gpu.tenants[1].pools.amd.com/gpu: tenant ai asks for unknown pool amd.com/gpu; "
        "pools are nvidia.com/gpu, gpu.intel.com/i915",
    ),
    "tenant without namespace": (
        lambda g: _tenant(g, "ai").pop("namespace"),
        "k3s-home:gpu.tenants[1].namespace: every GPU tenant needs a namespace: "
        "its quota and admission binding are per namespace",
    ),
    "tenant with empty namespace": (
        lambda g: _tenant(g, "ai").update(namespace=""),
        "k3s-home:gpu.tenants[1].namespace: every GPU tenant needs a namespace: "
        "its quota and admission binding are per namespace",
    ),
    "reservation larger than the pool": (
        lambda g: _tenant(g, "media")["pools"].update({"nvidia.com/gpu": {"reserved": 17}}),
        "k3s-home:gpu.tenants[0].pools.nvidia.com/gpu.reserved: "
        "tenant media reserves 17 slices of nvidia.com/gpu, "
        "but the pool has only 4 (1 device x 4 replicas on k3s3)",
    ),
    "duplicate tenant": (
        lambda g: g["tenants"].append(copy.deepcopy(_tenant(g, "ai"))),
        "k3s-home:gpu.tenants[2].namespace: "
        "tenant ai is listed twice (tenants[1] and tenants[2]); merge them",
    ),
    "oversubscribed": (
        lambda g: _tenant(g, "ai")["pools"].update({"nvidia.com/gpu": {"max": 15}}),
        "k3s-home:gpu.tenants: oversubscribed: pool nvidia.com/gpu: media reserved 2 + ai max 15 = 17 > "
        "4 slices (1 device x 4 replicas on k3s3); lower a max or a reservation",
    ),
    "reserved tenant bursting above its reservation counts in full": (
        lambda g: (
            # "unreserved caps + reservations" would say 2 + 2 <= 4 and let media starve ai's 2.
            _tenant(g, "media")["pools"].update({"nvidia.com/gpu": {"reserved": 2, "max": 3}}),
            _tenant(g, "ai")["pools"].update({"nvidia.com/gpu": {"max": 2}}),
        ),
        "k3s-home:gpu.tenants: oversubscribed: pool nvidia.com/gpu: media max 3 (reserved 2) + ai max 2 "
        "= 5 > 4 slices (1 device x 4 replicas on k3s3); lower a max or a reservation",
    ),
    "max below reserved": (
        lambda g: _tenant(g, "media")["pools"].update({"nvidia.com/gpu": {"reserved": 3, "max": 1}}),
        "k3s-home:gpu.tenants[0].pools.nvidia.com/gpu: max 1 is below reserved 3; "
        "the reservation could never be used",
    ),
    "share without numbers": (
        lambda g: _tenant(g, "ai")["pools"].update({"nvidia.com/gpu": {}}),
        "k3s-home:gpu.tenants[1].pools.nvidia.com/gpu: give max and/or reserved slices, "
        "or drop the pool from this tenant",
    ),
    "negative max": (
        lambda g: _tenant(g, "ai")["pools"].update({"nvidia.com/gpu": {"max": -1}}),
        "k3s-home:gpu.tenants[1].pools.nvidia.com/gpu.max: max is -1; a number of slices cannot be negative",
    ),
    "unknown priority class": (
        lambda g: _tenant(g, "ai").update(priorityClassName="batch-gpu"),
        "k3s-home:gpu.tenants[1].priorityClassName: tenant ai uses priorityClassName batch-gpu, "
        "which is not one of the GPU priority classes (critical-gpu, normal-gpu)",
    ),
    "requests greater than one allowed": (
        lambda g: g["pools"][0]["timeSlicing"].update(failRequestsGreaterThanOne=False),
        "k3s-home:gpu.pools[0].timeSlicing: pool nvidia.com/gpu must set failRequestsGreaterThanOne: true; "
        "quota counts one slice per request only when the device plugin refuses larger requests",
    ),
    "time-slicing on an intel pool": (
        lambda g: g["pools"][1].update(timeSlicing={"replicas": 2}),
        "k3s-home:gpu.pools[1]: pool gpu.intel.com/i915: timeSlicing is an NVIDIA device plugin setting",
    ),
    "priority class value reserved for system classes": (
        lambda g: g["priorityClasses"][0].update(value=1_000_000_001),
        "k3s-home:gpu.priorityClasses[0].value: critical-gpu has value 1000000001, above 1,000,000,000: "
        "Kubernetes reserves higher values for its system classes and refuses the object; pick a "
        "value at or below one billion",
    ),
    "pool defined twice": (
        lambda g: g["pools"].append(copy.deepcopy(g["pools"][0])),
        "k3s-home:gpu.pools[2]: pool nvidia.com/gpu is defined twice; merge the two entries",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_with_one_clear_line(real_raw, case) -> None:
    edit, expected = BAD_INPUT[case]
    assert _bad(real_raw, edit) == expected


# ---- the arithmetic --------------------------------------------------------------------------------


def _oversubscribes(capacity: int, shares: list[tuple[int | None, int]]) -> bool:
    """Oracle by brute force: some usage within every quota exceeds the pool or starves a reservation."""
    caps = [max(m or 0, r) for m, r in shares]
    for usage in itertools.product(*(range(c + 1) for c in caps)):
        if sum(usage) > capacity:
            return True
        for i, (_, reserved) in enumerate(shares):
            if reserved and reserved + sum(usage) - usage[i] > capacity:
                return True
    return False


share = st.tuples(st.none() | st.integers(0, 6), st.integers(0, 6)).filter(
    lambda s: (s[0] is not None or s[1] > 0) and (s[0] is None or s[0] >= s[1])
)


@st.composite
def gpu_sections(draw) -> tuple[dict, int, list[tuple[int | None, int]]]:
    devices, replicas = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shares = draw(st.lists(share, min_size=1, max_size=3))
    tenants = [
        {
            "namespace": f"t{i}",
            "priorityClassName": "normal-gpu",
            "pools": {"nvidia.com/gpu": {k: v for k, v in (("max", m), ("reserved", r)) if v is not None}},
        }
        for i, (m, r) in enumerate(shares)
    ]
    section = {
        "pools": [
            {
                "resource": "nvidia.com/gpu",
                "vendor": "nvidia",
                "nodes": ["k3s3"],
                "devicesPerNode": devices,
                "timeSlicing": {"replicas": replicas},
            }
        ],
        "tenants": tenants,
        "monitoring": {"dcgmExporter": {"version": "4.1.1", "source": {"name": "nvidia"}}},
    }
    return section, devices * replicas, shares


@pytest.mark.slow  # 300 generated sections: the long property run, in its own layer
@settings(max_examples=300, deadline=None)
@given(gpu_sections())
def test_accepted_never_oversubscribes_and_rejected_always_would(case) -> None:
    section, capacity, shares = case
    try:
        gpu = GpuConfig.model_validate(section)
    except ValidationError as err:
        message = str(err.errors()[0]["msg"])
        assert "oversubscribed" in message or "but the pool has only" in message, message
        assert _oversubscribes(capacity, shares)
    else:
        assert not _oversubscribes(capacity, shares)
        (verdict,) = gpu.verdicts()
        assert verdict.ok and verdict.committed == sum(max(m or 0, r) for m, r in shares)
