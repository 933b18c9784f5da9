"""Who owns each object the directive changes, today (the Flux file:line of the facts) and wanted (pure)."""

from __future__ import annotations

import facts
from flux.ownership import FLUX_EDIT, HANDOVER, decide


def rows(config) -> dict:
    return {r.ref: r for r in decide(config, facts.load())}


def test_every_object_the_directive_changes_has_its_owner_today_and_wanted(real_config) -> None:
    found = rows(real_config)
    assert list(found) == [
        "PriorityClass/critical-gpu",
        "PriorityClass/normal-gpu",
        "ResourceQuota/media/gpu-quota",
        "ResourceQuota/ai/gpu-quota",
        "HelmRelease/monitoring/dcgm-exporter",
        "ServiceMonitor/monitoring/dcgm-exporter",
        "HelmRelease/ai/automatic1111",
        "HelmRelease/ai/ollama",
        "HelmRelease/media/jellyfin",
        "ConfigMap/nvidia-device-plugin/nvidia-device-plugin-config",
        "HelmRelease/monitoring/kube-prometheus-stack",
        "HelmRelease/monitoring/loki",
        "HelmRelease/media/bazarr",
    ]
    normal = found["PriorityClass/normal-gpu"]
    assert normal.today == (
        "Flux clusters/k3s-home/infrastructure/07-gpu-management/priority-classes.yaml:14 "
        "(flux-system/gpu-management)"
    )
    assert normal.wanted == FLUX_EDIT
    assert (
        "700 -> 100 is immutable" in normal.step
        and "kustomize.toolkit.fluxcd.io/force: enabled" in normal.step
    )
    assert found["PriorityClass/critical-gpu"].step == "merge the edit; Flux applies it in place"
    jellyfin = found["HelmRelease/media/jellyfin"]
    assert jellyfin.fields == (
        "values priorityClassName: critical -> critical-gpu "
        "(clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml:23)"
    )
    assert found["HelmRelease/ai/ollama"].step == "already so"
    monitor = found["ServiceMonitor/monitoring/dcgm-exporter"]
    assert monitor.wanted == "the dcgm-exporter chart (Flux's HelmRelease)"
    assert "no longer renders or registers" in monitor.step
    handover = found["ConfigMap/nvidia-device-plugin/nvidia-device-plugin-config"]
    assert handover.wanted == HANDOVER and handover.step.startswith(
        "not done (adopted as live changes nothing)"
    )


def test_a_workload_outside_every_tenant_gets_no_class_from_the_edit(real_config) -> None:
    gpu = real_config.gpu.model_copy(update={"tenants": real_config.gpu.tenants[:1]})  # media only
    config = real_config.model_copy(update={"gpu": gpu})
    found = rows(config)
    assert "HelmRelease/media/jellyfin" in found and "HelmRelease/ai/ollama" not in found
