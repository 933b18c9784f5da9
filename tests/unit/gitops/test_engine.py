"""The render state keeps what is not a file (generated secrets) and forgets the rendered objects."""

from __future__ import annotations

from gitops.engine import without_kubernetes

SSO = "urn:pulumi:k3s-home::k3s-home::k3s-home:authentik:AuthentikSso"
SECRET = f"{SSO}$pulumi-python:dynamic/k3s-home:GeneratedSecret::t"
K8S = f"{SSO}$kubernetes:core/v1:Secret::s"
PROVIDER = "urn:pulumi:k3s-home::k3s-home::pulumi:providers:kubernetes::default_4_25_0"


def test_kubernetes_resources_and_their_provider_go_the_rest_stays_without_dangling_references() -> None:
    deployment = {
        "manifest": {"time": "x"},
        "resources": [
            {"urn": PROVIDER, "type": "pulumi:providers:kubernetes"},
            {
                "urn": SECRET,
                "type": "pulumi-python:dynamic/k3s-home:GeneratedSecret",
                "dependencies": [K8S],
                "propertyDependencies": {"length": [K8S]},
                "outputs": {"result": {"ciphertext": "..."}},
            },
            {"urn": K8S, "type": "kubernetes:core/v1:Secret", "protect": True, "dependencies": [SECRET]},
        ],
        "pending_operations": [{"type": "creating", "resource": {"urn": K8S}}],
    }
    kept = without_kubernetes(deployment)
    assert [r["urn"] for r in kept["resources"]] == [SECRET]
    assert kept["resources"][0]["dependencies"] == []
    assert kept["resources"][0]["propertyDependencies"] == {"length": []}
    assert kept["resources"][0]["outputs"] == {"result": {"ciphertext": "..."}}
    assert kept["pending_operations"] == []
    assert kept["manifest"] == {"time": "x"}
