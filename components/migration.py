"""Move a set of PVCs to another storage class without losing data, one reviewable phase per `pulumi up`.

    plan     adopt the source PVs and PVCs unchanged (import); nothing else. The summary says what copy does.
    copy     source PVs -> Retain first; owners scaled to 0 through their HelmRelease values; a Longhorn
             volume, its PV and a staging claim `<pvc>-migrated`; a copy Job (copy_verify.py copy).
    verify   the owning HelmRelease suspended; a verify Job (copy_verify.py verify) prints the digest.
    cutover  (needs the recorded digest) the claim is recreated under its original name, bound to the new PV
             (PV claimRef + PVC volumeName); owners restored and the release resumed.
    cleanup  (needs cutoverAt) the old PV objects are removed; their Retain'd data stays on the node.

Every builder below is a pure function returning a plain Kubernetes dict, so the integration tests apply
exactly what the component registers. The delete-and-accept-loss path exists only for claims named in
`acceptDataLoss`, and even then the old PV is kept (Retain) until cleanup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.config.storage import (
    MigratedClaim,
    Migration,
    Phase,
    StorageConfig,
    parse_quantity,
    target_size,
)

SCRIPT = Path(__file__).parent / "migration_scripts" / "copy_verify.py"
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}  # no kubelet in CI; Jobs and claims are checked by phase
SETTLE_SECONDS = 30
DEADLINE_SECONDS = 6 * 3600
# Enough to copy as root without being privileged (directive: no privileged containers).
COPY_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "MKNOD"]


def _h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def target_volume_name(m: Migration, c: MigratedClaim) -> str:
    """The new PV's name, equal to its Longhorn volume's name (Longhorn's static-provisioning convention)."""
    return f"{m.name}-{_h(c.key)}"


def staging_claim_name(c: MigratedClaim) -> str:
    return f"{c.name}-migrated"


def staging_pv_name(m: Migration, c: MigratedClaim) -> str:
    """A second PV object on the same Longhorn volume, bound to the staging claim while copying.

    Re-pointing one bound PV at cutover does not work: a merge patch keeps the staging claim's
    claimRef.uid, and the PV controller then refuses the new claim. The final PV is a fresh object.
    """
    return f"{target_volume_name(m, c)}-staging"


def job_name(m: Migration, c: MigratedClaim, action: str) -> str:
    return f"{m.name}-{action}-{_h(c.key)}"


def script_config_map_name(m: Migration) -> str:
    return f"{m.name}-copy-verify"


def _labels(m: Migration) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "pulumi", "k3s-home.fletcherlabs.net/migration": m.name}


def _size(storage: StorageConfig, c: MigratedClaim) -> str:
    return target_size(c, storage.monitoring)


# ---- source side: the live objects, adopted unchanged in plan ------------------------------------------


def source_pv(m: Migration, c: MigratedClaim, phase: Phase) -> dict:
    """The local-path PV as provisioned; from copy on its reclaim policy is Retain (before anything else)."""
    claim_ref: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": c.namespace,
        "name": c.name,
    }
    if c.source.claim_uid:
        claim_ref["uid"] = c.source.claim_uid
    policy = c.source.reclaim_policy if phase is Phase.PLAN else "Retain"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": c.source.volume},
        "spec": {
            "accessModes": list(c.access_modes),
            "capacity": {"storage": c.size},
            "hostPath": {"path": c.source.host_path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [c.source.node]}
                            ]
                        }
                    ]
                }
            },
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": c.current_class,
            "volumeMode": "Filesystem",
            "claimRef": claim_ref,
        },
    }


def _helm_metadata(c: MigratedClaim) -> dict[str, dict[str, str]]:
    if not c.helm_managed:
        return {}
    ns, name = c.owner.release.split("/")
    return {
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": name, "meta.helm.sh/release-namespace": ns},
    }


