"""The HelmReleases the stack writes, against the real Flux HelmRelease CRD schema (server-side dry run)."""

from __future__ import annotations

import copy

import pytest
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource

from components.config import StackConfig, load
from components.gpu.monitoring import dcgm_helm_release
from components.storage.objects import helm_release
from tests.conftest import TEST_TODAY

pytestmark = pytest.mark.integration

HelmRelease = create_namespaced_resource("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases")


def releases(config: StackConfig) -> list[dict]:
    storage = config.storage
    return [dcgm_helm_release(config.gpu), *(helm_release(storage, r) for r in storage.releases)]


def _dry_run(kube: Client, obj: dict) -> None:
    """A server-side dry-run create: the CRD's schema and CEL rules judge it, nothing is stored. Under a
    name of its own, since the seeded live baseline already holds these releases."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["name"] += "-schema-check"
    kube.create(HelmRelease.from_dict(obj), dry_run=True)


def test_every_release_passes_the_crd_schema(kube: Client, real_config) -> None:
    for obj in releases(real_config):
        _dry_run(kube, obj)


def test_oci_sources_render_as_chart_ref_and_pass(kube: Client, real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    raw["gpu"]["monitoring"]["dcgmExporter"]["source"] = {"kind": "OCIRepository", "name": "dcgm-exporter"}
    for release in raw["storage"]["releases"]:
        release["source"] = {"kind": "OCIRepository", "name": release["name"]}
    for obj in releases(load(raw, today=TEST_TODAY)):
        assert "chartRef" in obj["spec"]
        _dry_run(kube, obj)


def test_the_schema_refuses_an_oci_repository_under_source_ref(kube: Client, real_config) -> None:
    """The check above can fail: the shape the stack used to write is refused."""
    obj = dcgm_helm_release(real_config.gpu)
    obj["spec"]["chart"]["spec"]["sourceRef"]["kind"] = "OCIRepository"
    with pytest.raises(ApiError) as err:
        _dry_run(kube, obj)
    assert err.value.status.code == 422
    assert "spec.chart.spec.sourceRef.kind" in err.value.status.message
