"""Shared base for every config model: strict, immutable, camelCase keys as written in stack config."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, ValidationInfo
from pydantic.alias_generators import to_camel

import facts
from facts.model import Facts

# RFC 1123 label: namespaces and most object names.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# RFC 1123 subdomain: PersistentVolume and PVC names.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def first_duplicate(names: list[str]) -> str | None:
    """The first name listed more than once, else None (for "defined twice" errors)."""
    return next((n for n in names if names.count(n) > 1), None)


def judging_day(info: ValidationInfo) -> date:
    """The day a validation judges against, from its context; a caller that gives none is a bug, not a
    config error, so it is a TypeError (pydantic passes it through) rather than a silent wall-clock read."""
    day = (info.context or {}).get("today")
    if not isinstance(day, date):
        raise TypeError("stack config validated without a day: pass today= (components.config.clock)")
    return day


def judging_facts(info: ValidationInfo) -> Facts:
    """The cluster facts a validation judges against: those `load` put in the context, so every section
    of one config is judged against the same facts; else the committed ones (a section validated alone)."""
    given = (info.context or {}).get("facts")
    return given if given is not None else facts.load()


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


def release_ref(v: str) -> str:
    parts = v.split("/")
    if len(parts) != 2 or not all(DNS_LABEL.match(p) for p in parts):
        raise ValueError(f"'{v}' must be namespace/name of a HelmRelease")
    return v


def pinned_image(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    if "@sha256:" not in image and (":" not in tail or tail.endswith(":latest")):
        raise ValueError(f"'{image}' must be pinned (a tag other than latest, or a digest)")
    return image


class KeyedValueError(ValueError):
    """A validation error about a key below the model that raises it: `key` (camelCase names and list
    indexes, e.g. `("nodes", 1, "liveConfig")`) is appended to the error's location, so a check that
    needs several fields still names the exact key."""

    def __init__(self, key: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.key = key