def source_claim(c: MigratedClaim) -> dict:
    """The live claim as its owner made it (adopted unchanged)."""
    meta: dict[str, Any] = {"name": c.name, "namespace": c.namespace, **_helm_metadata(c)}
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {
            "accessModes": list(c.access_modes),
            "resources": {"requests": {"storage": c.size}},
            "storageClassName": c.current_class,
            "volumeMode": "Filesystem",
            "volumeName": c.source.volume,
        },
    }


# ---- target side --------------------------------------------------------------------------------------


def longhorn_volume(storage: StorageConfig, m: Migration, c: MigratedClaim) -> dict:
    sc = storage.storage_class
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "Volume",
        "metadata": {
            "name": target_volume_name(m, c),
            "namespace": storage.longhorn_namespace,
            "labels": _labels(m),
        },
        "spec": {
            "size": str(parse_quantity(_size(storage, c))),
            "numberOfReplicas": sc.number_of_replicas,
            "staleReplicaTimeout": sc.stale_replica_timeout,
            "dataLocality": sc.data_locality,
            "frontend": "blockdev",
            "accessMode": "rwx" if "ReadWriteMany" in c.access_modes else "rwo",
        },
    }


def target_pv(storage: StorageConfig, m: Migration, c: MigratedClaim, staging: bool = False) -> dict:
    """A PV on the new Longhorn volume, pre-bound (claimRef, no uid) to the staging or the original claim."""
    sc = storage.storage_class
    handle = target_volume_name(m, c)
    name, claim = (staging_pv_name(m, c), staging_claim_name(c)) if staging else (handle, c.name)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": _labels(m)},
        "spec": {
            "accessModes": list(c.access_modes),
            "capacity": {"storage": _size(storage, c)},
            "csi": {
                "driver": sc.provisioner,
                "fsType": sc.fs_type,
                "volumeHandle": handle,
                "volumeAttributes": {
                    "numberOfReplicas": str(sc.number_of_replicas),
                    "staleReplicaTimeout": str(sc.stale_replica_timeout),
                    "dataLocality": sc.data_locality,
                },
            },
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": m.target_class,
            "volumeMode": "Filesystem",
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": c.namespace,
                "name": claim,
            },
        },
    }


def _claim(storage: StorageConfig, m: Migration, c: MigratedClaim, name: str, volume: str | None) -> dict:
    """A claim on the target class; under the original name it keeps Helm's ownership."""
    meta: dict[str, Any] = {"name": name, "namespace": c.namespace}
    if name == c.name:
        meta.update(_helm_metadata(c))
    else:
        meta["labels"] = _labels(m)
    meta["annotations"] = {**meta.get("annotations", {}), **SKIP_AWAIT}
    spec: dict[str, Any] = {
        "accessModes": list(c.access_modes),
        "resources": {"requests": {"storage": _size(storage, c)}},
        "storageClassName": m.target_class,
        "volumeMode": "Filesystem",
    }
    if volume:
        spec["volumeName"] = volume
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def target_claim(storage: StorageConfig, m: Migration, c: MigratedClaim, name: str) -> dict:
    """A claim bound to the new PV by volumeName (the staging PV under the staging name)."""
    volume = target_volume_name(m, c) if name == c.name else staging_pv_name(m, c)
    return _claim(storage, m, c, name, volume)


def fresh_claim(storage: StorageConfig, m: Migration, c: MigratedClaim) -> dict:
    """acceptDataLoss only: the original name on a new, EMPTY volume provisioned by the target class."""
    return _claim(storage, m, c, c.name, None)


def script_config_map(m: Migration, namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": script_config_map_name(m), "namespace": namespace, "labels": _labels(m)},
        "data": {"copy_verify.py": SCRIPT.read_text()},
    }


