"""The ValidatingAdmissionPolicy (CEL) that ties a tenant's GPU pods to its own PriorityClass."""

from __future__ import annotations

from typing import Any

from components.config.gpu import GpuConfig
from components.gpu.meta import meta

POLICY_NAME = "gpu-tenant-priority-class"


def _cel_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cel_list(values: list[str]) -> str:
    return "[" + ", ".join(_cel_str(v) for v in values) + "]"


def admission_policy(gpu: GpuConfig) -> list[dict]:
    """ValidatingAdmissionPolicy + binding: a GPU pod in a tenant namespace carries that tenant's own class.

    A globalDefault PriorityClass is filled in by the Priority admission plugin before validation, so
    "has a priorityClassName" proves nothing: the CEL compares with the tenant's class by namespace.
    """
    resources = [p.advertised for p in gpu.pools]
    expected = (
        "{"
        + ", ".join(f"{_cel_str(t.namespace)}: {_cel_str(t.priority_class_name)}" for t in gpu.tenants)
        + "}"
    )
    uses = (
        "has(c.resources) && ((has(c.resources.requests) && r in c.resources.requests) || "
        "(has(c.resources.limits) && r in c.resources.limits))"
    )
    validations: list[dict[str, Any]] = [
        {
            "expression": "size(variables.requested) == 0 || variables.actual == variables.expected",
            "messageExpression": (
                "'pod requests ' + variables.requested.join(', ') + ' in GPU tenant namespace ' + "
                "request.namespace + ' and must set priorityClassName: ' + variables.expected + "
                "' (it has ' + (variables.actual == '' ? 'none' : variables.actual) + "
                "'); see k3s-home:gpu.tenants'"
            ),
            "reason": "Forbidden",
        }
    ]
    for pool in gpu.pools:
        r = _cel_str(pool.advertised)
        limit = pool.max_per_container
        validations.append(
            {
                "expression": (
                    "variables.containers.all(c, !has(c.resources) || !has(c.resources.requests) || "
                    f"!({r} in c.resources.requests) || "
                    f"quantity(c.resources.requests[{r}]).compareTo(quantity('{limit}')) <= 0)"
                ),
                "message": (
                    f"a container may request at most {limit} {pool.advertised}: the pool shares each device "
                    f"({pool.capacity_detail()}) and hands out one slice per request"
                ),
                "reason": "Forbidden",
            }
        )
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": meta(POLICY_NAME),
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "variables": [
                {
                    "name": "containers",
                    "expression": "object.spec.containers + "
                    "(has(object.spec.initContainers) ? object.spec.initContainers : [])",
                },
                {
                    "name": "requested",
                    "expression": f"{_cel_list(resources)}.filter(r, variables.containers.exists(c, {uses}))",
                },
                {
                    "name": "expected",
                    "expression": f"request.namespace in {expected} ? {expected}[request.namespace] : ''",
                },
                {
                    "name": "actual",
                    "expression": "has(object.spec.priorityClassName) ? object.spec.priorityClassName : ''",
                },
            ],
            "validations": validations,
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": meta(POLICY_NAME),
        "spec": {
            "policyName": POLICY_NAME,
            "validationActions": ["Deny"],
            "matchResources": {
                "namespaceSelector": {
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": [t.namespace for t in gpu.tenants],
                        }
                    ]
                }
            },
        },
    }
    return [policy, binding]
