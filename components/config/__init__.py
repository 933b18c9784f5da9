"""The typed stack configuration: the single source every component, doc and check reads.

`load(raw)` validates the whole `k3s-home:*` namespace before any resource is registered and
raises `ConfigError` with one line naming the key and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .authentik import AuthentikConfig
from .base import KeyedValueError, Model
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


def load(raw: dict[str, Any]) -> StackConfig:
    """Validate raw stack config (keys without the `k3s-home:` prefix)."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{NAMESPACE}:{unknown[0]}: unknown key; expected one of {', '.join(SECTIONS)}")
    try:
        return StackConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(format_error(err)) from None


def load_stack_file(path: str | Path) -> StackConfig:
    """Validate a `Pulumi.<stack>.yaml` file without the engine (docs generation, tests, audit)."""
    doc = yaml.load(Path(path).read_text(), Loader=yaml.CSafeLoader) or {}  # libyaml, not pure Python
    prefix = f"{NAMESPACE}:"
    raw = {k.removeprefix(prefix): v for k, v in (doc.get("config") or {}).items() if k.startswith(prefix)}
    return load(raw)


def from_pulumi() -> StackConfig:
    """Read every section from the current stack's config and validate it."""
    import pulumi

    cfg = pulumi.Config(NAMESPACE)
    raw = {key: cfg.get_object(key) for key in SECTIONS}
    return load({k: v for k, v in raw.items() if v is not None})


__all__ = ["ConfigError", "StackConfig", "format_error", "from_pulumi", "load", "load_stack_file"]
