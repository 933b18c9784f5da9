"""The NVIDIA device plugin's time-slicing ConfigMap."""

from __future__ import annotations

import yaml

from components.config.gpu import GpuConfig
from components.gpu.meta import meta


def time_slicing_config_map(gpu: GpuConfig) -> dict | None:
    """NVIDIA device plugin config (`version: v1`, sharing.timeSlicing) for every time-sliced pool."""
    sliced = [p for p in gpu.pools if p.time_slicing]
    if not sliced:
        return None
    ts = sliced[0].time_slicing
    assert ts is not None
    config = {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {
            "timeSlicing": {
                "renameByDefault": ts.rename_by_default,
                "failRequestsGreaterThanOne": ts.fail_requests_greater_than_one,
                "resources": [
                    {"name": p.resource, "replicas": p.time_slicing.replicas}
                    for p in sliced
                    if p.time_slicing
                ],
            }
        },
    }
    plugin = gpu.device_plugin
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(plugin.config_map, plugin.namespace),
        "data": {plugin.config_key: yaml.safe_dump(config, sort_keys=False)},
    }