def copy_job(storage: StorageConfig, m: Migration, c: MigratedClaim, action: str) -> dict:
    """copy or verify: source claim read-only at /src, staging claim at /dst.

    Required pod anti-affinity on the owner's pods: the Job cannot start beside a running owner, and since
    the scheduler honours it both ways, an owner cannot start beside a running Job either.
    """
    args = ["python3", "/scripts/copy_verify.py", action, "/src", "/dst"]
    if action == "copy":
        args += ["--settle", str(SETTLE_SECONDS)]
    labels = {**_labels(m), "k3s-home.fletcherlabs.net/action": action}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(m, c, action),
            "namespace": c.namespace,
            "labels": labels,
            "annotations": {**SKIP_AWAIT, "k3s-home.fletcherlabs.net/claim": c.name},
        },
        "spec": {
            "backoffLimit": 2 if action == "copy" else 0,  # copy is idempotent; a failed verify is an answer
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "labelSelector": {"matchLabels": dict(c.owner.pod_labels)},
                                    "namespaces": [c.namespace],
                                    "topologyKey": "kubernetes.io/hostname",
                                }
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": action,
                            "image": storage.image(m),
                            "command": args,
                            "securityContext": {
                                "runAsUser": 0,  # preserves every file's owner; not privileged
                                "allowPrivilegeEscalation": False,
                                "privileged": False,
                                "capabilities": {"drop": ["ALL"], "add": list(COPY_CAPABILITIES)},
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"memory": "512Mi"},
                            },
                            "volumeMounts": [
                                {"name": "src", "mountPath": "/src", "readOnly": True},
                                {"name": "dst", "mountPath": "/dst", "readOnly": action == "verify"},
                                {"name": "scripts", "mountPath": "/scripts", "readOnly": True},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "src", "persistentVolumeClaim": {"claimName": c.name, "readOnly": True}},
                        {"name": "dst", "persistentVolumeClaim": {"claimName": staging_claim_name(c)}},
                        {
                            "name": "scripts",
                            "configMap": {"name": script_config_map_name(m), "defaultMode": 0o555},
                        },
                    ],
                },
            },
        },
    }


# ---- the phase graph ----------------------------------------------------------------------------------


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
        if moved and phase is Phase.COPY:
            out.append(
                Planned(
                    f"copy-{c.name}",
                    copy_job(storage, m, c, "copy"),
                    after=(staging, f"script-{c.namespace}"),
                )
            )
        if moved and phase is Phase.VERIFY:
            # The copy Job stays so its log stays next to the verify Job's.
            out.append(
                Planned(
                    f"copy-{c.name}",
                    copy_job(storage, m, c, "copy"),
                    after=(staging, f"script-{c.namespace}"),
                )
            )
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


def _phase_actions(storage: StorageConfig, m: Migration, phase: Phase) -> list[str]:
    out: list[str] = []
    releases = sorted({c.owner.release for c in m.pvcs})
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
                    f"create Longhorn volume {vol} ({m.target_class}, {_size(storage, c)}), "
                    f"PV {staging_pv_name(m, c)} and staging PVC {c.namespace}/{staging_claim_name(c)}; "
                    f"Job {job_name(m, c, 'copy')} copies {pvc} into it"
                )
        elif phase is Phase.VERIFY and not loses:
            out.append(f"Job {job_name(m, c, 'verify')} compares {pvc} with its copy; record its digest")
        elif phase is Phase.CUTOVER:
            if loses:
                out.append(f"DATA LOSS ACCEPTED: replace PVC {pvc} by an EMPTY {m.target_class} volume")
            else:
                out.append(
                    f"replace PVC {pvc} (delete, recreate) bound to new PV {vol} (volumeName, claimRef); "
                    f"old PV {c.source.volume} stays (Retain); staging PVC and PV object "
                    f"{staging_pv_name(m, c)} removed (the Longhorn volume stays)"
                )
        elif phase is Phase.CLEANUP:
            out.append(
                f"remove PV object {c.source.volume} "
                f"(Retain: files stay on {c.source.node} until deleted by hand)"
            )
    for ref in releases:
        owners = ", ".join(
            sorted({f"{c.owner.kind} {c.owner.name}" for c in m.pvcs if c.owner.release == ref})
        )
        if phase is Phase.COPY:
            out.append(f"HelmRelease {ref}: scale {owners} to 0 through values")
        elif phase is Phase.VERIFY:
            out.append(f"HelmRelease {ref}: suspend (owners stay at 0)")
        elif phase is Phase.CUTOVER:
            out.append(
                f"HelmRelease {ref}: restore {owners} replicas, storage class {m.target_class}, resume"
            )
    return out


