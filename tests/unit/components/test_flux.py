"""The chart part of a HelmRelease: sourceRef for chart repositories, chartRef for OCI charts."""

from __future__ import annotations

import copy

import pytest

from components.config import load
from components.flux import chart_source
from components.gpu.monitoring import dcgm_helm_release
from components.storage.objects import helm_release
from tests.conftest import TEST_TODAY


@pytest.mark.parametrize("kind", ["HelmRepository", "GitRepository"])
def test_chart_repositories_go_through_chart_spec_source_ref(kind) -> None:
    assert chart_source("loki", "6.30.1", kind, "grafana", "flux-system") == {
        "chart": {
            "spec": {
                "chart": "loki",
                "version": "6.30.1",
                "sourceRef": {"kind": kind, "name": "grafana", "namespace": "flux-system"},
            }
        }
    }


def test_oci_charts_go_through_chart_ref() -> None:
    # helm.toolkit.fluxcd.io/v2 refuses kind OCIRepository under chart.spec.sourceRef (enum).
    assert chart_source("dcgm-exporter", "4.1.1", "OCIRepository", "dcgm", "flux-system") == {
        "chartRef": {"kind": "OCIRepository", "name": "dcgm", "namespace": "flux-system"}
    }


def test_both_components_render_an_oci_source_as_chart_ref(real_raw) -> None:
    raw = copy.deepcopy(real_raw)
    raw["gpu"]["monitoring"]["dcgmExporter"]["source"] = {"kind": "OCIRepository", "name": "dcgm"}
    raw["storage"]["releases"][1]["source"] = {"kind": "OCIRepository", "name": "loki"}
    config = load(raw, today=TEST_TODAY)
    for spec in (
        dcgm_helm_release(config.gpu)["spec"],
        helm_release(config.storage, config.storage.releases[1])["spec"],
    ):
        assert "chart" not in spec
        assert spec["chartRef"]["kind"] == "OCIRepository"
