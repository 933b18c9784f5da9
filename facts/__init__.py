"""The cluster as its Flux repo says it is: derived by `make facts`, committed as `facts/k3s-home.yaml`.

The lowest layer: it imports nothing else of the project. `load()` is the one reader of the committed
file; `K3S_HOME_FACTS` points it at another facts file (a test's cluster that differs from the real one).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import yaml

from facts.model import Facts

COMMITTED = Path(__file__).with_name("k3s-home.yaml")
ENV = "K3S_HOME_FACTS"
FIX = "run make facts FLUX_REPO=DIR"


class FactsError(Exception):
    """The facts file is missing or does not match the model. The message names the file and the fix."""


def path() -> Path:
    return Path(os.environ.get(ENV) or COMMITTED)


@functools.cache
def _load(file: Path) -> Facts:
    try:
        # libyaml when present: every config validation reads the facts (ADR 0024), 0.2 s in pure Python.
        raw = yaml.load(file.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except OSError as e:
        raise FactsError(
            f"{file}: cannot read the cluster facts ({e.strerror}); run make facts FLUX_REPO=DIR"
        ) from e
    try:
        return Facts.model_validate(raw)
    except ValueError as e:
        first = str(e).splitlines()[1:2] or [str(e)]
        raise FactsError(
            f"{file}: not a facts file ({first[0].strip()}); run make facts FLUX_REPO=DIR"
        ) from e


def load() -> Facts:
    """The cluster facts (the committed file, or $K3S_HOME_FACTS). Cached per file."""
    return _load(path().resolve())
