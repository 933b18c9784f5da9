"""The ValidatingAdmissionPolicy (CEL) for GPU slices and classes, bound cluster-wide (ADR 0017).

Its validations are the API server's side of rules.gpu.gpu_priority_class, clauses 1 to 5; the quotas
(components.gpu.quotas) enforce clause 6, pod validation clause 7. The API server's admission
configuration (components.gpu.admission_config) makes quota admission refuse clauses 1, 2 and 4 too,
should the policy or its binding be gone.
"""

from __future__ import annotations

from typing import Any

from components.config.gpu import GpuConfig
from components.gpu.meta import meta

POLICY_NAME = "gpu-tenant-priority-class"
# Every container list of a pod spec. Their types differ (EphemeralContainer is not Container), so the
# CEL collects their `resources` (one type) rather than the containers.
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _cel_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cel_list(values: list[str]) -> str:
    return "[" + ", ".join(_cel_str(v) for v in values) + "]"


def _cel_map(pairs: dict[str, str]) -> str:
    return "{" + ", ".join(f"{_cel_str(k)}: {v}" for k, v in pairs.items()) + "}"


def _resources_of(field: str) -> str:
    # The same shape for every list (containers is never absent): each term is list(dyn) to the type
    # checker, whose types are named by path (Pod.spec.initContainers.@idx.resources, ...).
    spec = f"object.spec.{field}"
    return f"(has({spec}) ? {spec}.filter(c, has(c.resources)).map(c, c.resources) : [])"


def admission_policy(gpu: GpuConfig, actions: tuple[str, ...] = ("Deny",)) -> list[dict]:
    """ValidatingAdmissionPolicy + a binding over every namespace, with `actions` as its
    validationActions (components.gpu.enforcement decides them: Deny only when nothing live would be
    refused, ADR 0030).

    A globalDefault PriorityClass is filled in by the Priority admission plugin before validation, so
    "has a priorityClassName" proves nothing: the CEL compares with the tenant's class by namespace.
    """
    tenant_class = _cel_map({t.namespace: _cel_str(t.priority_class_name) for t in gpu.tenants})
    class_tenants = _cel_map(
        {
            pc.name: _cel_list([t.namespace for t in gpu.tenants if t.priority_class_name == pc.name])
            for pc in gpu.priority_classes
        }
    )
    tenants = ", ".join(t.namespace for t in gpu.tenants)
    names, ns = _cel_list(gpu.resources), "request.namespace"
    uses = "(has(x.requests) && r in x.requests) || (has(x.limits) && r in x.limits)"
    shares = _cel_map(
        {t.namespace: _cel_list([p for p, share in t.pools.items() if share.cap > 0]) for t in gpu.tenants}
    )
    validations: list[dict[str, Any]] = [
        {
            "expression": "size(variables.requested) == 0 || variables.expected == '' || "
            "variables.actual == variables.expected",
            "messageExpression": (
                "'pod requests ' + variables.requested.join(', ') + ' in GPU tenant namespace ' + "
                "request.namespace + ' and must set priorityClassName: ' + variables.expected + "
                "' (it has ' + (variables.actual == '' ? 'none' : variables.actual) + "
                "'); see k3s-home:gpu.tenants'"
            ),
            "reason": "Forbidden",
        },
        {
            "expression": "size(variables.requested) == 0 || variables.expected != ''",
            "messageExpression": (
                "'pod requests ' + variables.requested.join(', ') + ' in namespace ' + request.namespace + "
                f"', which is no GPU tenant ({tenants}); its slices would sit outside every quota'"
            ),
            "reason": "Forbidden",
        },
        {
            "expression": f"variables.expected == '' || variables.requested.all(r, r in {shares}[{ns}])",
            "messageExpression": (
                "'pod requests ' + variables.requested.join(', ') + '; GPU tenant ' + request.namespace + "
                f"' has a share of ' + {shares}[{ns}].join(', ') + ' only; see k3s-home:gpu.tenants'"
            ),
            "reason": "Forbidden",
        },
        {
            "expression": f"!(variables.actual in {class_tenants}) || "
            f"{ns} in {class_tenants}[variables.actual]",
            "messageExpression": (
                "'priorityClassName ' + variables.actual + ' is reserved for GPU tenant(s) ' + "
                f"{class_tenants}[variables.actual].join(', ') + ', not namespace ' + {ns} + "
                "'; see k3s-home:gpu.tenants'"
            ),
            "reason": "Forbidden",
        },
    ]
    for pool in gpu.pools:
        r = _cel_str(pool.advertised)
        limit = pool.max_per_container
        validations.append(
            {
                "expression": (
                    f"variables.resources.all(x, !has(x.requests) || !({r} in x.requests) || "
                    f"quantity(x.requests[{r}]).compareTo(quantity('{limit}')) <= 0)"
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
                    },
                    # Ephemeral containers join a running pod through this subresource.
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["UPDATE"],
                        "resources": ["pods/ephemeralcontainers"],
                    },
                ]
            },
            "variables": [
                {"name": "resources", "expression": " + ".join(_resources_of(f) for f in CONTAINER_LISTS)},
                {
                    "name": "requested",
                    "expression": f"{names}.filter(r, variables.resources.exists(x, {uses}))",
                },
                {
                    "name": "expected",
                    "expression": f"{ns} in {tenant_class} ? {tenant_class}[{ns}] : ''",
                },
                {
                    "name": "actual",
                    "expression": "has(object.spec.priorityClassName) ? object.spec.priorityClassName : ''",
                },
            ],
            "validations": validations,
        },
    }
    # No matchResources: every namespace (defect 8 was a binding over the tenants only).
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": meta(POLICY_NAME),
        "spec": {"policyName": POLICY_NAME, "validationActions": list(actions)},
    }
    return [policy, binding]
