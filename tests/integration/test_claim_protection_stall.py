"""The pvc-protection stall of the old phase order, reproduced on the embedded cluster, and the new order.

Old order: the copy/verify Jobs were kept through cutover, which deleted the claim and created it again.
kube-controller-manager's pvc-protection controller keeps a deleted claim while any scheduled pod names
it, whatever the pod's phase, so a completed Job pod holds it Terminating and the claim of the same name
cannot be created: the owners stay at 0. New order (components/storage/phases.py): phase `detach` deletes
the Jobs with foreground propagation (their pods first) in an `up` of its own, and cutover first waits,
bounded, until no pod uses the claim (components/storage/claim_users.py), naming any pod that still does.
"""

from __future__ import annotations

import contextlib

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, PersistentVolume, PersistentVolumeClaim, Pod
from lightkube.types import CascadeType

from components.storage.claim_users import ClaimInUse, wait_until_free
from tests.integration.lookup import get_or_none
from tests.integration.waiting import until

NS = "k3s-home-stall-it"
PV = "pv-k3s-home-stall-it"
CLAIM = "data"
JOB = "copy-data"


def _pv() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": PV},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "local": {"path": f"/var/lib/rancher/k3s/storage/{PV}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["k3s1"]}
                            ]
                        }
                    ]
                }
            },
            "claimRef": {"namespace": NS, "name": CLAIM},
        },
    }


def _claim() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": CLAIM, "namespace": NS},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": PV,
        },
    }


def _job() -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": JOB, "namespace": NS},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "copy", "image": "docker.io/library/python:3.12.11-alpine3.22"}],
                    "volumes": [
                        {"name": "src", "persistentVolumeClaim": {"claimName": CLAIM, "readOnly": True}}
                    ],
                }
            },
        },
    }


def _pods(kube: Client) -> list[dict]:
    return [p.to_dict() for p in kube.list(Pod, namespace=NS)]


def _completed_job_on_a_bound_claim(kube: Client) -> str:
    kube.create(codecs.from_dict(_pv()))
    kube.create(codecs.from_dict(_claim()))
    until(
        "the claim to bind",
        lambda: (c := get_or_none(kube, PersistentVolumeClaim, CLAIM, NS)) and c.status.phase == "Bound",
    )
    kube.create(codecs.from_dict(_job()))
    until(
        "the Job to complete",
        lambda: (j := kube.get(Job, JOB, namespace=NS)).status and j.status.succeeded == 1,
    )
    (pod,) = kube.list(Pod, namespace=NS, labels={"job-name": JOB})
    assert pod.status.phase == "Succeeded" and pod.spec.nodeName == "k3s1"
    return pod.metadata.name


@pytest.fixture
def namespace(kube: Client):
    kube.create(Namespace(metadata=ObjectMeta(name=NS)))
    yield NS
    with contextlib.suppress(ApiError):
        kube.delete(Job, JOB, namespace=NS, cascade=CascadeType.FOREGROUND)
    kube.delete(Namespace, NS)
    until("the test namespace to go", lambda: get_or_none(kube, Namespace, NS) is None, 120)
    if get_or_none(kube, PersistentVolume, PV) is not None:
        kube.delete(PersistentVolume, PV)


def test_old_order_a_completed_job_pod_keeps_the_claim_terminating(kube: Client, namespace: str) -> None:
    pod = _completed_job_on_a_bound_claim(kube)
    # Cutover in the old order: the Job kept, the claim deleted and created again under its name.
    kube.delete(PersistentVolumeClaim, CLAIM, namespace=NS)
    old = kube.get(PersistentVolumeClaim, CLAIM, namespace=NS)
    assert old.metadata.deletionTimestamp is not None
    assert "kubernetes.io/pvc-protection" in old.metadata.finalizers
    with pytest.raises(ApiError) as err:
        kube.create(codecs.from_dict(_claim()))
    assert err.value.status.code == 409  # AlreadyExists: the recreated claim cannot be made
    # The new order's check names the pod that holds it (a short bound here; the phase uses 120 s).
    with pytest.raises(ClaimInUse, match=f"still used by pod {pod} \\(Succeeded, Job {JOB}\\)"):
        wait_until_free(lambda: _pods(kube), NS, CLAIM, timeout=5)
    # Still Terminating after that wait: nothing but the pod's deletion releases it.
    assert kube.get(PersistentVolumeClaim, CLAIM, namespace=NS).metadata.deletionTimestamp is not None
    kube.delete(Job, JOB, namespace=NS, cascade=CascadeType.FOREGROUND)
    until(
        "the stalled claim to go once the pod is gone",
        lambda: get_or_none(kube, PersistentVolumeClaim, CLAIM, NS) is None,
    )


def test_new_order_jobs_go_first_then_the_claim_is_replaced_at_once(kube: Client, namespace: str) -> None:
    _completed_job_on_a_bound_claim(kube)
    # Phase detach: the Job deleted with foreground propagation, as the provider does; its pod goes first.
    kube.delete(Job, JOB, namespace=NS, cascade=CascadeType.FOREGROUND)
    until("the Job and its pod to go", lambda: get_or_none(kube, Job, JOB, NS) is None and not _pods(kube))
    # Phase cutover: the bounded check passes at once, the claim is deleted and recreated.
    wait_until_free(lambda: _pods(kube), NS, CLAIM, timeout=5)
    kube.delete(PersistentVolumeClaim, CLAIM, namespace=NS)
    until("the claim to be deleted", lambda: get_or_none(kube, PersistentVolumeClaim, CLAIM, NS) is None)
    kube.create(codecs.from_dict(_claim()))
    assert kube.get(PersistentVolumeClaim, CLAIM, namespace=NS).metadata.deletionTimestamp is None
