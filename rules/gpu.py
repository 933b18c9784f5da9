"""GPU rules (directive Phase 2, prohibition 5) as pure functions over Kubernetes object dicts.

- gpu-priority-class: who may hold GPU slices and GPU classes, cluster-wide (ADR 0017). Its clauses and
  the API server's (components.gpu.admission, the quotas and the admission configuration) are one rule in
  two runtimes; tests/integration/test_gpu_differential.py proves they agree on generated pods.
- gpu-oversubscription: the stack's GPU ResourceQuotas fit the pools (rules.gpu_capacity.prove,
  the same arithmetic as the config model's proof); `limits.<gpu>` quota keys are never tracked.
- directive-drift: the GPU PriorityClasses keep the values the directive (via the stack config) sets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rules.directive import PRIORITY_CLASS_DESCRIPTIONS, PRIORITY_CLASS_VALUES
from rules.gpu_capacity import Claim, parse_count, prove

from . import Config, Finding, Severity, object_name
from .walk import dig, helm_values, pod_spec

# Directive Phase 2, verbatim (rules/directive.py cites each line). The stack config may depart from it only
# under a waiver naming the line; `directive_drift` below judges live objects against the directive.
DIRECTIVE_PRIORITY_CLASSES: dict[str, tuple[int, str]] = {
    name: (PRIORITY_CLASS_VALUES[name].value, PRIORITY_CLASS_DESCRIPTIONS[name].value)
    for name in PRIORITY_CLASS_VALUES
}
# Names GPU device plugins register, besides whatever the pools advertise: a pod asking for one of them is
# a GPU consumer too (refused outside the tenants, and inside them unless it is a pool the tenant shares).
KNOWN_GPU_RESOURCES = ("nvidia.com/gpu", "nvidia.com/gpu.shared", "gpu.intel.com/i915", "amd.com/gpu")


def resource_names(pools: list[str]) -> list[str]:
    """Every GPU resource name the rule, the CEL and the admission configuration watch: pools, then known."""
    return pools + [r for r in KNOWN_GPU_RESOURCES if r not in pools]


def gpu_resources(config: Config) -> list[str]:
    return resource_names([p.advertised for p in config.gpu.pools])


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


@dataclass(frozen=True)
class Consumer:
    """A container (or a Helm values `resources` block) asking for GPU resources."""

    path: str
    asked: dict[str, Any]  # {gpu resource: amount}
    cls: str | None  # the priorityClassName that governs it
    kind: str  # containers | initContainers | ephemeralContainers | values
    sidecar: bool = False  # an init container with restartPolicy Always runs beside the app containers


def _consumers(obj: dict, names: list[str]) -> Iterator[Consumer]:
    """Every GPU-requesting container of obj (or `resources` block of its Helm values)."""
    found = pod_spec(obj)
    if found:
        base, spec = found
        cls = spec.get("priorityClassName") or None
        for kind in ("initContainers", "containers", "ephemeralContainers"):
            for i, c in enumerate(spec.get(kind) or []):
                if not isinstance(c, dict):
                    continue
                asked = _requested(c.get("resources"), names)
                if asked:
                    sidecar = kind == "initContainers" and c.get("restartPolicy") == "Always"
                    yield Consumer(f"{base}.{kind}[{i}].resources", asked, cls, kind, sidecar)
        return
    values = helm_values(obj)
    if values is None:
        return
    for keys, node in _keys_walk(values):
        if keys and keys[-1] == "resources":
            asked = _requested(node, names)
            if asked:
                yield Consumer(
                    f"spec.values.{_dotted(keys)}", asked, _values_class(values, keys[:-1]), "values"
                )


def pod_requests(consumers: list[Consumer], resource: str) -> int | None:
    """What ResourceQuota charges a pod for `resource` (k8s.io/component-helpers resource.PodRequests):
    the app containers and sidecars together, or the largest init container plus the sidecars started
    before it, whichever is larger. None when an amount is not a whole number."""
    counts = [parse_count(c.asked.get(resource, 0)) for c in consumers]
    if None in counts:
        return None
    total = sidecars = init_peak = 0
    for c, n in zip(consumers, counts, strict=True):
        n = n or 0
        if c.kind == "containers":
            total += n
        elif c.kind == "initContainers" and c.sidecar:
            sidecars += n
            total += n
            init_peak = max(init_peak, sidecars)
        elif c.kind == "initContainers":
            init_peak = max(init_peak, n + sidecars)
    return max(total, init_peak)


def _clauses(obj: dict, config: Config) -> list[tuple[int, Finding]]:
    """Who may hold GPU slices and GPU classes, anywhere in the cluster. Clauses (ADR 0017):

    1. a GPU PriorityClass only in the namespaces of the tenants it belongs to;
    2. GPU resources only in tenant namespaces;
    3. there, only with the tenant's own class (the globalDefault filled in by admission does not count);
    4. there, only pools the tenant has a share of;
    5. per container, at most the pool's per-container limit;
    6. per pod, at most the tenant's quota (what the ResourceQuota charges an empty namespace);
    7. never in an ephemeral container (Kubernetes refuses resources there).
    """
    gpu = config.gpu
    names = gpu_resources(config)
    pools = {p.advertised: p for p in gpu.pools}
    tenants = {t.namespace: t for t in gpu.tenants}
    entitled = {
        pc.name: [t.namespace for t in gpu.tenants if t.priority_class_name == pc.name]
        for pc in gpu.priority_classes
    }
    ns = _namespace(obj)
    tenant = tenants.get(ns)
    who = object_name(obj)
    findings: list[tuple[int, Finding]] = []

    def add(clause: int, message: str, path: str) -> None:
        findings.append(
            (clause, Finding("gpu-priority-class", f"{who}: {message}", Severity.MANDATORY, path))
        )

    found = pod_spec(obj)
    if found:
        cls = found[1].get("priorityClassName")
        if cls in entitled and ns not in entitled[cls]:
            add(
                1,
                f"priorityClassName {cls} is reserved for GPU tenant(s) "
                f"{', '.join(entitled[cls]) or 'none'}, not namespace {ns}",
                f"{found[0]}.priorityClassName",
            )
    consumers = list(_consumers(obj, names))
    for c in consumers:
        listing = ", ".join(f"{k}={v}" for k, v in c.asked.items())
        if c.kind == "ephemeralContainers":
            add(7, f"an ephemeral container asks for {listing}; Kubernetes allows no resources there", c.path)
            continue
        if tenant is None:
            add(
                2,
                f"requests {listing} in namespace {ns}, which is no GPU tenant ({', '.join(tenants)}); "
                "its slices would sit outside every quota and the capacity proof",
                c.path,
            )
            continue
        if c.cls != tenant.priority_class_name:
            add(
                3,
                f"requests {listing} in GPU tenant namespace {ns} and must set priorityClassName: "
                f"{tenant.priority_class_name} (it has {c.cls or 'none'}; "
                "the cluster's globalDefault would not do)",
                c.path,
            )
        for res, amount in c.asked.items():
            if res not in pools:
                add(4, f"asks for {res}, which is no GPU pool of this cluster ({', '.join(pools)})", c.path)
            elif res not in tenant.pools or tenant.pools[res].cap == 0:
                add(
                    4, f"asks for {res}; tenant {ns} has no share of that pool (k3s-home:gpu.tenants)", c.path
                )
            else:
                limit, count = pools[res].max_per_container, parse_count(amount)
                if count is None or count > limit:
                    add(
                        5,
                        f"asks for {amount} {res}; a container may request at most {limit} (shared device)",
                        c.path,
                    )
    if found and tenant is not None:
        for res, share in tenant.pools.items():
            if share.cap == 0:
                continue  # no share at all: said above
            total = pod_requests([c for c in consumers if c.kind != "ephemeralContainers"], res)
            if total is not None and total > share.cap:
                add(
                    6,
                    f"the pod asks for {total} {res} in all; the quota of namespace {ns} allows {share.cap}",
                    f"{found[0]}",
                )
    return findings


def gpu_priority_class(obj: dict, config: Config) -> list[Finding]:
    """Every clause of the rule (see _clauses): what the audit, the policy pack and the components judge."""
    return [finding for _, finding in _clauses(obj, config)]


# The clauses the ValidatingAdmissionPolicy (components.gpu.admission) refuses; 6 is the quotas', 7 pod
# validation's, and neither depends on the binding's validationActions.
POLICY_CLAUSES = frozenset({1, 2, 3, 4, 5})


def admission_refusals(obj: dict, config: Config) -> list[Finding]:
    """What the stack's ValidatingAdmissionPolicy would refuse in a pod made from obj (a Pod, a pod
    template, or Helm values): the clauses its CEL holds, the same judgement in Python (ADR 0030)."""
    return [finding for clause, finding in _clauses(obj, config) if clause in POLICY_CLAUSES]


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
    """A GPU PriorityClass judged against the directive's own values (rules/directive.py), never against
    the stack config: a config that departs from the directive does so under a waiver, named here."""
    if obj.get("kind") != "PriorityClass":
        return []
    name = dig(obj, "metadata", "name")
    if name not in PRIORITY_CLASS_VALUES:
        return []
    index = next((i for i, pc in enumerate(config.gpu.priority_classes) if pc.name == name), None)
    waivers = {w.key: w for w in config.cluster.waivers}
    findings = []
    for field, expected in (
        ("value", PRIORITY_CLASS_VALUES[name]),
        ("description", PRIORITY_CLASS_DESCRIPTIONS[name]),
        ("globalDefault", None),
    ):
        want = False if expected is None else expected.value
        have = obj.get(field, False if field == "globalDefault" else None)
        if have == want:
            continue
        source = f"the directive (Phase 2, {expected.source})" if expected else "the directive (Phase 2)"
        waiver = waivers.get(f"gpu.priorityClasses[{index}].{field}") if index is not None else None
        waived = f"; waived ({waiver.directive}, approved by {waiver.approved_by})" if waiver else ""
        findings.append(
            Finding(
                "directive-drift",
                f"{object_name(obj)}: {field} is {have!r}; {source} sets {want!r}{waived}",
                Severity.ADVISORY,
                field,
            )
        )
    return findings
