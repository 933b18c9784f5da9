"""The phase graph: what each migration phase registers, one `pulumi up` per phase.

    plan     adopt the source PVs and PVCs unchanged (import); nothing else. The summary says what copy does.
    copy     source PVs -> Retain first; the owning HelmRelease suspended (a patch of `spec.suspend`);
             the owners' replicas -> 0, a StatefulSet's claim retention -> Retain/Retain in the same apply
             (server-side-apply patches, components/storage/patches.py); a Longhorn volume, its PV and a
             staging claim `<pvc>-migrated`; a copy Job (copy_verify.py copy), awaited to completion.
    verify   a verify Job (copy_verify.py verify), awaited, prints the digest; the copy Job stays (its log).
    detach   (needs the recorded digest) both Jobs and their pods deleted (foreground), in an `up` of their
             own: a completed pod that names a claim keeps it Terminating if the claim is replaced.
    cutover  (needs the digest) per claim a bounded check that no pod uses it (ClaimFree), then the claim
             recreated under its original name, bound to the new PV (PV claimRef + PVC volumeName); then
             the owners' replicas restored. The release stays suspended.
    cleanup  (needs cutoverAt: the cutover was checked) the release resumed; the stack lets go of the old
             PV objects (retained on delete: they stay Released, Retain, their data on the node).

The StatefulSets' volumeClaimTemplates are never changed: the recreated claim has the template's name,
so the StatefulSet uses it as it is (ADR 0006). The delete-and-accept-loss path exists only for claims
named in `acceptDataLoss`, and even then the old PV is kept (Retain) until cleanup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.config.migration import Migration
from components.config.storage import StorageConfig
from components.storage.jobs import copy_job, script_config_map
from components.storage.names import staging_claim_name
from components.storage.patches import (
    operator_scale_patch,
    reclaim_patch,
    scale_patch,
    suspend_patch,
)
from components.storage.source import source_claim, source_pv
from components.storage.target import fresh_claim, longhorn_volume, target_claim, target_pv
from rules.data_loss import Phase

CLAIM_FREE_KIND = "ClaimFree"  # not a Kubernetes object: the check of components/storage/claim_users.py


@dataclass(frozen=True)
class Planned:
    """One object of a phase with the options that keep its data safe."""

    key: str  # stable Pulumi logical name suffix: the same key across phases means the same resource
    obj: dict
    protect: bool = False
    retain_on_delete: bool = False
    import_id: str | None = None
    delete_before_replace: bool = False
    after: tuple[str, ...] = field(default_factory=tuple)
    patch: bool = False  # a server-side-apply patch of an object someone else owns


def _hold(m: Migration, phase: Phase, after_claims: tuple[str, ...]) -> list[Planned]:
    """The releases suspended and the owners held: at 0 from copy to detach, at their replicas after."""
    if phase is Phase.PLAN:
        return []
    out: list[Planned] = []
    resumed = phase is Phase.CLEANUP
    source_pvs = tuple(f"retain-pv-{c.name}" for c in m.pvcs)
    for ref in sorted({c.owner.release for c in m.pvcs}):
        # Suspended only once every source PV is Retain; resumed only after the checked cutover.
        deps = after_claims if resumed else source_pvs
        out.append(
            Planned(
                f"suspend-{ref.replace('/', '-')}", suspend_patch(m, ref, not resumed), patch=True, after=deps
            )
        )
    restored = phase.at_least(Phase.CUTOVER)
    for owner in m.owners:
        ns = m.namespace_of(owner)
        held = (f"suspend-{owner.release.replace('/', '-')}",)
        replicas = owner.replicas if restored else 0
        deps = (*held, *after_claims) if restored else held
        out.append(
            Planned(f"scale-{owner.name}", scale_patch(m, owner, ns, replicas), patch=True, after=deps)
        )
        cr = operator_scale_patch(m, owner, ns, replicas)
        if cr is not None:
            out.append(Planned(f"scale-cr-{owner.name}", cr, patch=True, after=deps))
    return out


def owner_keys(m: Migration) -> tuple[str, ...]:
    """The keys a Job waits for: every owner's scale-down (the Job then starts beside no owner pod)."""
    keys: list[str] = []
    for owner in m.owners:
        keys.append(f"scale-{owner.name}")
        if owner.operator is not None:
            keys.append(f"scale-cr-{owner.name}")
    return tuple(keys)


