"""The whole k3s-home stack through the real engine, plugins and policy pack: preview, up, no-op, destroy."""

from __future__ import annotations

import base64
import json

from lightkube.core.exceptions import ApiError
from lightkube.resources.admissionregistration_v1 import ValidatingAdmissionPolicy
from lightkube.resources.core_v1 import PersistentVolumeClaim, ResourceQuota, Secret
from lightkube.resources.scheduling_v1 import PriorityClass
from lightkube.resources.storage_v1 import StorageClass

from components.gpu.admission import POLICY_NAME
from tests.integration.conftest import ROOT

COMMITTED = ROOT / "Pulumi.k3s-home.yaml"

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
VOLUME_TYPES = ("kubernetes:core/v1:PersistentVolume", "kubernetes:core/v1:PersistentVolumeClaim")

# The live claims the embedded control plane is seeded with and the migration's plan phase adopts.
SEEDED_CLAIMS = [
    (
        "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0",
        "monitoring",
    ),
    ("storage-loki-0", "monitoring"),
    ("bazarr-config-pvc", "media"),
]


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def _steps(events_file) -> dict[str, dict]:
    """The preview's step per resource (type/name), from the engine's event log."""
    out = {}
    for line in events_file.read_text().splitlines():
        meta = json.loads(line).get("resourcePreEvent", {}).get("metadata", {})
        if meta.get("type", "").startswith("kubernetes:"):
            out[f"{meta['type']}::{meta['urn'].rsplit('::', 1)[-1]}"] = meta
    return out


def test_adoption_from_flux_then_lifecycle(stack, kube, stack_run_dir):
    committed = COMMITTED.read_bytes()
    # Step 1: the committed stack file adopts what Flux owns today, exactly as it is live.
    preview = stack("preview")
    assert preview.returncode == 0, _out(preview)
    assert "target: embedded control plane" in preview.stderr
    assert "Verdict: ok to apply" in preview.stdout, _out(preview)
    # The stack file's variant draws the committed pictures: the reviewer is told there is nothing to look at.
    assert "Pictures this config redraws (0; make docs writes them, look at each):" in preview.stdout
    steps = _steps(stack_run_dir / "preview-events.jsonl")
    # The live local-path volumes and claims (seeded as local-path binds them, recorded by
    # record-migration-sources) are imported exactly as they are: no diff, no replace.
    volumes = [m for key, m in steps.items() if key.split("::")[0] in VOLUME_TYPES]
    assert len(volumes) == 2 * 5, volumes  # four monitoring claims and Bazarr's NFS claim, each PV and PVC
    assert {m["op"] for m in volumes} == {"import"}, volumes
    adopted = [m for m in steps.values() if m["op"] == "import"]
    assert [m["urn"] for m in adopted if m.get("diffs")] == []
    # Nothing live is touched: imports and creates of the stack's own new objects only.
    assert {m["op"] for m in steps.values()} == {"import", "create"}, {m["op"] for m in steps.values()}
    kinds = {m["type"].rsplit(":", 1)[-1] for m in adopted}
    assert {"ConfigMap", "HelmRelease"} <= kinds, kinds
    # Flux keeps the GPU classes and slice quotas (cluster.fluxKeeps, ADR 0029): not registered at all.
    assert not [m for m in steps.values() if m["type"].endswith(":PriorityClass")]

    up = stack("up", "--yes")
    assert up.returncode == 0, _out(up)
    # Neither adoption nor the objects Flux keeps changed: the Flux-era values stay until Flux's file says
    # otherwise (the render's edit, ADR 0029).
    assert kube.get(PriorityClass, "normal-gpu").value == 700
    assert "limits.nvidia.com/gpu" in kube.get(ResourceQuota, "gpu-quota", namespace="ai").spec.hard
    assert kube.get(StorageClass, "longhorn-replicated").provisioner == "driver.longhorn.io"

    # Generated credentials reached the cluster and never the console: the client secrets (authentik's
    # side holds exactly the generated values) and the bootstrap password and token.
    def decoded(name: str, ns: str) -> dict[str, str]:
        return {
            k: base64.b64decode(v).decode()
            for k, v in (kube.get(Secret, name, namespace=ns).data or {}).items()
        }

    generated = list(decoded("authentik-sso-client-secrets", "authentik").values())
    boot = decoded("authentik-bootstrap", "authentik")
    generated += [boot["AUTHENTIK_BOOTSTRAP_PASSWORD"], boot["AUTHENTIK_BOOTSTRAP_TOKEN"]]
    assert len(generated) >= 4 and all(len(v) >= 16 for v in generated)
    grafana = decoded("grafana-sso", "monitoring")
    assert grafana["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"] in generated  # delivered to both sides
    console = preview.stdout + preview.stderr + up.stdout + up.stderr
    assert not [v for v in generated if v in console], (
        "a generated secret value appeared in the pulumi output"
    )

    # No Secret the stack created repeats its data in an annotation (server-side apply keeps none).
    for secret in kube.list(Secret, namespace="*"):
        notes = secret.metadata.annotations or {}
        assert LAST_APPLIED not in notes, secret.metadata.name
        values = [base64.b64decode(v).decode(errors="replace") for v in (secret.data or {}).values()]
        exposed = [k for k, note in notes.items() for v in values if len(v) >= 8 and v in note]
        assert not exposed, f"{secret.metadata.namespace}/{secret.metadata.name}: {exposed}"

    noop = stack("preview", "--expect-no-changes")
    assert noop.returncode == 0, _out(noop)

    # destroy goes through the gate: the generated secrets and the releases that own claims are data.
    refused = stack("destroy", "--yes")
    assert refused.returncode == 1, _out(refused)
    blocked = [line.split()[3] for line in refused.stdout.splitlines() if line.startswith("!! delete")]
    assert "ha-control-plane-token" in blocked, _out(refused)
    # The data releases are adopted from Flux (ADR 0003): retained on delete, so listed as data, not blocked.
    assert not any("helmrelease" in name for name in blocked), _out(refused)
    assert "helmrelease-monitoring-loki  [DATA: retained in the cluster]" in refused.stdout, _out(refused)
    destroy = stack("destroy", "--yes", *(a for name in blocked for a in ("--ack", name)))
    assert destroy.returncode == 0, _out(destroy)
    # What the stack created is gone; what it adopted from Flux stays, as Flux left it.
    try:
        kube.get(ValidatingAdmissionPolicy, POLICY_NAME)
        raise AssertionError(f"{POLICY_NAME} survived destroy")
    except ApiError as err:
        assert err.status.code == 404
    assert kube.get(PriorityClass, "normal-gpu").value == 700
    assert kube.get(ResourceQuota, "gpu-quota", namespace="ai").spec.hard
    # Data and credentials are retained on delete: destroy never takes the only copy.
    assert kube.get(Secret, "grafana-sso", namespace="monitoring").data, "app-side SSO Secret not retained"
    for name, ns in SEEDED_CLAIMS:
        assert kube.get(PersistentVolumeClaim, name, namespace=ns).status.phase == "Bound"
    # Every CLI call ran in the driver's own project directory: the committed stack file got no salt, and
    # no reformatting (the CLI rewrites the stack file of the directory it runs in).
    assert COMMITTED.read_bytes() == committed
