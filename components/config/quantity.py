"""Kubernetes storage quantities (`50Gi`) as bytes, for sizes in the storage section."""

from __future__ import annotations

import re

QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")
UNITS = {
    None: 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
}  # fmt: skip


def parse_quantity(text: str) -> int:
    """Bytes of a Kubernetes storage quantity such as `50Gi`; ValueError when it is not one."""
    m = QUANTITY.match(str(text))
    if not m:
        raise ValueError(f"'{text}' is not a storage quantity such as 10Gi or 500Mi")
    return int(m.group(1)) * UNITS[m.group(2)]


def quantity(v: str) -> str:
    if parse_quantity(v) <= 0:
        raise ValueError(f"size {v} must be positive")
    return v
