"""GPU rules (directive Phase 2, prohibition 5) as pure functions over Kubernetes object dicts.

- gpu-priority-class: a GPU consumer in a tenant namespace carries that tenant's own priorityClassName
  (the in-cluster twin is the ValidatingAdmissionPolicy in components.gpu.admission).
- gpu-oversubscription: the stack's GPU ResourceQuotas fit the pools (rules.gpu_capacity.prove,
  the same arithmetic as the config model's proof); `limits.<gpu>` quota keys are never tracked.
- directive-drift: the GPU PriorityClasses keep the values the directive (via the stack config) sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rules.gpu_capacity import Claim, parse_count, prove

from . import Config, Finding, Severity, object_name
from .walk import containers, dig, helm_values, pod_spec

# Directive Phase 2, verbatim. The stack config may deviate only visibly (`directive_drift` below).
DIRECTIVE_PRIORITY_CLASSES: dict[str, tuple[int, str]] = {
    "critical-gpu": (1000, "Critical GPU workloads (Plex, Jellyfin)"),
    "normal-gpu": (100, "Normal GPU workloads (AI)"),
}
# Names GPU device plugins register, besides whatever the stack's pools advertise.
KNOWN_GPU_RESOURCES = ("nvidia.com/gpu", "nvidia.com/gpu.shared", "gpu.intel.com/i915", "amd.com/gpu")


def gpu_resources(config: Config) -> list[str]:
    pools = [p.advertised for p in config.gpu.pools]
    return pools + [r for r in KNOWN_GPU_RESOURCES if r not in pools]


def _requested(resources: Any, names: list[str]) -> dict[str, Any]:
    """{resource: amount} a `resources` block asks for (requests, else limits: requests default to them)."""
    if not isinstance(resources, dict):
        return {}
    out: dict[str, Any] = {}
    for section in ("limits", "requests"):  # requests win when both are set
        block = resources.get(section)
        if isinstance(block, dict):
            out.update({k: v for k, v in block.items() if k in names})
    return out


def _namespace(obj: dict) -> str:
    if helm_values(obj) is not None and dig(obj, "spec", "targetNamespace"):
        return str(dig(obj, "spec", "targetNamespace"))
    return str(dig(obj, "metadata", "namespace") or "default")


def _keys_walk(value: Any, keys: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield keys, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _keys_walk(v, (*keys, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _keys_walk(v, (*keys, i))


def _dotted(keys: tuple[Any, ...]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def _get(root: Any, keys: tuple[Any, ...]) -> Any:
    for k in keys:
        if isinstance(k, int):
            root = root[k] if isinstance(root, list) and k < len(root) else None
        else:
            root = root.get(k) if isinstance(root, dict) else None
    return root


def _values_class(values: dict, at: tuple[Any, ...]) -> str | None:
    """The priorityClassName governing the `resources` block at `at` in Helm values: the nearest one
    on the way up, directly or under `pod`/`defaultPodOptions` (bjw-s app-template)."""
    for depth in range(len(at), -1, -1):
        base = at[:depth]
        for via in ((), ("pod",), ("defaultPodOptions",)):
            found = _get(values, (*base, *via, "priorityClassName"))
            if isinstance(found, str) and found:
                return found
    return None


def _consumers(obj: dict, names: list[str]) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """(path, {gpu resource: amount}, priorityClassName) for every GPU-requesting container of obj."""
    found = pod_spec(obj)
    if found:
        base, spec = found
        cls = spec.get("priorityClassName") or None
        for path, container in containers(spec, base):
            asked = _requested(container.get("resources"), names)
            if asked:
                yield f"{path}.resources", asked, cls
        return
    values = helm_values(obj)
    if values is None:
        return
    for keys, node in _keys_walk(values):
        if keys and keys[-1] == "resources":
            asked = _requested(node, names)
            if asked:
                yield f"spec.values.{_dotted(keys)}", asked, _values_class(values, keys[:-1])


def gpu_priority_class(obj: dict, config: Config) -> list[Finding]:
    gpu = config.gpu
    names = gpu_resources(config)
    tenants = {t.namespace: t for t in gpu.tenants}
    entitled = {
        pc.name: [t.namespace for t in gpu.tenants if t.priority_class_name == pc.name]
        for pc in gpu.priority_classes
    }
    ns = _namespace(obj)
    who = object_name(obj)
    findings: list[Finding] = []

    def add(message: str, path: str) -> None:
        findings.append(Finding("gpu-priority-class", f"{who}: {message}", Severity.MANDATORY, path))

    found = pod_spec(obj)
    if found:
        cls = found[1].get("priorityClassName")
        if cls in entitled and ns not in entitled[cls]:
            add(
                f"priorityClassName {cls} is reserved for GPU tenant(s) "
                f"{', '.join(entitled[cls]) or 'none'}, not namespace {ns}",
                f"{found[0]}.priorityClassName",
            )
    for path, asked, cls in _consumers(obj, names):
        listing = ", ".join(f"{k}={v}" for k, v in asked.items())
        tenant = tenants.get(ns)
        if tenant is None:
            add(
                f"requests {listing} in namespace {ns}, which is no GPU tenant ({', '.join(tenants)}); "
                "its slices would sit outside every quota and the capacity proof",
                path,
            )
        elif cls != tenant.priority_class_name:
            add(
                f"requests {listing} in GPU tenant namespace {ns} and must set priorityClassName: "
                f"{tenant.priority_class_name} (it has {cls or 'none'}; "
                "the cluster's globalDefault would not do)",
                path,
            )
        for res, amount in asked.items():
            limit = gpu.pool(res).max_per_container if res in {p.advertised for p in gpu.pools} else None
            count = parse_count(amount)
            if limit is not None and (count is None or count > limit):
                add(f"asks for {amount} {res}; a container may request at most {limit} (shared device)", path)
    return findings


Caps = dict[tuple[str, str], tuple[int, dict]]


def _quota_caps(objects: list[dict], config: Config) -> tuple[Caps, list[Finding]]:
    """{(namespace, resource): (tightest unscoped `requests.<resource>` hard, the quota that sets it)} and
    findings on bad keys."""
    names = gpu_resources(config)
    caps: Caps = {}
    findings: list[Finding] = []
    for obj in objects:
        if obj.get("kind") != "ResourceQuota":
            continue
        ns = str(dig(obj, "metadata", "namespace") or "default")
        hard = dig(obj, "spec", "hard") or {}
        scoped = bool(dig(obj, "spec", "scopeSelector") or dig(obj, "spec", "scopes"))
        for key, amount in hard.items():
            prefix, _, res = str(key).partition(".")
            if res not in names and key in names:
                prefix, res = "", str(key)
            if res not in names:
                continue
            if prefix != "requests":
                findings.append(
                    Finding(
                        "gpu-oversubscription",
                        f"{object_name(obj)}: quota key {key} is accepted but never tracked for the extended "
                        f"resource {res}; use requests.{res}",
                        Severity.MANDATORY,
                        f"spec.hard.{key}",
                    )
                )
                continue
            count = parse_count(amount)
            if count is None:
                findings.append(
                    Finding(
                        "gpu-oversubscription",
                        f"{object_name(obj)}: {key} is {amount!r}, not a whole number of slices",
                        Severity.MANDATORY,
                        f"spec.hard.{key}",
                    )
                )
            elif not scoped and ((ns, res) not in caps or count < caps[(ns, res)][0]):
                caps[(ns, res)] = (count, obj)  # a scoped quota bounds only some pods
    return caps, findings


def gpu_oversubscription(objects: list[dict], config: Config) -> list[Finding]:
    gpu = config.gpu
    caps, findings = _quota_caps(objects, config)
    tenants = {t.namespace: t for t in gpu.tenants}
    for pool in gpu.pools:
        res = pool.advertised
        namespaces = list(tenants) + sorted({ns for ns, r in caps if r == res and ns not in tenants})
        claims = []
        for ns in namespaces:
            share = tenants[ns].pools.get(res) if ns in tenants else None
            reserved = share.reserved if share else 0
            cap, quota = caps.get((ns, res), (None, {}))
            claims.append(Claim(ns, cap, reserved))
            if cap is not None and cap < reserved:
                findings.append(
                    Finding(
                        "gpu-oversubscription",
                        # Named by the quota that sets the cap, so the audit can point at its key.
                        f"{object_name(quota)}: quota requests.{res} is {cap}, below namespace {ns}'s "
                        f"reservation of {reserved}",
                        Severity.MANDATORY,
                        f"spec.hard.requests.{res}",
                    )
                )
        verdict = prove(res, pool.capacity, claims, pool.capacity_detail())
        if not verdict.ok:
            findings.append(
                Finding("gpu-oversubscription", verdict.explain(), Severity.MANDATORY, f"pool {res}")
            )
    return findings


def directive_drift(obj: dict, config: Config) -> list[Finding]:
    if obj.get("kind") != "PriorityClass":
        return []
    name = dig(obj, "metadata", "name")
    wanted = next((pc for pc in config.gpu.priority_classes if pc.name == name), None)
    if wanted is None:
        return []
    directive = DIRECTIVE_PRIORITY_CLASSES.get(wanted.name)
    source = (
        "the directive (Phase 2)" if directive == (wanted.value, wanted.description) else "the stack config"
    )
    findings = []
    for field, want in (
        ("value", wanted.value),
        ("description", wanted.description),
        ("globalDefault", False),
    ):
        have = obj.get(field, False if field == "globalDefault" else None)
        if have != want:
            findings.append(
                Finding(
                    "directive-drift",
                    f"{object_name(obj)}: {field} is {have!r}; {source} sets {want!r}",
                    Severity.ADVISORY,
                    field,
                )
            )
    return findings
