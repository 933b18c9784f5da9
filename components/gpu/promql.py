"""PromQL selectors shared by the GPU alerts and the dashboard."""

from __future__ import annotations

import re

from components import promql
from components.config.gpu import GpuConfig


def ksm_resource_label(resource: str) -> str:
    """kube-state-metrics writes extended resources in pod metrics as sanitized label values."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", resource)


def quota_regex(gpu: GpuConfig) -> str:
    """The GPU quota keys as a quoted PromQL regex (`kube_resourcequota` keeps the key as `resource`)."""
    return promql.string(promql.any_of([f"requests.{p.advertised}" for p in gpu.pools]))


def pod_regex(gpu: GpuConfig) -> str:
    """The GPU resources as kube-state-metrics' pod metrics name them, as a quoted PromQL regex."""
    return promql.string(promql.any_of([ksm_resource_label(p.advertised) for p in gpu.pools]))
