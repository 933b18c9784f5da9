"""The phase graph: what each migration phase registers, and what the owning HelmReleases carry meanwhile.

    plan     adopt the source PVs and PVCs unchanged (import); nothing else. The summary says what copy does.
    copy     source PVs -> Retain first; owners scaled to 0 through their HelmRelease values; a Longhorn
             volume, its PV and a staging claim `<pvc>-migrated`; a copy Job (copy_verify.py copy).
    verify   the owning HelmRelease suspended; a verify Job (copy_verify.py verify) prints the digest.
    cutover  (needs the recorded digest) the claim is recreated under its original name, bound to the new PV
             (PV claimRef + PVC volumeName); owners restored and the release resumed.
    cleanup  (needs cutoverAt) the old PV objects are removed; their Retain'd data stays on the node.

The delete-and-accept-loss path exists only for claims named in `acceptDataLoss`, and even then the old
PV is kept (Retain) until cleanup.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.config.migration import Migration
from components.config.storage import StorageConfig
from components.storage.jobs import copy_job, script_config_map
from components.storage.names import staging_claim_name
from components.storage.source import source_claim, source_pv
from components.storage.target import fresh_claim, longhorn_volume, target_claim, target_pv
from rules.data_loss import Phase


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


def phase_objects(storage: StorageConfig, m: Migration, phase: Phase | None = None) -> list[Planned]:
    """Every object `phase` (default: the configured one) registers, in dependency order."""
    phase = phase or m.phase
    out: list[Planned] = []
    staged = phase in (Phase.COPY, Phase.VERIFY)
    namespaces = sorted({c.namespace for c in m.pvcs if not m.loses(c)})
    if staged:
        out += [Planned(f"script-{ns}", script_config_map(m, ns)) for ns in namespaces]
    for c in m.pvcs:
        src_pv, claim = f"source-pv-{c.name}", f"claim-{c.name}"
        vol, tpv, staging = f"volume-{c.name}", f"target-pv-{c.name}", f"staging-{c.name}"
        spv = f"staging-pv-{c.name}"
        if phase is not Phase.CLEANUP:  # cleanup drops it: the PV object goes, Retain keeps the files
            early = phase in (Phase.PLAN, Phase.COPY, Phase.VERIFY)
            out.append(
                Planned(
                    src_pv,
                    source_pv(m, c, phase),
                    protect=early,  # the only copy until verified
                    retain_on_delete=early,
                    import_id=c.source.volume,
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
            # The live claim, adopted. Unprotected in verify so that cutover may replace it; its PV is Retain.
            out.append(
                Planned(
                    claim,
                    source_claim(c),
                    protect=phase in (Phase.PLAN, Phase.COPY),
                    retain_on_delete=phase in (Phase.PLAN, Phase.COPY),
                    import_id=c.key,
                    after=(src_pv,),
                )
            )
        else:
            obj = target_claim(storage, m, c, c.name) if moved else fresh_claim(storage, m, c)
            deps = (tpv,) if moved else ()
            if phase is Phase.CUTOVER:
                deps = (src_pv, *deps)
            out.append(
                Planned(
                    claim, obj, protect=True, retain_on_delete=True, delete_before_replace=True, after=deps
                )
            )
        if moved and staged:
            # In verify the copy Job stays, so its log stays next to the verify Job's.
            out.append(
                Planned(
                    f"copy-{c.name}",
                    copy_job(storage, m, c, "copy"),
                    after=(staging, f"script-{c.namespace}"),
                )
            )
        if moved and phase is Phase.VERIFY:
            out.append(
                Planned(
                    f"verify-{c.name}",
                    copy_job(storage, m, c, "verify"),
                    after=(staging, f"script-{c.namespace}"),
                )
            )
    return out


def release_patch(storage: StorageConfig, ref: str) -> tuple[dict, bool]:
    """(values override, spec.suspend) for HelmRelease `ref` in its migration's current phase.

    Flux applies values only while the release is not suspended, so copy scales the owners to 0 through
    the values (Flux running); verify suspends the release with them at 0; cutover restores and resumes.
    """
    m = storage.migration_of_release(ref)
    if m is None or m.phase is Phase.PLAN:
        return {}, False
    values: dict = {}
    for c in m.pvcs:
        if c.owner.release != ref:
            continue
        replicas = c.owner.replicas if m.phase.at_least(Phase.CUTOVER) else 0
        node = values
        *parents, leaf = c.owner.replicas_path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = replicas
    return values, m.phase is Phase.VERIFY


def effective_class(storage: StorageConfig, target: str) -> tuple[str, str]:
    """(storage class, size) the release values should carry for a monitoring target now.

    Until its migration's cutover the values keep the live class and size: chart-templated claims and
    volumeClaimTemplates are immutable, and a premature change would fail the Flux upgrade.
    """
    assert storage.monitoring is not None
    t = getattr(storage.monitoring, target)
    for m in storage.migrations:
        for c in m.pvcs:
            if c.monitoring_target == target and not m.phase.at_least(Phase.CUTOVER):
                return c.current_class, c.size
    return t.storage_class, t.size
