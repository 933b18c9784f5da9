"""GPU ResourceQuotas that bind: `requests.<resource>` slices, pods=0 for every other GPU class, and the
scope-only quota that lets the tenant's own class in (the API server's limitedResources needs one;
ADR 0017)."""

from __future__ import annotations

from components.config.gpu import GpuConfig, GpuTenant
from components.gpu.meta import meta

QUOTA_NAME = "gpu-quota"


def deny_quota_name(priority_class: str) -> str:
    return f"gpu-deny-{priority_class}"


def class_quota_name(priority_class: str) -> str:
    return f"gpu-class-{priority_class}"


def _class_scope(priority_class: str) -> dict:
    return {
        "matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": [priority_class]}]
    }


def tenant_quotas(gpu: GpuConfig, tenant: GpuTenant) -> list[dict]:
    """The slice quota (`requests.<resource>` keys only), the own-class scope, pods=0 per other GPU class."""
    own = tenant.priority_class_name
    quotas = [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": meta(QUOTA_NAME, tenant.namespace),
            "spec": {"hard": gpu.quota_hard(tenant)},
        },
        # Limits nothing: it covers the class's scope, which limitedResources demands ("Limit Priority
        # Class consumption by default" in the Kubernetes docs shows the same quota without `hard`).
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {
                **meta(class_quota_name(own), tenant.namespace),
                # Pulumi waits for status.hard to equal spec.hard: without `hard`, nothing to wait for.
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            "spec": {"scopeSelector": _class_scope(own)},
        },
    ]
    for pc in gpu.priority_classes:
        if pc.name == own:
            continue
        quotas.append(
            {
                "apiVersion": "v1",
                "kind": "ResourceQuota",
                "metadata": meta(deny_quota_name(pc.name), tenant.namespace),
                "spec": {"hard": {"pods": "0"}, "scopeSelector": _class_scope(pc.name)},
            }
        )
    return quotas


def resource_quotas(gpu: GpuConfig) -> list[dict]:
    return [q for t in gpu.tenants for q in tenant_quotas(gpu, t)]
