"""The day a run judges against, read once at each entry point and passed down (never read in a rule).

`K3S_HOME_TODAY` (an ISO date) pins it: the driver sets it from its own read, so the program, the policy
pack and the gate it starts all judge on the same day even across midnight, and tests pin the day of the
subprocesses they start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from datetime import date

from . import ConfigError

TODAY_ENV = "K3S_HOME_TODAY"


def today(environ: Mapping[str, str] = os.environ) -> date:
    """The pinned day, else the machine's: the project's one wall-clock read."""
    pinned = environ.get(TODAY_ENV)
    if not pinned:
        return date.today()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ConfigError(f"{TODAY_ENV}: '{pinned}' is not a date (YYYY-MM-DD)") from None


def pin(environ: MutableMapping[str, str] = os.environ) -> date:
    """Read the day once and pin it for every process this run starts (the program, the pack)."""
    day = today(environ)
    environ[TODAY_ENV] = day.isoformat()
    return day
