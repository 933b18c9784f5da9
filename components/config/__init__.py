"""The typed stack configuration: the single source every component, doc and check reads.

`load(raw, today=...)` validates the whole `k3s-home:*` namespace before any resource is registered
and raises `ConfigError` with one line naming the key and the reason. `today` is the day the config is
judged on (stability dates, the MFA window); entry points read it once (`clock.today`) and pass it in.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import PrivateAttr, ValidationError, ValidationInfo, model_validator

import facts as cluster_facts
from facts.model import Facts

from . import contradictions
from .authentik import AuthentikConfig
from .base import KeyedValueError, Model, judging_day
from .cluster import ClusterConfig
from .control_plane import ControlPlaneConfig
from .gpu import GpuConfig
from .secrets import SecretsConfig
from .storage import StorageConfig

NAMESPACE = "k3s-home"
SECTIONS = ("cluster", "secrets", "gpu", "storage", "authentik", "controlPlane")


class StackConfig(Model):
    cluster: ClusterConfig
    secrets: SecretsConfig
    gpu: GpuConfig
    storage: StorageConfig
    authentik: AuthentikConfig
    control_plane: ControlPlaneConfig
    _judged_on: date = PrivateAttr()

    _facts: Facts | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_day(self, info: ValidationInfo) -> StackConfig:
        self._judged_on = judging_day(info)
        return self

    @model_validator(mode="after")
    def _against_facts_and_directive(self, info: ValidationInfo) -> StackConfig:
        facts = (info.context or {}).get("facts")
        if facts is not None:
            contradictions.check(self, facts)
            self._facts = facts
        return self

    def applied_files(self) -> frozenset[str]:
        """The repo files whose objects Flux applies, per the facts this config was judged against."""
        if self._facts is None:
            return frozenset()
        return frozenset(o.source.rsplit(":", 1)[0] for o in self._facts.objects)

    def departures_in_effect(self) -> list[str]:
        """The departures from the facts and waivers of the directive this config uses, one line each."""
        return contradictions.in_effect(self, self._facts) if self._facts else []

    @property
    def judged_on(self) -> date:
        """The day this config was validated against; the rules judge on the same day."""
        return self._judged_on


class ConfigError(ValueError):
    """Invalid stack configuration; `str()` is one line: `k3s-home:<key>: <reason>`."""


def _key(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        elif item not in ("function-after", "function-before"):
            parts.append(str(item))
    head, *rest = parts or ["<root>"]
    return f"{NAMESPACE}:{head}" + "".join(f".{p}" for p in rest)


def format_error(err: ValidationError) -> str:
    first = err.errors(include_url=False)[0]
    reason = str(first["msg"]).removeprefix("Value error, ")
    more = len(err.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    cause = (first.get("ctx") or {}).get("error")
    sub = cause.key if isinstance(cause, KeyedValueError) else ()
    return f"{_key((*first['loc'], *sub))}: {reason}{suffix}"


def load(raw: dict[str, Any], *, today: date, facts: Facts | None = None) -> StackConfig:
    """Validate raw stack config (keys without the `k3s-home:` prefix), judged on the day `today` and
    against the cluster's facts (`facts`, else the committed facts/k3s-home.yaml or $K3S_HOME_FACTS)."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{NAMESPACE}:{unknown[0]}: unknown key; expected one of {', '.join(SECTIONS)}")
    try:
        known = facts or cluster_facts.load()
    except cluster_facts.FactsError as err:
        raise ConfigError(str(err)) from None
    try:
        return StackConfig.model_validate(raw, context={"today": today, "facts": known})
    except ValidationError as err:
        raise ConfigError(format_error(err)) from None


def load_stack_file(path: str | Path, *, today: date) -> StackConfig:
    """Validate a `Pulumi.<stack>.yaml` file without the engine (docs generation, tests, audit, the gate).

    A file that is not YAML, or not the shape of a stack file, is a ConfigError of one line too."""
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not YAML"
        raise ConfigError(f"{path}{where}: {problem} (the stack file is not valid YAML)") from None
    doc = {} if doc is None else doc
    if not isinstance(doc, dict) or not isinstance(doc.get("config") or {}, dict):
        raise ConfigError(f"{path}: a stack file is a mapping with a `config:` mapping of keys")
    prefix = f"{NAMESPACE}:"
    config = doc.get("config") or {}
    foreign = sorted(k for k in config if not str(k).startswith(prefix) and ":" not in str(k))
    if foreign:
        raise ConfigError(f"{NAMESPACE}:{foreign[0]}: unknown key (stack config keys are {prefix}<section>)")
    return load(
        {k.removeprefix(prefix): v for k, v in config.items() if str(k).startswith(prefix)}, today=today
    )


def _value(text: Any) -> Any:
    """A config value as the engine hands it over: JSON for objects, else the plain string."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def from_pulumi(*, today: date) -> StackConfig:
    """Read every `k3s-home:*` key of the current stack's config and validate it: a stray key (say
    `pulumi config set k3s-home:gpuu ...`) is an error, not silently ignored."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{NAMESPACE}:"
    keys = {*runtime_config.CONFIG.get(), *runtime_config.get_config_env()}
    return load(
        {
            key.removeprefix(prefix): _value(runtime_config.get_config(key))
            for key in sorted(keys)
            if key.startswith(prefix)
        },
        today=today,
    )


__all__ = ["ConfigError", "StackConfig", "format_error", "from_pulumi", "load", "load_stack_file"]
