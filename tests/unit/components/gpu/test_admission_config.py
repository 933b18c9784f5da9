"""The API server's AdmissionConfiguration: generated from the model, committed for cluster.sh and k3s."""

from __future__ import annotations

from pathlib import Path

import yaml

from components.gpu.admission_config import admission_configuration, main, render

COMMITTED = Path(__file__).resolve().parents[4] / "toolchain" / "admission-config.yaml"


def test_the_committed_file_is_the_models_output(real_config) -> None:
    assert COMMITTED.read_text() == render(real_config.gpu), (
        "toolchain/admission-config.yaml is stale: "
        "python -m components.gpu.admission_config > toolchain/admission-config.yaml"
    )


def test_gpu_classes_and_resources_are_limited_by_default(real_config) -> None:
    config = admission_configuration(real_config.gpu)
    (plugin,) = config["plugins"]
    assert plugin["name"] == "ResourceQuota"
    scopes, resources = plugin["configuration"]["limitedResources"]
    assert scopes == {
        "resource": "pods",
        "matchScopes": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["critical-gpu", "normal-gpu"]}
        ],
    }
    # Pod usage of an extended resource is `requests.<name>`, the key the tenants' quotas carry.
    assert resources["matchContains"][:2] == ["requests.nvidia.com/gpu", "requests.gpu.intel.com/i915"]
    assert {f"requests.{r}" for r in real_config.gpu.resources} == set(resources["matchContains"])


def test_the_command_prints_the_file(capsys) -> None:
    assert main(["admission_config", str(COMMITTED.parents[1] / "Pulumi.k3s-home.yaml")]) == 0
    printed = capsys.readouterr().out
    assert printed == COMMITTED.read_text()
    assert yaml.safe_load(printed)["kind"] == "AdmissionConfiguration"
