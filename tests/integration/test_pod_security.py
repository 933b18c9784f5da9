"""The copy and verify Jobs' pods against the real API server's PodSecurity admission (baseline enforced)."""

from __future__ import annotations

import copy

import pytest
from lightkube import Client, codecs
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from components.config import StackConfig
from components.storage.jobs import copy_job

pytestmark = pytest.mark.integration

NS = "k3s-home-pss-baseline-it"
MANAGER = "k3s-home-pss-test"


@pytest.fixture(scope="module")
def baseline(kube: Client):
    labels = {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    kube.apply(Namespace(metadata=ObjectMeta(name=NS, labels=labels)), field_manager=MANAGER)
    yield NS
    kube.delete(Namespace, NS)


def _pod(config: StackConfig, action: str) -> dict:
    storage = config.storage
    m = storage.migrations[0]
    job = copy_job(storage, m, m.pvcs[0], action)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pss-{action}", "namespace": NS},
        "spec": copy.deepcopy(job["spec"]["template"]["spec"]),
    }


@pytest.mark.parametrize("action", ["copy", "verify"])
def test_the_jobs_pods_pass_the_baseline_profile(kube: Client, baseline, real_config, action) -> None:
    pod = _pod(real_config, action)
    made = kube.create(codecs.from_dict(pod), dry_run=True)
    assert made.metadata.namespace == NS


def test_baseline_refuses_dac_read_search(kube: Client, baseline, real_config) -> None:
    """The check above can fail: the capability the Job used to add is refused here."""
    pod = _pod(real_config, "copy")
    pod["spec"]["containers"][0]["securityContext"]["capabilities"]["add"].append("DAC_READ_SEARCH")
    with pytest.raises(ApiError) as err:
        kube.create(codecs.from_dict(pod), dry_run=True)
    assert err.value.status.code == 403
    assert 'violates PodSecurity "baseline:latest"' in err.value.status.message
    assert "DAC_READ_SEARCH" in err.value.status.message
