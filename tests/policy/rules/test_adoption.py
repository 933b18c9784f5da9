"""Findings about an object adopted as live are advisory, with the reason; the rest are untouched."""

from __future__ import annotations

from rules import Finding, Severity
from rules.adoption import NOTE, as_live

QUOTA = {"kind": "ResourceQuota", "metadata": {"name": "gpu-quota", "namespace": "media"}}


def test_a_finding_about_the_adopted_object_is_advisory_with_the_reason():
    per_object = Finding("gpu-oversubscription", "ResourceQuota media/gpu-quota: key limits.x untracked")
    per_namespace = Finding(
        "gpu-oversubscription", "namespace media: quota is 0, below 2", path="ResourceQuota media.spec.hard.x"
    )
    [a, b] = as_live([per_object, per_namespace], [QUOTA])
    assert (a.severity, b.severity) == (Severity.ADVISORY, Severity.ADVISORY)
    assert a.message.endswith(f"({NOTE})") and b.message.startswith("namespace media: quota is 0")


def test_findings_about_other_objects_stay_mandatory():
    other = Finding("gpu-oversubscription", "ResourceQuota ai/gpu-quota: key limits.x is never tracked")
    elsewhere = Finding("gpu-oversubscription", "namespace ai: below", path="ResourceQuota ai.spec.hard.x")
    assert as_live([other, elsewhere], [QUOTA]) == [other, elsewhere]
    assert as_live([other], []) == [other]
