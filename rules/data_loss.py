"""Phase 5 success criterion, zero data loss (rule `data-loss`), written once.

CrossGuard sees resources, not operations, so the review gate applies this rule to the engine's steps:
a delete or replace of data blocks `up` (and `destroy`) unless it is acknowledged. Data is a
PersistentVolumeClaim, PersistentVolume or StatefulSet; a HelmRelease whose chart owns claims (its delete
takes the claims along); and a generated secret (cluster token, client secrets, bootstrap credentials),
which lives only in state: replacing it regenerates it, and every node or app holding the old one breaks.
The stack config acknowledges through its migrations (`acknowledged`): the claims named in
acceptDataLoss, every claim once its copy is verified (cutover on), the old PVs at cleanup.
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
# The two generators of components/generated_secret.py, by type token.
RANDOM_SECRET_TYPE = "random:index/randomPassword:RandomPassword"
PYTHON_SECRET_TYPE = "pulumi-python:dynamic/k3s-home:GeneratedSecret"
GENERATED_SECRET_TYPES = frozenset({RANDOM_SECRET_TYPE, PYTHON_SECRET_TYPE})


# A migration's phases, in order; each `pulumi up` applies one (components/storage/phases.py). No
# docstring: the stack config's JSON schema would carry it (docs/schema/stack-config.schema.json).
class Phase(StrEnum):
    PLAN = "plan"
    COPY = "copy"
    VERIFY = "verify"
    DETACH = "detach"
    CUTOVER = "cutover"
    CLEANUP = "cleanup"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)

    def at_least(self, other: Phase) -> bool:
        return self.rank >= other.rank


def is_data_bearing(type_or_kind: str, owns_data: bool = False) -> bool:
    """True for objects whose deletion or replacement can destroy data: PVC, PV, StatefulSet, a
    generated secret, or any object the config says owns data (`owns_data`, a HelmRelease with claims).

    Accepts a Kubernetes kind (`PersistentVolumeClaim`) or a Pulumi type token
    (`kubernetes:core/v1:PersistentVolumeClaim`).
    """
    return owns_data or is_generated_secret(type_or_kind) or kind_of(type_or_kind) in DATA_BEARING_KINDS


def is_generated_secret(type_token: str) -> bool:
    return type_token in GENERATED_SECRET_TYPES


def values_hold_data(values: Any) -> bool:
    """Whether Helm values ask the chart for persistent claims: a `volumeClaimTemplate`, an
    `existingClaim`, or a `persistence` block (or one of its named entries) with `enabled: true`."""
    if isinstance(values, list):
        return any(values_hold_data(v) for v in values)
    if not isinstance(values, dict):
        return False
    if "volumeClaimTemplate" in values or values.get("existingClaim"):
        return True
    persistence = values.get("persistence")
    if isinstance(persistence, dict) and (
        persistence.get("enabled") is True
        or any(isinstance(v, dict) and v.get("enabled") is True for v in persistence.values())
    ):
        return True
    return any(values_hold_data(v) for v in values.values())


def acknowledged(migrations: Iterable[Any]) -> set[str]:
    """What the stack config's migrations acknowledge, as `namespace/name` (PVs by name).

    - claims listed under a migration's acceptDataLoss (the directive's delete-and-lose path);
    - from phase cutover on, every claim of the migration and its owner: the copy is verified (the
      config model refuses cutover without a recorded verify), so recreating them loses nothing; and the
      staging claim and PV object of each copied claim (pointers to the new volume, which stays);
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
                if claim.name not in migration.accept_data_loss:
                    # The staging claim and PV object are pointers to the new volume, which stays.
                    out |= {
                        f"{claim.namespace}/{migration.staging_claim(claim)}",
                        migration.staging_volume(claim),
                    }
            if phase is Phase.CLEANUP:
                out.add(claim.source.volume)
    return out


def data_loss(
    op: str,
    type_token: str,
    is_acknowledged: bool,
    name: str = "",
    owns_data: bool = False,
    retained: bool = False,
) -> Finding | None:
    """`data-loss`: a delete or replace (`op`) of a data-bearing resource nobody acknowledged.

    `retained`: a delete with retainOnDelete, which leaves a Kubernetes object (and its data) in the
    cluster. A generated secret lives only in state, so retaining it keeps nothing.
    """
    if op not in DESTRUCTIVE or not is_data_bearing(type_token, owns_data) or is_acknowledged:
        return None
    if retained and op == "delete" and not is_generated_secret(type_token):
        return None
    loss = (
        "would regenerate this generated secret (whatever holds the old value stops working)"
        if is_generated_secret(type_token)
        else "would lose its data"
    )
    return Finding(
        RULE,
        f"{op} of {kind_of(type_token)} {name} {loss} and is not acknowledged "
        "(storage.acceptDataLoss, a verified migration, or --ack)",
        Severity.MANDATORY,
    )
