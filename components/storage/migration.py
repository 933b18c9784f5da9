"""`VolumeMigration`: one configured migration in its configured phase, registered as Pulumi resources."""

from __future__ import annotations

import copy
import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.config.migration import Migration
from components.resources import register, registered
from components.storage.actions import summary
from components.storage.claim_users import CHECKED, ClaimFree
from components.storage.phases import CLAIM_FREE_KIND, Planned, phase_objects

# The live claim and volume carry what controllers wrote (the PV binder's annotations, pvc-protection's
# finalizer, the StatefulSet's ownerReference, the chart's labels). An import records them as inputs; without
# this, the next step would plan to drop them from the object. They are not ours to change.
LIVE_BOOKKEEPING = [
    "metadata.annotations",
    "metadata.labels",
    "metadata.finalizers",
    "metadata.ownerReferences",
    "spec.claimRef",
]
LIVE_KEYS = ("source-pv-", "claim-")
# The source PV's reclaim policy belongs to its Retain patch (patches.reclaim_patch) from copy on: the
# object itself keeps the policy as imported, or a refreshed preview would plan to set it back.
SOURCE_PV_IGNORED = [*LIVE_BOOKKEEPING, "spec.persistentVolumeReclaimPolicy"]


def _ignored(key: str) -> list[str] | None:
    if key.startswith("source-pv-"):
        return SOURCE_PV_IGNORED
    return LIVE_BOOKKEEPING if key.startswith(LIVE_KEYS) else None


def register_patch(rname: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """A server-side-apply patch (v4 provider `*Patch` resources) of an object the stack does not own."""
    meta, spec = obj["metadata"], obj["spec"]
    if obj["kind"] == "StatefulSet":
        return k8s.apps.v1.StatefulSetPatch(rname, metadata=meta, spec=spec, opts=opts)
    if obj["kind"] == "PersistentVolume":
        return k8s.core.v1.PersistentVolumePatch(rname, metadata=meta, spec=spec, opts=opts)
    if obj["kind"] == "Deployment":
        return k8s.apps.v1.DeploymentPatch(rname, metadata=meta, spec=spec, opts=opts)
    return k8s.apiextensions.CustomResourcePatch(
        rname, api_version=obj["apiVersion"], kind=obj["kind"], metadata=meta, spec=spec, opts=opts
    )


def _register(rname: str, p: Planned, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    if p.obj["kind"] == CLAIM_FREE_KIND:
        meta = p.obj["metadata"]
        return ClaimFree(rname, meta["namespace"], meta["name"], opts=opts)
    if p.patch:
        return register_patch(rname, p.obj, opts)
    return register(rname, p.obj, opts)


def with_check(p: Planned, free: ClaimFree) -> Planned:
    """The recreated claim with the check's output in its annotation (see claim_users.ClaimFree)."""
    obj = copy.deepcopy(p.obj)
    obj["metadata"]["annotations"][CHECKED] = free.checked
    return dataclasses.replace(p, obj=obj)


class VolumeMigration(pulumi.ComponentResource):
    """One configured migration in its configured phase."""

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
        self.resources: dict[str, pulumi.Resource] = {}
        base = [storage_class] if storage_class is not None else []
        for p in phase_objects(storage, m):
            if not registered(p.import_id):
                continue
            # Render mode registers no import (the live objects are the cluster's): their dependents go alone.
            deps = [self.resources[k] for k in p.after if k in self.resources]
            free = self.resources.get(f"free-{p.key.removeprefix('claim-')}")
            if p.key.startswith("claim-") and isinstance(free, ClaimFree):
                p = with_check(p, free)
            if p.obj["kind"] in ("PersistentVolume", "PersistentVolumeClaim", "Volume"):
                deps += base
            res = _register(
                f"{name}-{p.key}",
                p,
                pulumi.ResourceOptions(
                    parent=self,
                    protect=p.protect,
                    retain_on_delete=p.retain_on_delete,
                    import_=p.import_id,
                    ignore_changes=_ignored(p.key),
                    delete_before_replace=p.delete_before_replace,
                    depends_on=deps,
                ),
            )
            self.resources[p.key] = res
        self.register_outputs({"summary": self.summary})
