"""The component's GPU guard rails applied to the embedded API server, beside a globalDefault class.

Shared by the admission tests and the differential test: the objects are the component's own builders
over a stack config, applied as step 2 of the handover does (ADR 0003). Afterwards what the test created
is removed and what was live before (the seeded Flux baseline, or a developer's `make up`) is put back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod, ResourceQuota
from lightkube.resources.scheduling_v1 import PriorityClass

from components.config import StackConfig
from components.gpu.admission import admission_policy
from components.gpu.priority import priority_classes
from components.gpu.quotas import QUOTA_NAME, resource_quotas
from tests.integration.waiting import until

MANAGER = "k3s-home-gpu-test"
LABEL = {"k3s-home-test": "gpu-admission"}


def quota_computed(kube: Client, ns: str) -> bool:
    """kube-controller-manager computed the slice quota's status (quota admission refuses pods until then)."""
    q = kube.get(ResourceQuota, QUOTA_NAME, namespace=ns)
    return bool(q.status) and (q.status.hard or {}) == q.spec.hard


def quota_idle(kube: Client, ns: str) -> bool:
    """Computed, and nothing charged: no pod holds a slice in `ns`."""
    q = kube.get(ResourceQuota, QUOTA_NAME, namespace=ns)
    used = (q.status.used or {}) if q.status else {}
    return quota_computed(kube, ns) and all(str(v) == "0" for v in used.values())


def delete_test_pods(kube: Client, namespaces: list[str]) -> None:
    for ns in namespaces:
        for p in kube.list(Pod, namespace=ns, labels=LABEL):
            kube.delete(Pod, p.metadata.name, namespace=ns, grace_period=0)


def _exists(kube: Client, obj: dict) -> bool:
    meta = obj["metadata"]
    try:
        kube.get(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace"))
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
    return True


def _snapshot(kube: Client, obj: dict) -> dict:
    meta = obj["metadata"]
    found = kube.get(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace")).to_dict()
    for server_set in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        found["metadata"].pop(server_set, None)
    found.pop("status", None)
    return found


def _delete(kube: Client, obj: dict) -> None:
    meta = obj["metadata"]
    kube.delete(type(codecs.from_dict(obj)), meta["name"], namespace=meta.get("namespace"))


def _apply_as_step_two(kube: Client, obj: dict) -> None:
    """Apply the stack's object over the live one as step 2 of the handover does (ADR 0003): a
    PriorityClass whose value changes is deleted and created again (the value is immutable)."""
    changes_value = obj["kind"] == "PriorityClass" and _exists(kube, obj)
    if changes_value and kube.get(PriorityClass, obj["metadata"]["name"]).value != obj["value"]:
        _delete(kube, obj)
    kube.apply(codecs.from_dict(obj), field_manager=MANAGER, force=True)


def wait_enforced(kube: Client, probe: dict, refused_with: str | None) -> None:
    """Policy changes reach admission a moment later: wait until a dry run of `probe` is refused with a
    message containing `refused_with` (text only the intended version of the policy gives), or admitted
    when `refused_with` is None."""

    def settled() -> bool:
        try:
            kube.create(codecs.from_dict(probe), dry_run=True)
        except ApiError as err:
            return refused_with is not None and refused_with in str(err.status.message)
        return refused_with is None

    until(f"the probe pod to be {'refused: ' + refused_with if refused_with else 'admitted'}", settled)


def own_class_refusal(config: StackConfig, namespace: str) -> str:
    """What the policy of `config` says to a GPU pod without the tenant's class in `namespace`."""
    tenant = next(t for t in config.gpu.tenants if t.namespace == namespace)
    return f"in GPU tenant namespace {namespace} and must set priorityClassName: {tenant.priority_class_name}"


def probe_pod(namespace: str, init_gpu: str | None = None, gpu: str | None = None) -> dict:
    """A pod without a class asking for one slice (in an init container or an app container)."""
    block = lambda res: {"resources": {"limits": {res: "1"}}} if res else {}  # noqa: E731
    spec = {
        "containers": [{"name": "app", "image": "registry.invalid/pause:3.10", **block(gpu)}],
        "initContainers": [{"name": "init", "image": "registry.invalid/pause:3.10", **block(init_gpu)}],
    }
    meta = {"name": "vap-probe", "namespace": namespace, "labels": LABEL}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@contextmanager
def guarded(kube: Client, config: StackConfig) -> Iterator[dict]:
    """Apply the component's GPU objects; yield the tenant namespaces and the default class; clean up."""
    gpu = config.gpu
    created_default: str | None = None
    live_default = [pc.metadata.name for pc in kube.list(PriorityClass) if pc.globalDefault]
    wanted = config.cluster.global_default()
    assert wanted is not None, (
        "the real cluster has a globalDefault PriorityClass; the stack config must say so"
    )
    if not live_default:  # like the live cluster: Priority admission fills it in before validation
        kube.create(
            codecs.from_dict(
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": wanted.name, "labels": LABEL},
                    "value": wanted.value,
                    "globalDefault": True,
                }
            )
        )
        created_default = wanted.name
        live_default = [wanted.name]
    namespaces = [t.namespace for t in gpu.tenants]
    new_namespaces = [ns for ns in namespaces if not _exists(kube, _namespace(ns))]
    for ns in namespaces:
        kube.apply(Namespace(metadata=ObjectMeta(name=ns)), field_manager=MANAGER)
    delete_test_pods(kube, namespaces)
    objects = [*priority_classes(gpu), *resource_quotas(gpu), *admission_policy(gpu)]
    ours = [obj for obj in objects if not _exists(kube, obj)]
    # What Flux keeps live (the seeded baseline) is put back afterwards, as it was.
    live = [_snapshot(kube, obj) for obj in objects if obj not in ours]
    for obj in objects:
        _apply_as_step_two(kube, obj)
    for ns in namespaces:
        until(f"quota {ns}/{QUOTA_NAME} to be computed", lambda ns=ns: quota_computed(kube, ns))
    # The probe's refusal names this config's tenant: a previous version of the policy would not.
    probe = probe_pod(namespaces[-1], gpu=gpu.pools[0].advertised)
    wait_enforced(kube, probe, own_class_refusal(config, namespaces[-1]))
    try:
        yield {"namespaces": namespaces, "default": live_default[0]}
    finally:
        delete_test_pods(kube, namespaces)
        for obj in reversed(ours):
            if obj["metadata"].get("namespace") not in new_namespaces:
                _delete(kube, obj)
        for obj in live:
            _delete(kube, obj)
            kube.create(codecs.from_dict(obj))
        for ns in new_namespaces:
            kube.delete(Namespace, ns)
        if created_default:
            kube.delete(PriorityClass, created_default)


def _namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
