"""GPU management (directive Phase 2, prohibition 5): priority classes, quotas that bind, admission, DCGM.

Every Kubernetes object is first built as a plain dict by a pure function below, so the component,
the integration tests (applied to a real API server) and the policy rules all see the same objects.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.config import StackConfig
from components.config.gpu import GpuConfig, GpuTenant, advisories
from components.deep_merge import deep_merge

QUOTA_NAME = "gpu-quota"
POLICY_NAME = "gpu-tenant-priority-class"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "k3s-home-gpu"}


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _cel_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _cel_list(values: list[str]) -> str:
    return "[" + ", ".join(_cel_str(v) for v in values) + "]"


# ---- pure object builders ---------------------------------------------------------------------------


def priority_classes(gpu: GpuConfig) -> list[dict]:
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": _meta(pc.name),
            "value": pc.value,
            "globalDefault": False,
            "description": pc.description,
        }
        for pc in gpu.priority_classes
    ]


def deny_quota_name(priority_class: str) -> str:
    return f"gpu-deny-{priority_class}"


def tenant_quotas(gpu: GpuConfig, tenant: GpuTenant) -> list[dict]:
    """The slice quota (`requests.<resource>` keys only) plus pods=0 per GPU class not the tenant's."""
    quotas = [
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta(QUOTA_NAME, tenant.namespace),
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
                "metadata": _meta(deny_quota_name(pc.name), tenant.namespace),
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
        "metadata": _meta(POLICY_NAME),
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
        "metadata": _meta(POLICY_NAME),
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
        "metadata": _meta(plugin.config_map, plugin.namespace),
        "data": {plugin.config_key: yaml.safe_dump(config, sort_keys=False)},
    }


def dcgm_helm_release(gpu: GpuConfig) -> dict:
    mon, dcgm = gpu.monitoring, gpu.monitoring.dcgm_exporter
    nodes = sorted({n for p in gpu.pools if p.vendor == "nvidia" for n in p.nodes})
    values = {
        # Ours below carries the labels kube-prometheus-stack selects on.
        "serviceMonitor": {"enabled": False},
        "service": {"port": dcgm.port},
        # No GPU request: the exporter reads every device on the node and must not eat a tenant's slice.
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": nodes}
                            ]
                        }
                    ]
                }
            }
        },
    }
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": _meta(dcgm.release_name, mon.namespace),
        "spec": {
            "interval": dcgm.interval,
            "chart": {
                "spec": {
                    "chart": dcgm.chart,
                    "version": dcgm.version,
                    "sourceRef": {
                        "kind": dcgm.source.kind,
                        "name": dcgm.source.name,
                        "namespace": dcgm.source.namespace,
                    },
                }
            },
            "install": {"remediation": {"retries": 3}},
            "upgrade": {"remediation": {"retries": 3}},
            "values": deep_merge(values, dcgm.values),
        },
    }


def service_monitor(gpu: GpuConfig) -> dict:
    mon, dcgm = gpu.monitoring, gpu.monitoring.dcgm_exporter
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(dcgm.release_name, mon.namespace, mon.prometheus_labels),
        "spec": {
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "dcgm-exporter",
                    "app.kubernetes.io/instance": dcgm.release_name,
                }
            },
            "namespaceSelector": {"matchNames": [mon.namespace]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": "15s",
                    "relabelings": [
                        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                    ],
                }
            ],
        },
    }


