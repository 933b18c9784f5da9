"""What a migration phase does, in words, and the per-migration summary a reviewer reads."""

from __future__ import annotations

from typing import Any

from components.config.migration import Migration
from components.config.storage import StorageConfig
from components.storage.claim_users import WAIT_SECONDS
from components.storage.names import (
    claim_size,
    job_name,
    staging_claim_name,
    staging_pv_name,
    target_volume_name,
)
from components.storage.patches import field_manager
from rules.data_loss import Phase


def _hold_actions(m: Migration, phase: Phase) -> list[str]:
    """The release and owner patches a phase applies (components/storage/patches.py)."""
    out: list[str] = []
    releases = sorted({c.owner.release for c in m.pvcs})
    if phase is Phase.COPY:
        for ref in releases:
            out.append(
                f"suspend HelmRelease {ref} (patch spec.suspend: true, manager {field_manager(m, 'suspend')})"
            )
        for owner in m.owners:
            cr = f" and {owner.operator.kind} {owner.operator.name}" if owner.operator else ""
            retain = (
                " with persistentVolumeClaimRetentionPolicy Retain/Retain in the same apply"
                if owner.kind == "StatefulSet"
                else ""
            )
            out.append(
                f"scale {owner.kind} {m.namespace_of(owner)}/{owner.name}{cr} to 0{retain} "
                f"(patch spec.replicas, manager {field_manager(m, 'scale')})"
            )
    elif phase in (Phase.VERIFY, Phase.DETACH):
        out += [f"HelmRelease {ref} stays suspended, its owners at 0" for ref in releases]
    elif phase is Phase.CUTOVER:
        for owner in m.owners:
            cr = f" and {owner.operator.kind} {owner.operator.name}" if owner.operator else ""
            out.append(
                f"scale {owner.kind} {m.namespace_of(owner)}/{owner.name}{cr} back to {owner.replicas} "
                "once its claims are recreated"
            )
        out += [f"HelmRelease {ref} stays suspended until cutoverAt is recorded" for ref in releases]
    elif phase is Phase.CLEANUP:
        out += [f"resume HelmRelease {ref} (patch spec.suspend: false)" for ref in releases]
    return out


def phase_actions(storage: StorageConfig, m: Migration, phase: Phase) -> list[str]:
    out: list[str] = []
    for c in m.pvcs:
        pvc, vol = c.key, target_volume_name(m, c)
        loses = m.loses(c)
        if phase is Phase.PLAN:
            out.append(f"adopt PV {c.source.volume} and PVC {pvc} unchanged (import, protected)")
        elif phase is Phase.COPY:
            out.append(f"set PV {c.source.volume} reclaimPolicy Retain (first)")
            if loses:
                out.append(f"DATA LOSS ACCEPTED: no copy of {pvc}")
            else:
                out.append(
                    f"create Longhorn volume {vol} ({m.target_class}, {claim_size(storage, c)}), "
                    f"PV {staging_pv_name(m, c)} and staging PVC {c.namespace}/{staging_claim_name(c)}; "
                    f"Job {job_name(m, c, 'copy')} copies {pvc} into it (up waits for it)"
                )
        elif phase is Phase.VERIFY and not loses:
            out.append(f"Job {job_name(m, c, 'verify')} compares {pvc} with its copy; record its digest")
        elif phase is Phase.DETACH:
            if not loses:
                out.append(
                    f"delete Jobs {job_name(m, c, 'copy')} and {job_name(m, c, 'verify')} and their pods "
                    f"(they mount {pvc}); unprotect PVC {pvc} for cutover"
                )
            else:
                out.append(f"unprotect PVC {pvc} for cutover")
        elif phase is Phase.CUTOVER:
            free = f"wait until no pod uses PVC {pvc} (at most {WAIT_SECONDS} s, else stop naming the pod)"
            if loses:
                out.append(
                    f"{free}; DATA LOSS ACCEPTED: replace PVC {pvc} by an EMPTY {m.target_class} volume"
                )
            else:
                out.append(
                    f"{free}; replace PVC {pvc} (delete, recreate) bound to new PV {vol} "
                    "(volumeName, claimRef); "
                    f"old PV {c.source.volume} stays (Retain); staging PVC and PV object "
                    f"{staging_pv_name(m, c)} removed (the Longhorn volume stays)"
                )
        elif phase is Phase.CLEANUP:
            out.append(
                f"let go of PV {c.source.volume} (retained on delete: it stays Released with Retain, "
                f"its files on {c.source.location})"
            )
    return out + _hold_actions(m, phase)


def summary(storage: StorageConfig, m: Migration) -> dict[str, Any]:
    phases = list(Phase)
    nxt = phases[phases.index(m.phase) + 1] if m.phase is not Phase.CLEANUP else None
    return {
        "phase": m.phase.value,
        "targetClass": m.target_class,
        "applies": phase_actions(storage, m, m.phase),
        "nextPhase": nxt.value if nxt else None,
        "next": phase_actions(storage, m, nxt) if nxt else [],
        "acceptDataLoss": list(m.accept_data_loss),
        "claims": {
            c.name: {
                "namespace": c.namespace,
                "from": c.current_class,
                "to": m.target_class,
                "size": c.size,
                "targetSize": claim_size(storage, c),
                "sourceVolume": c.source.volume,
                "targetVolume": None if m.loses(c) else target_volume_name(m, c),
                "owner": f"{c.owner.kind} {c.namespace}/{c.owner.name}",
                "release": c.owner.release,
                "verified": m.verified.get(c.name),
            }
            for c in m.pvcs
        },
        "timings": {
            name: {"bytes": r.bytes, "seconds": r.seconds, "files": r.files} for name, r in m.copied.items()
        },
    }
