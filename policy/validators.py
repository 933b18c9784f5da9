"""CrossGuard adapters: one policy per directive rule, each a thin shell over `rules.registry`.

Importing this module is safe (it builds Policy objects, never a PolicyPack); `policy/__main__.py` is
the only place that constructs the pack, because constructing it starts a server and blocks.

What an adapter does, and nothing more:
1. turn `args.props` (pulumi_kubernetes inputs, camelCase, with apiVersion/kind/metadata) into the
   plain object dict the rules take, noting which values were Pulumi secrets and which are unknown;
2. load the stack config (`Pulumi.k3s-home.yaml` beside the project, or the policy config's
   `stackConfig`, plus `overrides`), validated by the same model the program uses;
3. run the rules and report the findings carrying its rule id.

Unknown values (preview, before a dependency exists): a finding on an object with unknowns is not
trusted; the adapter raises UnknownValueError, which the engine reports as an advisory "can't run
during preview". The same policy runs again at `up`, when every input is known.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import policy as _sdk
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, _deserialize_property
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _DictProxy, _is_unknown, _ListProxy

if TYPE_CHECKING:
    from components.config import StackConfig
from rules import Finding, Severity
from rules.adoption import as_live
from rules.registry import (
    ADVISORY_SUFFIX,
    OBJECT_RULE_IDS,
    RULE_DOCS,
    STACK_RULE_IDS,
    check_object,
    check_stack,
)
from rules.type_token import is_api_object, kubernetes_kind

PACK_NAME = "k3s-home-directive"
PACK_DIR = Path(__file__).resolve().parent
DEFAULT_STACK_CONFIG = PACK_DIR.parent / "Pulumi.k3s-home.yaml"
# The stack file being previewed, when it is a variant (the driver exports it to the engine and the pack).
STACK_CONFIG_ENV = "K3S_HOME_STACK_CONFIG"
UNKNOWN = "<unknown during preview>"

# Every policy takes these: where the stack config lives, and a partial stack config merged over it
# (same keys as the stack file, without the `k3s-home:` prefix), e.g. {"storage": {...}}.
CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "stackConfig": {
            "type": "string",
            "description": "Stack config file, relative to the policy pack (default ../Pulumi.k3s-home.yaml)",
        },
        "overrides": {
            "type": "object",
            "description": "Partial stack config merged over the file, keyed by section (storage, ...)",
        },
    }
)


# --- props -> object ------------------------------------------------------------------------------


@dataclass
class Converted:
    obj: dict
    secret_paths: set[str] = field(default_factory=set)  # dotted paths whose value was a Pulumi secret
    unknown_paths: list[str] = field(default_factory=list)

    def is_secret(self, path: str) -> bool:
        """True when the value at `path`, or any value containing it, was a secret output."""
        parts = path.split(".")
        return any(".".join(parts[:i]) in self.secret_paths for i in range(1, len(parts) + 1))


def _plain(value: Any, path: str, out: Converted) -> Any:
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, Secret):
        out.secret_paths.add(path)
        return _plain(value.value, path, out)
    if _is_unknown(value):
        out.unknown_paths.append(path)
        return UNKNOWN
    if isinstance(value, Mapping):
        return {k: _plain(v, f"{path}.{k}" if path else str(k), out) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]", out) for i, v in enumerate(value)]
    return value


def to_object(resource_type: str, props: Mapping[str, Any]) -> Converted | None:
    """The Kubernetes object a resource declares, or None when the rules have nothing to say about it."""
    parts = kubernetes_kind(resource_type)
    if parts is None:
        return None
    out = Converted({})
    plain = _plain(props, "", out)
    if not isinstance(plain, dict):
        return None
    group_version, kind = parts
    if group_version == "helm.sh/v3" and kind == "Release":
        # A Helm release managed by Pulumi gets the same values checks as a Flux HelmRelease.
        out.obj = {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": plain.get("name"), "namespace": plain.get("namespace")},
            "spec": {"chart": plain.get("chart"), "values": plain.get("values") or {}},
        }
        out.secret_paths = {
            p.replace("values", "spec.values", 1) for p in out.secret_paths if p.startswith("values")
        }
        out.unknown_paths = [p.replace("values", "spec.values", 1) for p in out.unknown_paths]
        return out
    if not is_api_object(group_version, kind):
        # List types, and Chart/ConfigGroup/Directory components: their children are checked one by one.
        return None
    plain.setdefault("apiVersion", group_version)
    plain.setdefault("kind", kind.removesuffix("Patch"))
    out.obj = plain
    return out


# --- stack config -----------------------------------------------------------------------------------


def _merge(base: dict, over: Mapping[str, Any]) -> dict:
    """Overrides replace keys within a section (`{"storage": {"approvedClasses": [...]}}` replaces that
    list and keeps the rest of storage); merging any deeper would make maps such as matchLabels grow."""
    merged = dict(base)
    for section, values in over.items():
        current = merged.get(section)
        merged[section] = (
            {**current, **values} if isinstance(values, Mapping) and isinstance(current, dict) else values
        )
    return merged


@functools.cache
def pack_day() -> date:
    """The day the pack judges on, read once per analyzer process (the driver pins it: K3S_HOME_TODAY)."""
    from components.config import clock

    return clock.today()


@functools.lru_cache(maxsize=8)
def _load_config(path: str, overrides_json: str) -> StackConfig:
    # The pydantic model is imported on first use, not when the analyzer starts: the engine waits for the
    # pack's start before it runs the program, while the first validation overlaps the program's run.
    from components.config import NAMESPACE, load

    doc = yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader) or {}
    prefix = f"{NAMESPACE}:"
    raw = {k.removeprefix(prefix): v for k, v in (doc.get("config") or {}).items() if k.startswith(prefix)}
    return load(_merge(raw, json.loads(overrides_json)), today=pack_day())


def warm_up() -> threading.Thread:
    """Loads the default stack config on a background thread while the engine starts the program, so the
    first Analyze does not wait for the pydantic import and validation (about 0.2 s). A bad config is left
    for the first validation to report, in its one-line form."""

    def load_quietly() -> None:
        with contextlib.suppress(Exception):
            stack_config({})

    thread = threading.Thread(target=load_quietly, name="k3s-home-config-warm-up", daemon=True)
    thread.start()
    return thread


def stack_config(policy_config: Mapping[str, Any]) -> StackConfig:
    """The validated stack config for one policy's configuration (raises ConfigError with one line)."""
    given = policy_config.get("stackConfig")
    variant = os.environ.get(STACK_CONFIG_ENV)
    path = (PACK_DIR / given) if given else Path(variant) if variant else DEFAULT_STACK_CONFIG
    overrides = policy_config.get("overrides") or {}
    return _load_config(str(path.resolve()), json.dumps(overrides, sort_keys=True, default=str))


