"""Server-side-apply patches that hold the owners still while their data moves, as Flux users do it.

Flux keeps reconciling a HelmRelease unless it is suspended, and a chart may not be able to express
"0 replicas" at all (loki 5.42.0 renders at least 1). So the migration does not touch the release values:
it suspends the release (`spec.suspend`), then sets the workload's replicas with a patch. Each patch is
its own object under its own field manager (`k3s-home-<migration>-<purpose>`), one patch per object: two
patches of one object under one manager would take each other's fields away (an apply names every field
its manager owns), and under two managers they would flip the manager annotation at every apply.
`pulumi.com/patchForce` takes the fields over from their previous manager (helm-controller, the seed).

Deleting a patch resource relinquishes its fields; a field no other manager holds is then reset, so the
patches stay for as long as the migration entry exists.
"""

from __future__ import annotations

from components.config.migration import MigratedClaim, Migration, Owner

FORCE = {"pulumi.com/patchForce": "true"}


def field_manager(m: Migration, purpose: str) -> str:
    return f"k3s-home-{m.name}-{purpose}"


def _meta(m: Migration, purpose: str, name: str, namespace: str) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "annotations": {**FORCE, "pulumi.com/patchFieldManager": field_manager(m, purpose)},
    }


def reclaim_patch(m: Migration, c: MigratedClaim) -> dict:
    """The source PV's reclaim policy set to Retain, first of all: the live PV stays imported as it was
    (its provisioner owns the field), and only this patch's manager takes `persistentVolumeReclaimPolicy`."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": c.source.volume,
            "annotations": {**FORCE, "pulumi.com/patchFieldManager": field_manager(m, "retain")},
        },
        "spec": {"persistentVolumeReclaimPolicy": "Retain"},
    }


def suspend_patch(m: Migration, release: str, suspend: bool) -> dict:
    """`spec.suspend` of the owning HelmRelease: true from copy until the cutover is verified."""
    namespace, name = release.split("/")
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": _meta(m, "suspend", name, namespace),
        "spec": {"suspend": suspend},
    }


RETAIN_CLAIMS = {"whenDeleted": "Retain", "whenScaled": "Retain"}


def scale_patch(m: Migration, owner: Owner, namespace: str, replicas: int) -> dict:
    """The owner's `spec.replicas`, held under the stack's field manager. For a StatefulSet the same apply
    sets its claim retention to Retain/Retain: loki 5.42.0 renders `whenScaled: Delete`, which deletes
    `storage-loki-0` on scale-down. In one write the controller never sees 0 replicas with Delete. (Not a
    patch of its own: the manager's name travels in an annotation of the object, and two names on one
    object flip at every apply.)"""
    spec: dict = {"replicas": replicas}
    if owner.kind == "StatefulSet":
        spec["persistentVolumeClaimRetentionPolicy"] = dict(RETAIN_CLAIMS)
    return {
        "apiVersion": "apps/v1",
        "kind": owner.kind,
        "metadata": _meta(m, "scale", owner.name, namespace),
        "spec": spec,
    }


def operator_scale_patch(m: Migration, owner: Owner, namespace: str, replicas: int) -> dict | None:
    """The operator's custom resource at the same replicas, or prometheus-operator scales the StatefulSet
    back to the resource's count at its next reconcile."""
    op = owner.operator
    if op is None:
        return None
    return {
        "apiVersion": op.api_version,
        "kind": op.kind,
        "metadata": _meta(m, "scale", op.name, namespace),
        "spec": {"replicas": replicas},
    }
