"""The bounded wait before a claim is replaced: who holds it, and the message that names them."""

from __future__ import annotations

import pytest

from components.storage.claim_users import POLL_SECONDS, ClaimInUse, users, wait_until_free


def pod(name: str, claim: str, phase: str = "Running", node: str | None = "k3s1", job: str | None = None):
    owners = [{"kind": "Job", "name": job}] if job else []
    return {
        "metadata": {"name": name, "ownerReferences": owners},
        "spec": {
            "nodeName": node,
            "volumes": [{"name": "src", "persistentVolumeClaim": {"claimName": claim}}, {"name": "x"}],
        },
        "status": {"phase": phase},
    }


def test_a_completed_job_pod_still_uses_the_claim() -> None:
    """As pvc-protection counts it: any scheduled pod that names the claim, whatever its phase."""
    pods = [
        pod("copy-abc", "data", "Succeeded", job="mig-copy-1"),
        pod("failed", "data", "Failed"),
        pod("pending-unscheduled", "data", "Pending", node=None),  # not scheduled: no user
        pod("other", "other-claim"),
    ]
    assert users(pods, "data") == ["copy-abc (Succeeded, Job mig-copy-1)", "failed (Failed)"]
    assert users(pods, "nothing") == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_as_soon_as_the_last_user_is_gone() -> None:
    clock = FakeClock()
    answers = [[pod("loki-0", "storage-loki-0")], [pod("loki-0", "storage-loki-0", "Succeeded")], []]
    wait_until_free(lambda: answers.pop(0), "monitoring", "storage-loki-0", 60, clock, clock.sleep)
    assert answers == [] and clock.sleeps == [POLL_SECONDS, POLL_SECONDS]


def test_gives_up_after_the_bound_naming_the_pod() -> None:
    clock = FakeClock()
    held = [pod("bazarr-pilot-verify-x", "bazarr-config-pvc", "Succeeded", job="bazarr-pilot-verify-1")]
    with pytest.raises(ClaimInUse) as err:
        wait_until_free(lambda: held, "media", "bazarr-config-pvc", 10, clock, clock.sleep)
    msg = str(err.value)
    assert msg.startswith(
        "claim media/bazarr-config-pvc is still used by pod "
        "bazarr-pilot-verify-x (Succeeded, Job bazarr-pilot-verify-1) after 10 s"
    )
    assert "Nothing was deleted" in msg and "detach" in msg
    assert clock.now >= 10 and clock.now <= 10 + POLL_SECONDS  # bounded: no poll past the deadline