def summary(storage: StorageConfig, m: Migration) -> dict[str, Any]:
    phases = list(Phase)
    nxt = phases[phases.index(m.phase) + 1] if m.phase is not Phase.CLEANUP else None
    return {
        "phase": m.phase.value,
        "targetClass": m.target_class,
        "applies": _phase_actions(storage, m, m.phase),
        "nextPhase": nxt.value if nxt else None,
        "next": _phase_actions(storage, m, nxt) if nxt else [],
        "acceptDataLoss": list(m.accept_data_loss),
        "claims": {
            c.name: {
                "namespace": c.namespace,
                "from": c.current_class,
                "to": m.target_class,
                "size": c.size,
                "targetSize": _size(storage, c),
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


# ---- the component ------------------------------------------------------------------------------------


def register(rname: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """A typed pulumi_kubernetes resource for a plain object dict (CustomResource for CRDs)."""
    kind, meta = obj["kind"], obj["metadata"]
    if kind == "PersistentVolume":
        return k8s.core.v1.PersistentVolume(rname, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "PersistentVolumeClaim":
        return k8s.core.v1.PersistentVolumeClaim(rname, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(rname, metadata=meta, data=obj["data"], opts=opts)
    if kind == "Job":
        return k8s.batch.v1.Job(rname, metadata=meta, spec=obj["spec"], opts=opts)
    return k8s.apiextensions.CustomResource(
        rname, api_version=obj["apiVersion"], kind=kind, metadata=meta, spec=obj["spec"], opts=opts
    )


class VolumeMigration(pulumi.ComponentResource):
    """One configured migration in its configured phase. `release_gate` lists what the owning HelmReleases
    must wait for: the Retain'd source PVs in copy, the recreated claims in cutover."""

    def __init__(
        self,
        name: str,
        config: StackConfig,
        migration: Migration,
        storage_class: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("k3s-home:storage:VolumeMigration", name, None, opts)
        storage, m = config.storage, migration
        self.summary = summary(storage, m)
        if m.accept_data_loss:
            pulumi.log.warn(
                f"DATA LOSS ACCEPTED in migration '{m.name}' for {', '.join(m.accept_data_loss)}: "
                "these claims are not copied and come back EMPTY at cutover "
                "(old PVs kept, Retain, until cleanup)",
                resource=self,
            )
        self.resources: dict[str, pulumi.CustomResource] = {}
        base = [storage_class] if storage_class is not None else []
        for p in phase_objects(storage, m):
            deps = [self.resources[k] for k in p.after if k in self.resources]
            if p.obj["kind"] in ("PersistentVolume", "PersistentVolumeClaim", "Volume"):
                deps += base
            res = register(
                f"{name}-{p.key}",
                p.obj,
                pulumi.ResourceOptions(
                    parent=self,
                    protect=p.protect,
                    retain_on_delete=p.retain_on_delete,
                    import_=p.import_id,
                    delete_before_replace=p.delete_before_replace,
                    depends_on=deps,
                ),
            )
            self.resources[p.key] = res
        gate_keys = {Phase.COPY: "source-pv-", Phase.CUTOVER: "claim-"}.get(m.phase)
        self.release_gate: list[pulumi.Resource] = [
            r for k, r in self.resources.items() if gate_keys and k.startswith(gate_keys)
        ]
        self.register_outputs({"summary": self.summary})