def phase_objects(storage: StorageConfig, m: Migration, phase: Phase | None = None) -> list[Planned]:
    """Every object `phase` (default: the configured one) registers, in dependency order."""
    phase = phase or m.phase
    out: list[Planned] = []
    jobs = phase in (Phase.COPY, Phase.VERIFY)
    staged = phase in (Phase.COPY, Phase.VERIFY, Phase.DETACH)
    namespaces = sorted({c.namespace for c in m.pvcs if not m.loses(c)})
    if jobs:
        out += [Planned(f"script-{ns}", script_config_map(m, ns)) for ns in namespaces]
    claims: list[Planned] = []
    for c in m.pvcs:
        src_pv, claim = f"source-pv-{c.name}", f"claim-{c.name}"
        vol, tpv, staging = f"volume-{c.name}", f"target-pv-{c.name}", f"staging-{c.name}"
        spv = f"staging-pv-{c.name}"
        if phase is not Phase.CLEANUP:
            # Cleanup lets go of it: retained on delete, the PV object stays in the cluster, Released and
            # Retain, the address of the old data until the lead removes it in a change of its own.
            early = phase in (Phase.PLAN, Phase.COPY, Phase.VERIFY)
            out.append(
                Planned(
                    src_pv,
                    source_pv(m, c, phase),
                    protect=early,  # the only copy until verified
                    retain_on_delete=True,
                    import_id=c.source.volume,
                )
            )
        if phase is not Phase.PLAN:
            # Retain before anything else, and for good (retained on delete: never relinquished).
            after = (src_pv,) if phase is not Phase.CLEANUP else ()
            out.append(
                Planned(
                    f"retain-pv-{c.name}", reclaim_patch(m, c), patch=True, retain_on_delete=True, after=after
                )
            )
        moved = not m.loses(c)
        if moved and phase is not Phase.PLAN:
            out.append(Planned(vol, longhorn_volume(storage, m, c), protect=True, retain_on_delete=True))
            if staged:
                # Dropped at cutover: only the PV object goes (Retain); the Longhorn volume and data stay.
                out.append(Planned(spv, target_pv(storage, m, c, staging=True), after=(vol,)))
                out.append(
                    Planned(staging, target_claim(storage, m, c, staging_claim_name(c)), after=(spv, src_pv))
                )
            else:
                out.append(
                    Planned(tpv, target_pv(storage, m, c), protect=True, retain_on_delete=True, after=(vol,))
                )
        if not phase.at_least(Phase.CUTOVER):
            # The live claim, adopted; protected while it is the only copy (until verified and recorded),
            # unprotected in detach so that cutover may replace it; its PV is Retain.
            early = phase in (Phase.PLAN, Phase.COPY, Phase.VERIFY)
            claims.append(
                Planned(
                    claim,
                    source_claim(c),
                    protect=early,
                    retain_on_delete=early,
                    import_id=c.key,
                    after=(src_pv,),
                )
            )
        else:
            obj = target_claim(storage, m, c, c.name) if moved else fresh_claim(storage, m, c)
            deps: tuple[str, ...] = (tpv,) if moved else ()
            if phase is Phase.CUTOVER:
                free = f"free-{c.name}"
                out.append(
                    Planned(
                        free,
                        {
                            "apiVersion": "k3s-home/v1",
                            "kind": CLAIM_FREE_KIND,
                            "metadata": {"name": c.name, "namespace": c.namespace},
                        },
                    )
                )
                deps = (src_pv, free, *deps)
            claims.append(
                Planned(
                    claim, obj, protect=True, retain_on_delete=True, delete_before_replace=True, after=deps
                )
            )
        if moved and jobs:
            # In verify the copy Job stays, so its log stays next to the verify Job's; both go in detach.
            out.append(
                Planned(
                    f"copy-{c.name}",
                    copy_job(storage, m, c, "copy"),
                    # A failed Job is replaced (replaceUnready) under its fixed name: the old one goes first.
                    delete_before_replace=True,
                    after=(staging, f"script-{c.namespace}", *owner_keys(m)),
                )
            )
        if moved and phase is Phase.VERIFY:
            out.append(
                Planned(
                    f"verify-{c.name}",
                    copy_job(storage, m, c, "verify"),
                    delete_before_replace=True,
                    after=(staging, f"script-{c.namespace}", *owner_keys(m)),
                )
            )
    restored = phase.at_least(Phase.CUTOVER)
    hold = _hold(m, phase, tuple(p.key for p in claims) if restored else ())
    # The scale-down before any Job (the copy waits for it); the scale-up after the recreated claims.
    ordered = hold + out + claims if not restored else out + claims + hold
    first = ("source-pv-", "retain-pv-")
    return sorted(ordered, key=lambda p: first.index(p.key[:10]) if p.key.startswith(first) else 2)


def effective_class(storage: StorageConfig, target: str) -> tuple[str, str]:
    """(storage class, size) the release values should carry for a monitoring target now.

    Until its migration's cutover the values keep the live class and size: chart-templated claims and
    volumeClaimTemplates are immutable, and a premature change would fail the Flux upgrade. A StatefulSet
    that Helm renders itself (no operator, e.g. loki) keeps its template for good: the recreated claim has
    the template's name and is used as it is, and a changed template would fail every upgrade (ADR 0006).
    """
    assert storage.monitoring is not None
    t = getattr(storage.monitoring, target)
    for m in storage.migrations:
        for c in m.pvcs:
            if c.monitoring_target != target:
                continue
            helm_template = c.owner.kind == "StatefulSet" and c.owner.operator is None
            if helm_template or not m.phase.at_least(Phase.CUTOVER):
                return c.current_class, c.size
    return t.storage_class, t.size
