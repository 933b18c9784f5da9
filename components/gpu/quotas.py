"""GPU ResourceQuotas that bind: `requests.<resource>` slices plus pods=0 for every other GPU class."""

from __future__ import annotations

from components.config.gpu import GpuConfig, GpuTenant
from components.gpu.meta import meta

QUOTA_NAME = "gpu-quota"


def deny_quota_name(priority_class: str) -> str:
    return f"gpu-deny-{priority_class}"


def tenant_quotas(gpu: GpuConfig, tenant: GpuTenant) -> list[dict]:
    """The slice quota (`requests.<resource>` keys only) plus pods=0 per GPU class not the tenant's."""
    quotas = [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta(QUOTA_NAME, tenant.namespace),
            "spec": {"hard": gpu.quota_hard(tenant)},
        }
    ]
    for pc in gpu.priority_classes:
        if pc.name == tenant.priority_class_name:
            continue
        quotas.append(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": meta(deny_quota_name(pc.name), tenant.namespace),
                "spec": {
                    "hard": {"pods": "0"},
                    "scopeSelector": {
                        "matchExpressions": [
                            {"scopeName": "PriorityClass", "operator": "In", "values": [pc.name]}
                        ]
                    },
                },
            }
        )
    return quotas


def resource_quotas(gpu: GpuConfig) -> list[dict]:
    return [q for t in gpu.tenants for q in tenant_quotas(gpu, t)]
