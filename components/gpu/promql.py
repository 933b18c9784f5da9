"""PromQL selectors shared by the GPU alerts and the dashboard."""

from __future__ import annotations

import re

from components.config.gpu import GpuConfig


def ksm_resource_label(resource: str) -> str:
    """kube-state-metrics writes extended resources in pod metrics as sanitized label values."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", resource)


def quota_regex(gpu: GpuConfig) -> str:
    return "|".join(re.escape(f"requests.{p.advertised}") for p in gpu.pools)


def pod_regex(gpu: GpuConfig) -> str:
    return "|".join(ksm_resource_label(p.advertised) for p in gpu.pools)