def ksm_resource_label(resource: str) -> str:
    """kube-state-metrics writes extended resources in pod metrics as sanitized label values."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", resource)


def _quota_regex(gpu: GpuConfig) -> str:
    return "|".join(re.escape(f"requests.{p.advertised}") for p in gpu.pools)


def _pod_regex(gpu: GpuConfig) -> str:
    return "|".join(ksm_resource_label(p.advertised) for p in gpu.pools)


def prometheus_rule(gpu: GpuConfig) -> dict:
    mon = gpu.monitoring
    quota = _quota_regex(gpu)
    alerts = [
        {
            "alert": "GpuUtilizationSaturated",
            "expr": "avg by (Hostname, gpu) (avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m])) "
            f"> {mon.utilization_percent}",
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is saturated",
                "description": f"Utilisation above {mon.utilization_percent}% for 15m; time-sliced tenants "
                "slow each other down (DCGM cannot attribute usage per slice).",
            },
        },
        {
            "alert": "GpuFramebufferHigh",
            "expr": "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) "
            f"> {mon.framebuffer_percent}",
            "for": "5m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} framebuffer above "
                f"{mon.framebuffer_percent}%",
                "description": "Time slices share the framebuffer; the next allocation "
                "on this GPU may fail (OOM).",
            },
        },
        {
            "alert": "GpuXidError",
            "expr": "max by (Hostname, gpu) (DCGM_FI_DEV_XID_ERRORS) > 0",
            "for": "0m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "XID error {{ $value }} on GPU {{ $labels.gpu }} ({{ $labels.Hostname }})",
                "description": "The driver reported an XID error; check dmesg on the node.",
            },
        },
        {
            "alert": "GpuQuotaExhausted",
            "expr": f'kube_resourcequota{{type="used", resource=~"{quota}"}} / ignoring(type) '
            f'(kube_resourcequota{{type="hard", resource=~"{quota}"}} > 0) >= 1',
            "for": "15m",
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.namespace }} uses all of its {{ $labels.resource }} quota",
                "description": "New GPU pods in this namespace are refused until one ends; "
                "raise the tenant's max in k3s-home:gpu.tenants (the capacity proof checks the pool).",
            },
        },
        {
            "alert": "GpuPodPending",
            "expr": 'max by (namespace, pod) (kube_pod_status_phase{phase="Pending"} == 1) '
            "* on (namespace, pod) group_left() "
            "max by (namespace, pod) "
            f'(kube_pod_container_resource_requests{{resource=~"{_pod_regex(gpu)}"}} > 0)',
            "for": mon.pending_for,
            "labels": {"severity": "warning"},
            "annotations": {
                "summary": "{{ $labels.namespace }}/{{ $labels.pod }} waits for a GPU",
                "description": f"Pending for more than {mon.pending_for} while requesting a GPU resource.",
            },
        },
    ]
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _meta("gpu-alerts", mon.namespace, mon.prometheus_labels),
        "spec": {"groups": [{"name": "gpu", "rules": alerts}]},
    }


def _panel(pid: int, title: str, kind: str, exprs: list[tuple[str, str]], x: int, y: int) -> dict:
    return {
        "id": pid,
        "title": title,
        "type": kind,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "targets": [
            {"refId": chr(65 + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def dashboard(gpu: GpuConfig) -> dict:
    quota = _quota_regex(gpu)
    pods = _pod_regex(gpu)
    panels = [
        _panel(
            1,
            "GPU slices allocated per namespace",
            "timeseries",
            [
                (
                    f'sum by (namespace, resource) (kube_resourcequota{{type="used", resource=~"{quota}"}})',
                    "{{namespace}} {{resource}}",
                )
            ],
            0,
            0,
        ),
        _panel(
            2,
            "GPU quota used per namespace",
            "bargauge",
            [
                (
                    f'kube_resourcequota{{type="used", resource=~"{quota}"}} / ignoring(type) '
                    f'(kube_resourcequota{{type="hard", resource=~"{quota}"}} > 0)',
                    "{{namespace}} {{resource}}",
                )
            ],
            12,
            0,
        ),
        _panel(
            3,
            "GPU requests by running or pending pods per namespace",
            "timeseries",
            [
                (
                    "sum by (namespace, resource) "
                    f'(kube_pod_container_resource_requests{{resource=~"{pods}"}} '
                    "* on (namespace, pod) group_left() "
                    'max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Running"} == 1))',
                    "{{namespace}} {{resource}}",
                )
            ],
            0,
            8,
        ),
        _panel(
            4,
            "GPU utilisation and framebuffer",
            "timeseries",
            [
                ("DCGM_FI_DEV_GPU_UTIL", "util {{Hostname}} gpu{{gpu}}"),
                (
                    "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
                    "fb% {{Hostname}} gpu{{gpu}}",
                ),
            ],
            12,
            8,
        ),
    ]
    return {
        "uid": "k3s-home-gpu-allocation",
        "title": "GPU allocation",
        "tags": ["gpu", "k3s-home"],
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}
            ]
        },
        "panels": panels,
    }


def dashboard_config_map(gpu: GpuConfig) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("gpu-allocation-dashboard", gpu.monitoring.namespace, DASHBOARD_LABEL),
        "data": {"gpu-allocation.json": json.dumps(dashboard(gpu), indent=2, sort_keys=True)},
    }


def render(gpu: GpuConfig) -> list[dict]:
    """Every object the component manages, in dependency order."""
    cm = time_slicing_config_map(gpu)
    return [
        *priority_classes(gpu),
        *resource_quotas(gpu),
        *admission_policy(gpu),
        *([cm] if cm else []),
        dcgm_helm_release(gpu),
        service_monitor(gpu),
        prometheus_rule(gpu),
        dashboard_config_map(gpu),
    ]


def summary(config: StackConfig) -> dict[str, Any]:
    gpu = config.gpu
    return {
        "pools": [
            {
                "resource": v.pool,
                "capacity": v.capacity,
                "committed": v.committed,
                "free": v.free,
                "detail": v.detail,
                "maxPerContainer": gpu.pool(v.pool).max_per_container,
                "proof": v.explain(),
            }
            for v in gpu.verdicts()
        ],
        "tenants": [
            {"namespace": t.namespace, "priorityClassName": t.priority_class_name, "quota": gpu.quota_hard(t)}
            for t in gpu.tenants
        ],
        "priorityClasses": {pc.name: pc.value for pc in gpu.priority_classes},
        "advisories": advisories(gpu, config.cluster),
    }


# ---- the component --------------------------------------------------------------------------------


def _logical(obj: dict) -> str:
    meta = obj["metadata"]
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", obj["kind"]).lower()
    return "-".join(x for x in (kind, meta.get("namespace"), meta["name"]) if x)


class GpuManagement(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        gpu = config.gpu
        # The model already proved this; re-check so an unvalidated (model_construct) model registers nothing.
        for verdict in gpu.verdicts():
            if not verdict.ok:
                raise pulumi.RunError(f"k3s-home:gpu.tenants: oversubscribed: {verdict.explain()}")
        super().__init__("k3s-home:gpu:GpuManagement", name, None, opts)
        self.summary = summary(config)
        for note in self.summary["advisories"]:
            pulumi.log.warn(f"gpu advisory: {note}", resource=self)

        self.resources: dict[str, pulumi.CustomResource] = {}
        classes: list[pulumi.Resource] = []
        for obj in render(gpu):
            meta = obj["metadata"]
            adopt = config.cluster.adopt_id(obj["kind"], meta["name"], meta.get("namespace"))
            # Pods name these classes: create them before anything that may admit GPU pods.
            deps = classes if obj["kind"] != "PriorityClass" else []
            opts_ = pulumi.ResourceOptions(parent=self, import_=adopt, depends_on=deps)
            res = self._resource(f"{name}-{_logical(obj)}", obj, opts_)
            if obj["kind"] == "PriorityClass":
                classes.append(res)
            self.resources[_logical(obj)] = res
        self.register_outputs({"summary": self.summary})

    @staticmethod
    def _resource(rname: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
        kind, meta = obj["kind"], obj["metadata"]
        if kind == "PriorityClass":
            return k8s.scheduling.v1.PriorityClass(
                rname,
                metadata=meta,
                value=obj["value"],
                global_default=obj["globalDefault"],
                description=obj["description"],
                opts=opts,
            )
        if kind == "ResourceQuota":
            return k8s.core.v1.ResourceQuota(rname, metadata=meta, spec=obj["spec"], opts=opts)
        if kind == "ConfigMap":
            return k8s.core.v1.ConfigMap(rname, metadata=meta, data=obj["data"], opts=opts)
        if kind == "ValidatingAdmissionPolicy":
            return k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                rname, metadata=meta, spec=obj["spec"], opts=opts
            )
        if kind == "ValidatingAdmissionPolicyBinding":
            return k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                rname, metadata=meta, spec=obj["spec"], opts=opts
            )
        return k8s.apiextensions.CustomResource(
            rname, api_version=obj["apiVersion"], kind=kind, metadata=meta, spec=obj["spec"], opts=opts
        )
