"""Builders shared by the policy tests, so each test reads: object, policy (or rule), expected verdict."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from components.config import StackConfig
from rules import Finding

APPROVED = {"k3s-home.fletcherlabs.net/cio-approval": "CIO-2026-014 dcgm-exporter needs host PID"}
UNKNOWN = UNKNOWN_STRING_VALUE  # what the engine sends for a value not known during preview

# --- Kubernetes objects -------------------------------------------------------------------------------


def meta(name: str, namespace: str | None, labels=None, annotations=None) -> dict:
    out: dict[str, Any] = {"name": name}
    if namespace:
        out["namespace"] = namespace
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = annotations
    return out


def container(name: str = "app", **security: Any) -> dict:
    c: dict[str, Any] = {"name": name, "image": "ghcr.io/example/app:1.0"}
    if security:
        c["securityContext"] = security
    return c


def deployment(*containers: dict, name="app", namespace="media", annotations=None, **pod: Any) -> dict:
    spec = {"containers": list(containers) or [container()], **pod}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, namespace, annotations=annotations),
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"spec": spec}},
    }


def pod(*containers: dict, name="app", namespace="media", annotations=None, **spec: Any) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta(name, namespace, annotations=annotations),
        "spec": {"containers": list(containers) or [container()], **spec},
    }


def cronjob(*containers: dict, name="job", namespace="media") -> dict:
    template = {"spec": {"containers": list(containers), "restartPolicy": "Never"}}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(name, namespace),
        "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}},
    }


def helm_release(values: dict, name="app", namespace="monitoring", annotations=None) -> dict:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": meta(name, namespace, annotations=annotations),
        "spec": {"chart": {"spec": {"chart": name}}, "values": values},
    }


def secret(name="app", namespace="media", field_name="stringData", **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, namespace), field_name: data}


def configmap(name="app", namespace="media", labels=None, **data: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, namespace, labels), "data": data}


def flux_kustomization(name="apps", decryption: dict | None = None) -> dict:
    spec: dict[str, Any] = {"interval": "10m", "path": "./apps", "prune": True}
    if decryption is not None:
        spec["decryption"] = decryption
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": meta(name, "flux-system"),
        "spec": spec,
    }


def obj(kind: str, name: str, namespace: str | None = None, api="v1", labels=None, **fields: Any) -> dict:
    return {"apiVersion": api, "kind": kind, "metadata": meta(name, namespace, labels), **fields}


# --- rules ------------------------------------------------------------------------------------------


def verdict(findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """[(rule, severity)] for compact assertions."""
    return [(f.rule, str(f.severity)) for f in findings]


def run_rule(rule: Callable[[dict, StackConfig], list[Finding]], o: dict, cfg: StackConfig) -> list[Finding]:
    before = copy.deepcopy(o)
    findings = rule(o, cfg)
    assert o == before, "rules must not modify the object they check"
    return findings


# --- policies -----------------------------------------------------------------------------------------


def type_token(o: dict) -> str:
    """The pulumi_kubernetes type token of an object: kubernetes:<group/version>:<Kind>."""
    api = o["apiVersion"]
    return f"kubernetes:{'core/' + api if '/' not in api else api}:{o['kind']}"


def _mark(props: Any, path: str | tuple[str, ...], how: Callable[[Any], Any]) -> None:
    """Replace the value at `path` (dotted, or a tuple when keys hold dots) by how(value)."""
    path = tuple(path.split(".")) if isinstance(path, str) else path
    node = props
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = how(node[path[-1]])


def props_of(o: dict, secrets: Iterable[str] = (), unknowns: Iterable[str] = ()) -> Mapping[str, Any]:
    """What the analyzer hands a validation: `Secret`-marked values (as the pack's shim leaves them),
    unknown sentinels, wrapped in the SDK's unknown-checking proxy."""
    props = copy.deepcopy(o)
    for path in unknowns:
        _mark(props, path, lambda _v: UNKNOWN)
    for path in secrets:
        _mark(props, path, Secret)
    return unknown_checking_proxy(props)


def resource_args(
    o: dict, *, config: Mapping[str, Any] | None = None, secrets=(), unknowns=(), token: str | None = None
) -> ResourceValidationArgs:
    name = o.get("metadata", {}).get("name", "r")
    token = token or type_token(o)
    return ResourceValidationArgs(
        resource_type=token,
        props=props_of(o, secrets, unknowns),
        urn=f"urn:pulumi:k3s-home::k3s-home::{token}::{name}",
        name=name,
        opts=PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), []),
        provider=None,
        config=config or {},
    )


def stack_args(*objs: dict, config: Mapping[str, Any] | None = None, unknowns=()) -> StackValidationArgs:
    resources = []
    for o in objs:
        args = resource_args(o, unknowns=unknowns)
        resources.append(
            PolicyResource(args.resource_type, args.props, args.urn, args.name, args.opts, None, None, [], {})
        )
    return StackValidationArgs(resources, config or {})


@dataclass
class PolicyVerdict:
    violations: list[str] = field(default_factory=list)
    unknown: bool = False  # the engine would report "can't run during preview" (advisory)

    @property
    def passed(self) -> bool:
        return not self.violations and not self.unknown


def run_policy(policy: ResourceValidationPolicy | StackValidationPolicy, args) -> PolicyVerdict:
    result = PolicyVerdict()
    try:
        policy.validate(args, lambda message, urn=None: result.violations.append(message))
    except UnknownValueError:
        result.unknown = True
    return result
