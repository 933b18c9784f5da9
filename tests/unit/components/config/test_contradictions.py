"""The config against the facts and the directive: each contradiction is one line naming the key and
the fact's file:line (or the directive's line); a reviewed departure or waiver makes it a listed exception."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load
from tests.conftest import TEST_TODAY

DIRECTIVE = "CIO-EXECUTIVE-DIRECTIVE-2025-06-14.md"


def refused(raw: dict) -> str:
    with pytest.raises(ConfigError) as err:
        load(raw, today=TEST_TODAY)
    line = str(err.value)
    assert "\n" not in line
    return line


def nvidia(raw: dict) -> dict:
    return next(p for p in raw["gpu"]["pools"] if p["resource"] == "nvidia.com/gpu")


def test_the_real_config_keeps_the_facts_and_the_directive(real_config) -> None:
    assert real_config.departures_in_effect() == []
    assert [pc.name for pc in real_config.cluster.priority_classes][:3] == [
        "critical-gpu",
        "normal-gpu",
        "batch-gpu",
    ]


def test_sixteen_slices_where_the_device_plugin_gives_four(real_raw: dict) -> None:
    nvidia(real_raw)["devicesPerNode"] = 4
    assert refused(real_raw) == (
        "k3s-home:gpu.pools[0].devicesPerNode: 4 contradicts the Flux repo: 1 per node (CLUSTER-SETUP.md:59; "
        "the seed's 4 (docs/48-hour-autonomous-operation-final-report.md:71) is older); "
        "if meant, list it in cluster.departures"
    )


def test_time_slicing_replicas_other_than_the_device_plugins(real_raw: dict) -> None:
    nvidia(real_raw)["timeSlicing"]["replicas"] = 8
    assert refused(real_raw).startswith(
        "k3s-home:gpu.pools[0].timeSlicing.replicas: 8 contradicts the Flux repo: 4 "
        "(clusters/k3s-home/infrastructure/06-nvidia-gpu-plugin/configmap.yaml:13)"
    )


def test_a_written_departure_passes_and_is_listed(real_raw: dict) -> None:
    # A planned second T4: the capacity the config plans for, reviewed as a departure from today's fact.
    nvidia(real_raw)["devicesPerNode"] = 2
    real_raw["cluster"]["departures"] = [
        {"key": "gpu.pools[0].devicesPerNode", "reason": "second T4 ordered"}
    ]
    config = load(real_raw, today=TEST_TODAY)
    assert config.gpu.pools[0].capacity == 8
    assert config.departures_in_effect() == [
        "departure gpu.pools[0].devicesPerNode: 2 contradicts the Flux repo: 1 per node "
        "(CLUSTER-SETUP.md:59; the seed's 4 (docs/48-hour-autonomous-operation-final-report.md:71) is older) "
        "(second T4 ordered)"
    ]


def test_a_migration_past_plan_refuses_while_the_repo_deploys_no_longhorn(real_raw: dict) -> None:
    bazarr = real_raw["storage"]["migrations"][1]
    bazarr["phase"] = "copy"
    assert refused(real_raw) == (
        "k3s-home:storage.migrations[1].phase: copy needs class longhorn-replicated, whose provisioner "
        "driver.longhorn.io the Flux repo does not deploy (declared in "
        "clusters/k3s-home/apps/longhorn/overlays/production/storage-classes.yaml:56, reached by no "
        "Kustomization); a migration stays at plan until it runs (ADR 0028); "
        "if meant, list it in cluster.departures"
    )


def test_the_same_migration_runs_once_longhorn_is_deployed(real_raw: dict, longhorn_deployed) -> None:
    real_raw["storage"]["migrations"][1]["phase"] = "copy"
    assert load(real_raw, today=TEST_TODAY, facts=longhorn_deployed).storage.migrations[1].phase == "copy"


def test_adopting_what_flux_does_not_apply(real_raw: dict) -> None:
    real_raw["cluster"]["adopt"].append("StorageClass/longhorn-replicated")
    at = len(real_raw["cluster"]["adopt"]) - 1
    assert refused(real_raw) == (
        f"k3s-home:cluster.adopt[{at}]: StorageClass/longhorn-replicated is not live: Flux applies no such "
        "object (declared in clusters/k3s-home/apps/longhorn/overlays/production/storage-classes.yaml:56, "
        "reached by no Kustomization); if meant, list it in cluster.departures"
    )


def test_a_chart_version_other_than_the_pinned_one(real_raw: dict) -> None:
    real_raw["storage"]["releases"][0]["version"] = "66.0.0"
    assert refused(real_raw).startswith(
        "k3s-home:storage.releases[0].version: 66.0.0 contradicts the Flux repo: 65.5.1 "
        "(clusters/k3s-home/apps/monitoring/kube-prometheus-stack/helm-release.yaml:"
    )


def test_live_priority_classes_retyped_wrong(real_raw: dict) -> None:
    real_raw["cluster"]["priorityClasses"] = [{"name": "normal-gpu", "value": 100}]
    assert refused(real_raw) == (
        "k3s-home:cluster.priorityClasses[0].value: normal-gpu 100 (globalDefault False) contradicts the "
        "Flux repo: 700 (globalDefault False) "
        "(clusters/k3s-home/infrastructure/07-gpu-management/priority-classes.yaml:15); "
        "if meant, list it in cluster.departures"
    )


def test_a_departure_from_the_directive_needs_a_waiver_naming_its_line(real_raw: dict) -> None:
    normal = next(pc for pc in real_raw["gpu"]["priorityClasses"] if pc["name"] == "normal-gpu")
    normal["value"] = 200
    at = real_raw["gpu"]["priorityClasses"].index(normal)
    assert refused(real_raw) == (
        f"k3s-home:gpu.priorityClasses[{at}].value: 200 departs from the directive's 100 (PriorityClass "
        f"normal-gpu value, {DIRECTIVE}:54); a departure needs a waiver naming {DIRECTIVE}:54"
    )
    waiver = {"key": f"gpu.priorityClasses[{at}].value", "reason": "AI above batch", "approvedBy": "CIO"}
    real_raw["cluster"]["waivers"] = [{**waiver, "directive": f"{DIRECTIVE}:60"}]  # the wrong line
    assert "a departure needs a waiver naming" in refused(real_raw)
    real_raw["cluster"]["waivers"] = [{**waiver, "directive": f"{DIRECTIVE}:54"}]
    config = load(real_raw, today=TEST_TODAY)
    assert config.departures_in_effect() == [
        f"waiver gpu.priorityClasses[{at}].value ({DIRECTIVE}:54, approved by CIO): 200 departs from the "
        f"directive's 100 (PriorityClass normal-gpu value, {DIRECTIVE}:54) (AI above batch)"
    ]


def test_a_tenants_slices_are_the_directives(real_raw: dict) -> None:
    ai = next(t for t in real_raw["gpu"]["tenants"] if t["namespace"] == "ai")
    ai["pools"]["nvidia.com/gpu"]["max"] = 1
    assert refused(real_raw) == (
        "k3s-home:gpu.tenants[1].pools.nvidia.com/gpu.max: 1 departs from the directive's 2 (the ai "
        f"namespace's maximum of GPU time-slices, {DIRECTIVE}:60); "
        f"a departure needs a waiver naming {DIRECTIVE}:60"
    )


def test_a_waiver_must_name_a_directive_line(real_raw: dict) -> None:
    real_raw["cluster"]["waivers"] = [
        {"key": "x", "directive": "the directive", "reason": "r", "approvedBy": "CIO"}
    ]
    assert refused(real_raw) == (
        f"k3s-home:cluster.waivers[0].directive: 'the directive' must name a directive line: {DIRECTIVE}:<n>"
    )


def test_an_object_flux_keeps_is_one_a_flux_file_declares(real_raw: dict) -> None:
    real_raw["cluster"]["fluxKeeps"] = ["PriorityClass/critical-gpu", "PriorityClass/no-such-class"]
    assert refused(real_raw) == (
        "k3s-home:cluster.fluxKeeps[1]: PriorityClass/no-such-class: no Flux file declares it (facts "
        "objects), so Flux keeps nothing; if meant, list it in cluster.departures"
    )


def test_an_object_has_one_owner_flux_or_the_stack(real_raw: dict) -> None:
    real_raw["cluster"]["adopt"] = ["PriorityClass/normal-gpu"]
    assert refused(real_raw) == (
        "k3s-home:cluster.fluxKeeps[1]: PriorityClass/normal-gpu is also in cluster.adopt: an object has one "
        "owner (Flux keeps it, or the stack adopts it; ADR 0029)"
    )
