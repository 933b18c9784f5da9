"""The copy and verify Jobs stay within the Pod Security baseline profile."""

from __future__ import annotations

import pytest

from components.storage.jobs import copy_job

# k8s.io/pod-security-admission v0.36.3, policy/check_capabilities_baseline.go (capabilities_allowed_1_0).
# tests/integration/test_migration_objects.py checks the same against the real API server's PodSecurity.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


@pytest.mark.parametrize("action", ["copy", "verify"])
def test_capabilities_are_within_the_baseline_profile(real_config, action) -> None:
    storage = real_config.storage
    m = storage.migrations[0]
    job = copy_job(storage, m, m.pvcs[0], action)
    (ctr,) = job["spec"]["template"]["spec"]["containers"]
    caps = ctr["securityContext"]["capabilities"]
    assert caps["drop"] == ["ALL"]
    assert set(caps["add"]) <= BASELINE_CAPABILITIES
    assert "DAC_OVERRIDE" in caps["add"]  # reads every file whatever its mode (covers DAC_READ_SEARCH)
