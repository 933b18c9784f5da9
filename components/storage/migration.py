"""`VolumeMigration`: one configured migration in its configured phase, registered as Pulumi resources."""

from __future__ import annotations

import pulumi

from components.config import StackConfig
from components.config.migration import Migration
from components.resources import register, registered
from components.storage.actions import summary
from components.storage.phases import phase_objects
from rules.data_loss import Phase

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
            if not registered(p.import_id):
                continue
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
                    ignore_changes=LIVE_BOOKKEEPING if p.key.startswith(LIVE_KEYS) else None,
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
