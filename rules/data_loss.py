"""Phase 5 success criterion, zero data loss (rule `data-loss`), written once.

CrossGuard sees resources, not operations, so the review gate applies this rule to the engine's steps:
a delete or replace of a PersistentVolumeClaim, PersistentVolume or StatefulSet blocks `up` unless
it is acknowledged. The stack config acknowledges through its migrations (`acknowledged`): the claims
named in acceptDataLoss, every claim once its copy is verified (cutover on), the old PVs at cleanup.
The migration phases live here too, since the acknowledgement follows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from . import Finding, Severity
from .type_token import kind_of

RULE = "data-loss"
DATA_BEARING_KINDS = frozenset({"PersistentVolumeClaim", "PersistentVolume", "StatefulSet"})
DESTRUCTIVE = frozenset({"delete", "replace"})


# A migration's phases, in order; each `pulumi up` applies one (components/storage/phases.py). No
# docstring: the stack config's JSON schema would carry it (docs/schema/stack-config.schema.json).
class Phase(StrEnum):
    PLAN = "plan"
    COPY = "copy"
    VERIFY = "verify"
    CUTOVER = "cutover"
    CLEANUP = "cleanup"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)

    def at_least(self, other: Phase) -> bool:
        return self.rank >= other.rank


def is_data_bearing(type_or_kind: str) -> bool:
    """True for objects whose deletion or replacement can destroy data: PVC, PV, StatefulSet.

    Accepts a Kubernetes kind (`PersistentVolumeClaim`) or a Pulumi type token
    (`kubernetes:core/v1:PersistentVolumeClaim`).
    """
    return kind_of(type_or_kind) in DATA_BEARING_KINDS


def acknowledged(migrations: Iterable[Any]) -> set[str]:
    """What the stack config's migrations acknowledge, as `namespace/name` (PVs by name).

    - claims listed under a migration's acceptDataLoss (the directive's delete-and-lose path);
    - from phase cutover on, every claim of the migration and its owner: the copy is verified (the
      config model refuses cutover without a recorded verify), so recreating them loses nothing;
    - in phase cleanup, the old PVs the migration copied from.
    """
    out: set[str] = set()
    for migration in migrations:
        phase = Phase(migration.phase)
        for claim in migration.pvcs:
            ref = f"{claim.namespace}/{claim.name}"
            if claim.name in migration.accept_data_loss:
                out.add(ref)
            if phase.at_least(Phase.CUTOVER):
                out |= {ref, f"{claim.namespace}/{claim.owner.name}"}
            if phase is Phase.CLEANUP:
                out.add(claim.source.volume)
    return out


def data_loss(op: str, type_token: str, is_acknowledged: bool, name: str = "") -> Finding | None:
    """`data-loss`: a delete or replace (`op`) of a data-bearing resource nobody acknowledged."""
    if op not in DESTRUCTIVE or not is_data_bearing(type_token) or is_acknowledged:
        return None
    return Finding(
        RULE,
        f"{op} of {kind_of(type_token)} {name} would lose its data and is not acknowledged "
        "(storage.acceptDataLoss, a verified migration, or --ack)",
        Severity.MANDATORY,
    )
