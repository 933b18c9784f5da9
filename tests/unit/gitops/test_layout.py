"""Where rendered objects land in the Flux repo, and the files that hold them (pure)."""

from __future__ import annotations

import re

import pytest
import yaml

from gitops.layout import (
    FOLDERS,
    MARKER,
    WIRING,
    LayoutError,
    Rendered,
    file_name,
    folder_of,
    kebab_plural,
    owned_folders,
    plan,
)

GPU = "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement$kubernetes:{t}::gpu-x"
SSO = "urn:pulumi:k3s-home::k3s-home::k3s-home:authentik:AuthentikSso$kubernetes:{t}::sso-x"
# The repo's .sops.yaml rule for Secrets (clusters' files must match it to be encrypted).
SOPS_SECRET_RULE = re.compile(r".*secret.*\.yaml$")


def obj(kind: str, name: str, namespace: str | None = None, api: str = "v1", **extra) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": api, "kind": kind, "metadata": meta, **extra}


def item(o: dict, urn: str = GPU) -> Rendered:
    return Rendered(o, urn.format(t=f"core/v1:{o['kind']}"), f"kubernetes:core/v1:{o['kind']}")


def test_the_gpu_framework_goes_where_the_directive_says() -> None:
    files = plan([item(obj("ResourceQuota", "gpu-quota", "ai"))], "flux-system", "sops-age")
    paths = [f.path for f in files]
    assert "clusters/k3s-home/infrastructure-runtime/06-gpu-management/resource-quotas.yaml" in paths
    assert "clusters/k3s-home/infrastructure-runtime/06-gpu-management/kustomization.yaml" in paths


def test_one_file_per_kind_named_like_the_repo_and_one_per_secret() -> None:
    assert file_name(obj("PriorityClass", "x")) == "priority-classes.yaml"
    assert file_name(obj("PersistentVolumeClaim", "x", "m")) == "persistent-volume-claims.yaml"
    assert file_name(obj("ValidatingAdmissionPolicy", "x")) == "validating-admission-policies.yaml"
    assert file_name(obj("ConfigMap", "x", "m")) == "configmaps.yaml"
    assert file_name(obj("Secret", "grafana-sso", "monitoring")) == "secret-monitoring-grafana-sso.yaml"
    assert kebab_plural("StorageClass") == "storage-classes"


def test_secret_files_and_only_they_match_the_repos_sops_rule() -> None:
    objects = [
        item(obj("Secret", "a", "media", data={"k": "dg=="}), SSO),
        item(obj("ConfigMap", "b", "media", data={"k": "v"}), SSO),
        item(obj("Job", "c", "media", api="batch/v1"), SSO),
    ]
    files = plan(objects, "flux-system", "sops-age")
    for f in files:
        assert bool(SOPS_SECRET_RULE.match(f.path)) == f.secret, f.path
    assert [f.path.rsplit("/", 1)[1] for f in files if f.secret] == ["secret-media-a.yaml"]


def test_kustomization_lists_every_file_of_its_folder_and_carries_the_marker() -> None:
    objects = [item(obj("PriorityClass", "p")), item(obj("ResourceQuota", "q", "ai"))]
    files = {f.path: f for f in plan(objects, "flux-system", "sops-age")}
    folder = FOLDERS["k3s-home:gpu:GpuManagement"].path
    text = files[f"{folder}/kustomization.yaml"].text
    assert text.startswith(MARKER + "\n")
    assert yaml.safe_load(text)["resources"] == ["priority-classes.yaml", "resource-quotas.yaml"]


def test_wiring_has_one_flux_kustomization_per_used_folder_with_sops_decryption() -> None:
    objects = [item(obj("ResourceQuota", "q", "ai")), item(obj("Secret", "s", "media"), SSO)]
    files = {f.path: f for f in plan(objects, "flux-system", "sops-age")}
    wiring = yaml.safe_load(files[f"{WIRING}/kustomization.yaml"].text)["resources"]
    assert wiring == ["authentik-sso-flux.yaml", "gpu-management-flux.yaml"]
    flux = next(yaml.safe_load_all(files[f"{WIRING}/gpu-management-flux.yaml"].text))
    assert flux["kind"] == "Kustomization" and flux["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert flux["spec"]["path"] == "./clusters/k3s-home/infrastructure-runtime/06-gpu-management"
    assert flux["spec"]["decryption"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}
    assert flux["metadata"]["namespace"] == "flux-system"


def test_same_objects_same_bytes_whatever_the_order() -> None:
    a = [item(obj("ResourceQuota", "q1", "ai")), item(obj("ResourceQuota", "q2", "media"))]
    assert plan(a, "f", "s") == plan(list(reversed(a)), "f", "s")


def test_multiline_strings_are_literal_blocks() -> None:
    files = plan([item(obj("ConfigMap", "c", "m", data={"s.py": "a\nb\n"}))], "f", "s")
    text = next(f.text for f in files if f.path.endswith("configmaps.yaml"))
    assert "s.py: |\n" in text
    assert next(yaml.safe_load_all(text))["data"]["s.py"] == "a\nb\n"


def test_an_object_of_an_unknown_component_fails_closed() -> None:
    stray = Rendered(
        obj("ConfigMap", "c", "m"),
        "urn:pulumi:s::p::k3s-home:new:Thing$kubernetes:core/v1:ConfigMap::c",
        "kubernetes:core/v1:ConfigMap",
    )
    with pytest.raises(LayoutError, match="k3s-home:new:Thing has no folder"):
        plan([stray], "f", "s")


def test_owned_folders_are_new_folders_of_the_repo_layout() -> None:
    assert (
        folder_of("clusters/k3s-home/apps/auth/authentik-sso/x.yaml")
        == "clusters/k3s-home/apps/auth/authentik-sso"
    )
    assert folder_of("clusters/k3s-home/apps/auth/authentik/helmrelease.yaml") is None
    assert folder_of(".sops.yaml") is None
    assert len(owned_folders()) == len(FOLDERS) + 1
