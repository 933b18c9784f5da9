"""Plain Kubernetes object dicts to typed pulumi_kubernetes resources, for every component.

Builders return plain dicts (so tests and rules see exactly what is registered); this is the one place
that turns them into resources. Kinds without a typed class become CustomResources (CRDs).
"""

from __future__ import annotations

import base64
import re

import pulumi
import pulumi_kubernetes as k8s


def logical_name(obj: dict) -> str:
    """`kind-namespace-name` in kebab case: a stable Pulumi name suffix for an object."""
    meta = obj["metadata"]
    kind = re.sub(r"(?<!^)(?=[A-Z])", "-", obj["kind"]).lower()
    return "-".join(x for x in (kind, meta.get("namespace"), meta["name"]) if x)


# Every top-level input of the kinds the stack may adopt. An adopted object is imported with all of them
# ignored, so the import takes the live object exactly as Flux left it (an import with a difference
# fails); the stack's own values apply in the next reviewed preview, once its `cluster.adopt` entry is
# removed (ADR 0003).
ADOPTED_AS_LIVE = [
    "metadata",
    "spec",
    "data",
    "binaryData",
    "stringData",
    "value",
    "description",
    "globalDefault",
    "preemptionPolicy",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "allowVolumeExpansion",
    "volumeBindingMode",
]


def secret_data(values: dict) -> dict:
    """A Secret's `data`: each value base64-encoded, kept secret. Not `stringData`: the kubernetes
    provider folds stringData into data when it checks inputs, so a plan saved by `make preview` would
    no longer match at `make up` ("violates plan: properties changed")."""
    return {
        key: pulumi.Output.secret(
            pulumi.Output.from_input(value).apply(lambda v: base64.b64encode(v.encode()).decode())
        )
        for key, value in values.items()
    }


# The kubernetes provider's own option: set, it writes manifests into that directory instead of calling the
# API server. `make render` (gitops/) sets it for GitOps mode (ADR 0019).
RENDER_CONFIG = "renderYamlToDirectory"


def rendering() -> bool:
    """GitOps mode: the kubernetes provider renders manifests for Flux instead of applying them."""
    return bool(pulumi.Config("kubernetes").get(RENDER_CONFIG))


def registered(import_id: str | None) -> bool:
    """Whether a live object a migration takes over (a volume, a claim) is registered. In GitOps mode it
    is not: it belongs to the cluster, not to a repo, and the provider cannot import without a cluster."""
    return import_id is None or not rendering()


def adoption(adopt_id: str | None) -> dict:
    """Resource options for an object taken over from Flux: imported as live, never deleted by us.

    In GitOps mode nothing is imported: the object is rendered with the stack's values (so the pack judges
    the same objects in both modes), and `make render` leaves it out of the repo while it is still adopted,
    since Flux's own file keeps it until step 2 of the handover (ADR 0003, ADR 0019)."""
    if adopt_id is None or rendering():
        return {}
    return {"import_": adopt_id, "ignore_changes": ADOPTED_AS_LIVE, "retain_on_delete": True}


def register(rname: str, obj: dict, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """A typed pulumi_kubernetes resource for a plain object dict (CustomResource for CRDs)."""
    kind, meta = obj["kind"], obj["metadata"]
    if kind == "PriorityClass":
        return k8s.scheduling.v1.PriorityClass(
            rname,
            metadata=meta,
            value=obj["value"],
            global_default=obj["globalDefault"],
            description=obj["description"],
            opts=opts,
        )
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(rname, metadata=meta, data=obj["data"], opts=opts)
    typed = {
        "ResourceQuota": k8s.core.v1.ResourceQuota,
        "PersistentVolume": k8s.core.v1.PersistentVolume,
        "PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
        "Job": k8s.batch.v1.Job,
        "ValidatingAdmissionPolicy": k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
        "ValidatingAdmissionPolicyBinding": k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
    }.get(kind)
    if typed is not None:
        return typed(rname, metadata=meta, spec=obj["spec"], opts=opts)
    return k8s.apiextensions.CustomResource(
        rname, api_version=obj["apiVersion"], kind=kind, metadata=meta, spec=obj["spec"], opts=opts
    )
