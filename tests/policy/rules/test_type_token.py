"""rules.type_token: Pulumi type tokens read once."""

from __future__ import annotations

import pytest

from rules.type_token import is_api_object, kind_of, kubernetes_kind, type_of_urn


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("kubernetes:apps/v1:Deployment", ("apps/v1", "Deployment")),
        ("kubernetes:core/v1:Secret", ("v1", "Secret")),
        ("kubernetes:scheduling.k8s.io/v1:PriorityClass", ("scheduling.k8s.io/v1", "PriorityClass")),
        ("kubernetes:helm.sh/v3:Release", ("helm.sh/v3", "Release")),
        ("kubernetes:yaml:ConfigGroup", None),
        ("random:index/randomPassword:RandomPassword", None),
        ("pulumi:pulumi:Stack", None),
        ("kubernetes:v1", None),
    ],
)
def test_kubernetes_kind(token: str, expected) -> None:
    assert kubernetes_kind(token) == expected


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("apps/v1", "Deployment", True),
        ("v1", "ConfigMapList", False),
        ("helm.sh/v4", "Chart", False),
        ("yaml/v2", "ConfigGroup", False),
        ("kustomize/v2", "Directory", False),
    ],
)
def test_is_api_object(api_version: str, kind: str, expected: bool) -> None:
    assert is_api_object(api_version, kind) is expected


def test_kind_of_and_type_of_urn() -> None:
    assert kind_of("kubernetes:core/v1:PersistentVolumeClaim") == "PersistentVolumeClaim"
    assert kind_of("StatefulSet") == "StatefulSet"
    urn = "urn:pulumi:s::p::k3s-home:gpu:GpuManagement$kubernetes:core/v1:ResourceQuota::gpu-rq"
    assert type_of_urn(urn) == "kubernetes:core/v1:ResourceQuota"
    assert type_of_urn("not-a-urn") == ""
