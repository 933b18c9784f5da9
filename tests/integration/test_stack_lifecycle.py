"""The whole k3s-home stack through the real engine, plugins and policy pack: preview, up, no-op, destroy."""

from __future__ import annotations

import base64

from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import PersistentVolumeClaim, ResourceQuota, Secret
from lightkube.resources.scheduling_v1 import PriorityClass
from lightkube.resources.storage_v1 import StorageClass

# The live claims the embedded control plane is seeded with and the migration's plan phase adopts.
SEEDED_CLAIMS = [
    (
        "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
        "monitoring",
    ),
    ("bazarr-config", "media"),
]


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def test_preview_up_noop_destroy(stack, kube):
    preview = stack("preview")
    assert preview.returncode == 0, _out(preview)
    assert "target: embedded control plane" in preview.stderr
    assert "Verdict: ok to apply" in preview.stdout, _out(preview)

    up = stack("up", "--yes")
    assert up.returncode == 0, _out(up)

    normal = kube.get(PriorityClass, "normal-gpu")
    assert (normal.value, bool(normal.globalDefault)) == (100, False)
    assert kube.get(PriorityClass, "critical-gpu").value == 1000
    quotas = list(kube.list(ResourceQuota, namespace="ai"))
    assert quotas and all(not k.startswith("limits.") for q in quotas for k in q.spec.hard)
    assert kube.get(StorageClass, "longhorn-replicated").provisioner == "driver.longhorn.io"

    # Generated credentials reached the cluster and never the console.
    generated = [
        base64.b64decode(v).decode()
        for s in kube.list(Secret, namespace="monitoring")
        for v in (s.data or {}).values()
        if s.type == "Opaque"
    ]
    assert generated, "expected app-side Secrets in namespace monitoring"
    console = preview.stdout + preview.stderr + up.stdout + up.stderr
    leaked = [v for v in generated if len(v) >= 16 and v in console]
    assert not leaked, "a generated secret value appeared in the pulumi output"

    noop = stack("preview", "--expect-no-changes")
    assert noop.returncode == 0, _out(noop)

    unprotect = stack("state", "unprotect", "--all", "--yes")
    assert unprotect.returncode == 0, _out(unprotect)
    destroy = stack("destroy", "--yes")
    assert destroy.returncode == 0, _out(destroy)
    try:
        kube.get(PriorityClass, "normal-gpu")
        raise AssertionError("normal-gpu survived destroy")
    except ApiError as err:
        assert err.status.code == 404
    # Data and credentials are retained on delete: destroy never takes the only copy.
    assert kube.get(Secret, "grafana-sso", namespace="monitoring").data, "app-side SSO Secret not retained"
    for name, ns in SEEDED_CLAIMS:
        assert kube.get(PersistentVolumeClaim, name, namespace=ns).status.phase == "Bound"
