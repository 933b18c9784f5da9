"""The directive's GPU PriorityClasses (Phase 2.1)."""

from __future__ import annotations

from components.config.gpu import GpuConfig
from components.gpu.meta import meta


def priority_classes(gpu: GpuConfig) -> list[dict]:
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": meta(pc.name),
            "value": pc.value,
            "globalDefault": False,
            "description": pc.description,
        }
        for pc in gpu.priority_classes
    ]
