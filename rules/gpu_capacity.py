"""GPU capacity arithmetic, written once: the config model's proof and the policy rule both call `prove`.

A tenant commits `max(cap, reserved)` slices of a pool: its quota ceiling, raised to its reservation
(a quota below the reservation could never let the reservation be used). A pool is safe when the
commitments of every tenant add up to at most its capacity. Then no mix of usage within the quotas
exceeds the pool and every reservation is still free when its tenant asks for it. This is stricter
than "caps of unreserved tenants + reservations", which breaks as soon as a reserved tenant may
burst above its reservation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Claim:
    tenant: str  # namespace
    cap: int | None  # quota ceiling on the pool; None = no quota bounds it
    reserved: int = 0

    @property
    def commitment(self) -> int | None:
        return None if self.cap is None else max(self.cap, self.reserved)

    def describe(self) -> str:
        if self.cap is None:
            return f"{self.tenant} unbounded (no quota)"
        if self.reserved and self.reserved >= self.cap:
            return f"{self.tenant} reserved {self.reserved}"
        if self.reserved:
            return f"{self.tenant} max {self.cap} (reserved {self.reserved})"
        return f"{self.tenant} max {self.cap}"


@dataclass(frozen=True)
class Verdict:
    pool: str
    capacity: int
    claims: tuple[Claim, ...]
    detail: str = ""  # how the capacity comes about, e.g. "4 devices x 4 replicas on k3s3"

    @property
    def committed(self) -> int | None:
        parts = [c.commitment for c in self.claims]
        return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)

    @property
    def ok(self) -> bool:
        return self.capacity > 0 and self.committed is not None and self.committed <= self.capacity

    @property
    def free(self) -> int:
        return max(0, self.capacity - (self.committed or 0))

    def explain(self) -> str:
        """One line naming the pool, the tenants and the numbers."""
        cap = f"{self.capacity} slices" + (f" ({self.detail})" if self.detail else "")
        if self.capacity <= 0:
            return f"pool {self.pool} has capacity {self.capacity}; it must be at least 1"
        terms = " + ".join(c.describe() for c in self.claims) or "no tenants"
        if self.committed is None:
            return f"pool {self.pool} is not bounded: {terms}; give every tenant a quota on it"
        verdict = "<=" if self.ok else ">"
        tail = f"{self.free} free" if self.ok else "lower a max or a reservation"
        return f"pool {self.pool}: {terms} = {self.committed} {verdict} {cap}; {tail}"


def prove(pool: str, capacity: int, claims: list[Claim] | tuple[Claim, ...], detail: str = "") -> Verdict:
    return Verdict(pool, capacity, tuple(claims), detail)


def parse_count(value: object) -> int | None:
    """A whole-number Kubernetes quantity ("2", 2, "2.0", "1k"), else None."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    scale = {"k": 1000, "M": 10**6, "G": 10**9}.get(text[-1:], 1) if text else 1
    if scale != 1:
        text = text[:-1]
    try:
        number = Decimal(text) * scale
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() and number >= 0 else None