# --- adapters -----------------------------------------------------------------------------------------


def _wanted(findings: list[Finding], rule_id: str, severity: Severity) -> list[Finding]:
    return [f for f in findings if f.rule == rule_id and f.severity is severity]


def _report(findings: list[Finding], unknowns: list[str], report: ReportViolation, urn: str | None = None):
    if findings and unknowns:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, unknowns[0].split("."))
    for finding in findings:
        where = f" (at {finding.path})" if finding.path else ""
        report(f"{finding.message}{where}", urn)


def object_validator(
    rule_id: str, severity: Severity
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        evaluated = _evaluate(args)
        if evaluated is not None:
            converted, findings = evaluated
            _report(_wanted(findings, rule_id, severity), converted.unknown_paths, report)

    return validate


# --- one evaluation per request -------------------------------------------------------------------------
# The analyzer's Analyze runs each of the ~20 resource policies in turn over the same request, and each
# would convert the props and run every rule again. `install_shared_evaluation` wraps Analyze with a
# per-request memo (thread-local: the analyzer serves requests from a thread pool): the first policy
# evaluates, the others read its result. Outside Analyze (stack policies, tests) nothing is memoized.
_request = threading.local()


def _evaluate(args: ResourceValidationArgs) -> tuple[Converted, list[Finding]] | None:
    """The object a resource declares and every rule's findings on it; None when no rule applies."""
    memo: dict[str, Any] | None = getattr(_request, "evaluated", None)
    config = args.get_config()
    # Within one request only the policy's own config can differ between policies.
    key = json.dumps(config, sort_keys=True, default=str)
    if memo is not None and key in memo:
        return memo[key]
    converted = to_object(args.resource_type, args.props)
    result = None
    if converted is not None:
        cfg = stack_config(config)
        result = converted, check_object(converted.obj, cfg, is_secret=converted.is_secret)
    if memo is not None:
        memo[key] = result
    return result


class _PerRequestJsonFormat:
    """`json_format` as the SDK's analyzer module sees it: inside Analyze, MessageToDict of the same message
    (the request's properties, the provider's) is computed once and shared by every policy."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        memo: dict[int, tuple[Any, Any]] | None = getattr(_request, "dicts", None)
        if memo is None or args or kwargs:
            return self._real.MessageToDict(message, *args, **kwargs)
        hit = memo.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        result = self._real.MessageToDict(message)
        memo[id(message)] = (message, result)  # keeps `message` alive, so its id stays unique
        return result


def _shared_proxy(deserialized: Any) -> Any:
    """unknown_checking_proxy once per deserialized request (the same dict object every policy gets)."""
    memo: dict[int, tuple[Any, Any]] | None = getattr(_request, "proxies", None)
    if memo is None:
        return _ORIGINAL_PROXY(deserialized)
    hit = memo.get(id(deserialized))
    if hit is None or hit[0] is not deserialized:
        hit = memo[id(deserialized)] = (deserialized, _ORIGINAL_PROXY(deserialized))
    return hit[1]


def install_shared_evaluation() -> None:
    """Evaluate each resource once per Analyze request, whatever the number of policies: the SDK's
    per-policy MessageToDict, deserialization and unknown-checking proxy, then our conversion and rules.
    Called by the pack before it starts, like install_secret_markers."""
    servicer = getattr(_sdk, "_PolicyAnalyzerServicer", None)
    analyze = getattr(servicer, "Analyze", None)
    for name, found in (
        ("_PolicyAnalyzerServicer.Analyze", analyze),
        ("json_format", getattr(_sdk, "json_format", None)),
        ("unknown_checking_proxy", getattr(_sdk, "unknown_checking_proxy", None)),
    ):
        if found is None:
            raise RuntimeError(f"pulumi_policy.policy.{name} is gone; update policy/validators.py")
    if getattr(analyze, "shares_evaluation", False):
        return

    @functools.wraps(analyze)
    def shared(self, request, context):
        _request.evaluated, _request.deserialized, _request.dicts, _request.proxies = {}, [], {}, {}
        try:
            return analyze(self, request, context)
        finally:
            _request.evaluated = _request.deserialized = _request.dicts = _request.proxies = None

    shared.shares_evaluation = True  # type: ignore[attr-defined]
    servicer.Analyze = shared  # type: ignore[union-attr]
    if not isinstance(_sdk.json_format, _PerRequestJsonFormat):
        _sdk.json_format = _PerRequestJsonFormat(_sdk.json_format)
    _sdk.unknown_checking_proxy = _shared_proxy


def stack_validator(
    rule_id: str, severity: Severity
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        from components.gpu.render import flux_kept_objects  # on first use, like the config model

        pairs = [(r, c) for r in args.resources if (c := to_object(r.resource_type, r.props)) is not None]
        converted = [c for _, c in pairs]
        cfg = stack_config(args.get_config())
        adopted = [c.obj for r, c in pairs if _adopted_as_live(r)]
        registered = {_key(c.obj) for c in converted}
        kept = [o for o in flux_kept_objects(cfg) if _key(o) not in registered]  # ADR 0029
        findings = as_live(check_stack([c.obj for c in converted] + kept, cfg), adopted)
        _report(_wanted(findings, rule_id, severity), [p for c in converted for p in c.unknown_paths], report)

    return validate


def _key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def _adopted_as_live(resource: Any) -> bool:
    """Registered by components.resources.adoption: every input ignored, so the live object stays."""
    ignored = set(getattr(getattr(resource, "opts", None), "ignore_changes", None) or [])
    return {"metadata", "spec"} <= ignored


def _description(rule_id: str) -> str:
    return f"{RULE_DOCS[rule_id]} (rule {rule_id})"


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """Every rule id as a mandatory policy, plus an advisory twin `<id>-advisory` for its advisories.

    CrossGuard fixes the enforcement level per policy, while a rule may report both kinds (a Secret in
    plaintext is mandatory, a password in a ConfigMap advisory); the twin keeps the levels honest.
    """
    out: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule_id in sorted(OBJECT_RULE_IDS):
        for severity, name, level in _levels(rule_id):
            out.append(
                ResourceValidationPolicy(
                    name=name,
                    description=_description(rule_id),
                    validate=object_validator(rule_id, severity),
                    enforcement_level=level,
                    config_schema=CONFIG_SCHEMA,
                )
            )
    for rule_id in sorted(STACK_RULE_IDS):
        for severity, name, level in _levels(rule_id):
            out.append(
                StackValidationPolicy(
                    name=name,
                    description=_description(rule_id),
                    validate=stack_validator(rule_id, severity),
                    enforcement_level=level,
                    config_schema=CONFIG_SCHEMA,
                )
            )
    return out


def _levels(rule_id: str):
    yield Severity.MANDATORY, rule_id, EnforcementLevel.MANDATORY
    yield Severity.ADVISORY, rule_id + ADVISORY_SUFFIX, EnforcementLevel.ADVISORY


# --- secret markers ---------------------------------------------------------------------------------


def deserialize_marking_secrets(props: dict[str, Any], proxy_secrets: bool = False) -> dict[str, Any]:
    """pulumi_policy's deserializer, except that secrets stay wrapped in `Secret` for validations too.

    The engine sends secret markers to the analyzer, but the SDK unwraps them before a validation sees
    the props; the secret-plaintext policy needs to know which Secret values were secret outputs.
    Remediations (proxy_secrets=True) keep the SDK's own behaviour.
    """
    if proxy_secrets:
        return _ORIGINAL_DESERIALIZE(props, True)
    # Inside Analyze the SDK deserializes the same request once per policy: reuse the first result.
    seen: list[tuple[dict, dict]] | None = getattr(_request, "deserialized", None)
    for given, result in seen or ():
        if given is props or given == props:
            return result
    result = {key: _marking(value) for key, value in props.items()}
    if seen is not None:
        seen.append((props, result))
    return result


def _marking(prop: Any) -> Any:
    if isinstance(prop, list):
        return [_marking(e) for e in prop]
    if isinstance(prop, dict):
        if prop.get(SPECIAL_SIG_KEY) == SPECIAL_SECRET_SIG:
            return Secret(_marking(prop.get("value")))
        if SPECIAL_SIG_KEY in prop:  # assets and archives: the SDK's own handling
            return _deserialize_property(prop, False)
        return {key: _marking(value) for key, value in prop.items()}
    return prop


_ORIGINAL_DESERIALIZE = _sdk.deserialize_properties
_ORIGINAL_PROXY = _sdk.unknown_checking_proxy


def install_secret_markers() -> None:
    """Make the analyzer hand validations `Secret`-wrapped values. Called by the pack before it starts."""
    if not callable(getattr(_sdk, "deserialize_properties", None)):
        raise RuntimeError("pulumi_policy.policy.deserialize_properties is gone; update policy/validators.py")
    _sdk.deserialize_properties = deserialize_marking_secrets
