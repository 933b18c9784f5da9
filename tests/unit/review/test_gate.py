"""The review gate over engine events: one screen for the reviewer, and the data-loss stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pulumi.automation import events as auto

from review.gate import COLLISION_HEADING, component_of, exit_code, main, render, summarize
from tests.conftest import TEST_TODAY

STACK_FILE = Path(__file__).resolve().parents[3] / "Pulumi.k3s-home.yaml"
PREFIX = "urn:pulumi:k3s-home::k3s-home::"
GPU = "k3s:gpu:GpuManagement"
STORAGE = "k3s:storage:MonitoringStorage"
PVC_TYPE = "kubernetes:core/v1:PersistentVolumeClaim"
PROM_PVC = "prometheus-kube-prometheus-stack-prometheus-db-prometheus-kube-prometheus-stack-prometheus-0"


@pytest.fixture(autouse=True)
def no_kubeconfig(monkeypatch):
    """The gate asks the cluster of $KUBECONFIG about creates; these tests are about the events alone."""
    monkeypatch.delenv("KUBECONFIG", raising=False)


def urn(typ: str, name: str, parent: str | None = None) -> str:
    return f"{PREFIX}{parent + '$' if parent else ''}{typ}::{name}"


def step(op: str, u: str, k8s: tuple[str, str] | None = None, keys: list[str] | None = None) -> dict:
    meta: dict = {
        "op": op,
        "urn": u,
        "type": u.split("::")[2].rsplit("$", 1)[-1],
        "provider": "",
        "diffs": keys or [],
    }
    if keys:
        meta["keys"] = keys
    if k8s:
        state = {
            "urn": u,
            "type": meta["type"],
            "inputs": {"metadata": {"namespace": k8s[0], "name": k8s[1]}},
        }
        meta["old"] = state
    return {"sequence": 1, "timestamp": 0, "resourcePreEvent": {"metadata": meta, "planning": True}}


def violation(policy: str, level: str = "mandatory", u: str = "") -> dict:
    return {
        "policyEvent": {
            "policyName": policy,
            "policyPackName": "k3s-home-directive",
            "policyPackVersion": "0.1.0",
            "enforcementLevel": level,
            # The engine's format: the policy's description, then the violation.
            "message": f"Directive text of {policy}\n{policy} says no\n",
            "resourceUrn": u,
            "color": "never",
        }
    }


SUMMARY = {
    "summaryEvent": {"maybeCorrupt": False, "durationSeconds": 3, "resourceChanges": {}, "policyPacks": {}}
}
PVC = urn(PVC_TYPE, "prometheus-db", STORAGE)
QUOTA = urn("kubernetes:core/v1:ResourceQuota", "ai-gpu", GPU)
PC = urn("kubernetes:scheduling.k8s.io/v1:PriorityClass", "normal-gpu", GPU)
CM = urn("kubernetes:core/v1:ConfigMap", "dashboards", STORAGE)


def pvc_replace() -> list[dict]:
    # The engine emits three steps for one replacement; the gate shows it once.
    k8s = ("monitoring", PROM_PVC)
    return [
        step("create-replacement", PVC, k8s, ["spec.storageClassName"]),
        step("replace", PVC, k8s, ["spec.storageClassName"]),
        step("delete-replaced", PVC, k8s, ["spec.storageClassName"]),
    ]


def clean() -> list[dict]:
    return [
        step("same", urn("pulumi:pulumi:Stack", "k3s-home-k3s-home")),
        step("create", urn(GPU, "gpu")),
        step("create", QUOTA),
        step("update", CM),
        step("same", urn("kubernetes:core/v1:Namespace", "ai")),
        SUMMARY,
    ]


def test_clean_preview_passes():
    summary = summarize(clean(), set())
    assert exit_code(summary) == 0
    assert {c: dict(n) for c, n in summary.counts.items()} == {GPU: {"create": 2}, STORAGE: {"update": 1}}
    assert "Verdict: ok to apply" in render(summary)


def test_pvc_replace_without_ack_blocks():
    summary = summarize([*clean()[:-1], *pvc_replace(), SUMMARY], set())
    assert exit_code(summary) == 1
    [blocked] = summary.blocking_changes
    assert (blocked.urn, blocked.kind, blocked.replace_keys) == (PVC, "replace", ("spec.storageClassName",))
    text = render(summary)
    assert "[DATA: NOT acknowledged]" in text and "replaced because of spec.storageClassName" in text
    assert "1 data-bearing delete/replace without acknowledgement" in text


def test_pvc_replace_acknowledged_by_urn_passes():
    summary = summarize([*pvc_replace(), SUMMARY], {PVC})
    assert exit_code(summary) == 0
    assert "[DATA: acknowledged]" in render(summary)


def test_pvc_replace_acknowledged_by_namespace_and_name_passes():
    assert exit_code(summarize([*pvc_replace(), SUMMARY], {f"monitoring/{PROM_PVC}"})) == 0
    assert exit_code(summarize([*pvc_replace(), SUMMARY], {f"media/{PROM_PVC}"})) == 1


def test_delete_of_a_data_bearing_resource_blocks_and_non_data_delete_does_not():
    sts = urn("kubernetes:apps/v1:StatefulSet", "loki", STORAGE)
    assert exit_code(summarize([step("delete", sts), SUMMARY], set())) == 1
    assert exit_code(summarize([step("discard", sts), SUMMARY], set())) == 1
    assert exit_code(summarize([step("delete", CM), SUMMARY], set())) == 0


def test_mandatory_policy_violation_blocks_and_advisory_does_not():
    assert exit_code(summarize([*clean(), violation("privileged-container", u=QUOTA)], set())) == 1
    assert exit_code(summarize([*clean(), violation("directive-drift-advisory", "advisory", PC)], set())) == 0


def test_violations_are_grouped_by_directive_rule():
    events = [
        *clean(),
        violation("gpu-oversubscription"),
        violation("secret-plaintext-advisory", "advisory", CM),
        violation("secret-plaintext", u=CM),
    ]
    summary = summarize(events, set())
    groups = {text: [v.policy for v in vs] for text, vs in summary.violations.items()}
    assert groups == {
        "Prohibition 5: NO GPU oversubscription beyond defined limits": ["gpu-oversubscription"],
        "Mandatory practice 4: ALL secrets SOPS-encrypted": ["secret-plaintext", "secret-plaintext-advisory"],
    }
    text = render(summary)
    assert "[mandatory] secret-plaintext: secret-plaintext says no  (dashboards)" in text
    assert "Directive text of" not in text  # the group heading already says it


def test_deletes_and_replaces_are_listed_first():
    events = [step("create", QUOTA), step("update", CM), step("delete", PC), *pvc_replace(), SUMMARY]
    summary = summarize(events, set())
    assert [c.kind for c in summary.changes] == ["replace", "delete", "update", "create"]
    text = render(summary)
    assert text.index("Deletes and replaces (2):") < text.index("Changes per component:")
    first_lines = text.split("Deletes and replaces (2):\n", 1)[1].splitlines()[:2]
    assert first_lines[0].startswith("!! replace") and first_lines[1].lstrip().startswith("delete")


def test_unfinished_preview_blocks():
    summary = summarize(clean()[:-1], set())
    assert exit_code(summary) == 1
    assert "the preview did not finish" in render(summary)


def test_error_diagnostics_block():
    events = [
        *clean(),
        {"diagnosticEvent": {"message": "boom\ntrace", "severity": "error", "color": "never"}},
    ]
    assert exit_code(summarize(events, set())) == 1


def test_component_is_the_first_type_in_the_chain():
    assert component_of(QUOTA) == GPU
    assert component_of(urn("kubernetes:core/v1:Namespace", "ai")) == "kubernetes:core/v1:Namespace"
    nested = f"{PREFIX}{GPU}$k3s:gpu:Quotas$kubernetes:core/v1:ResourceQuota::q"
    assert component_of(nested) == GPU


def test_automation_api_events_summarize_like_the_event_log():
    objects = [auto.EngineEvent.from_json(e) for e in [*pvc_replace(), violation("storage-class"), SUMMARY]]
    from_objects = summarize(objects, set())
    from_dicts = summarize([*pvc_replace(), violation("storage-class"), SUMMARY], set())
    assert from_objects.changes == from_dicts.changes
    assert from_objects.violations == from_dicts.violations
    assert exit_code(from_objects) == 1


# --- CLI ---------------------------------------------------------------------------------------------


def write_log(path: Path, events: list[dict], torn_tail: bool = False) -> Path:
    text = "".join(json.dumps(e) + "\n" for e in events)
    path.write_text(text + ('{"sequence": 9, "resourcePre' if torn_tail else ""))
    return path


def test_cli_blocks_and_acks_and_writes_the_summary(tmp_path, capsys):
    log = write_log(tmp_path / "events.jsonl", [*pvc_replace(), SUMMARY], torn_tail=True)
    config = ["--config", str(STACK_FILE)]
    assert main([str(log), *config]) == 1
    assert "[DATA: NOT acknowledged]" in capsys.readouterr().out
    out_file = tmp_path / "out" / "summary.txt"
    assert main([str(log), *config, "--ack", PVC, "--output", str(out_file)]) == 0
    assert "Verdict: ok to apply" in out_file.read_text()


def test_cli_reads_accept_data_loss_from_the_stack_config(tmp_path, capsys):
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:storage"]["migrations"][0]["acceptDataLoss"] = [PROM_PVC]
    config = tmp_path / "Pulumi.k3s-home.yaml"
    config.write_text(yaml.safe_dump(doc))
    log = write_log(tmp_path / "events.jsonl", [*pvc_replace(), SUMMARY])
    assert main([str(log), "--config", str(config)]) == 0
    assert "[DATA: acknowledged]" in capsys.readouterr().out


def test_cli_missing_event_log_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such event log" in err


def test_cli_bad_config_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("config:\n  k3s-home:bogus: {}\n")
    log = write_log(tmp_path / "events.jsonl", [SUMMARY])
    assert main([str(log), "--config", str(bad)]) == 2
    assert "k3s-home:bogus: unknown key" in capsys.readouterr().err


def test_the_most_destructive_step_of_a_resource_wins():
    read = urn("kubernetes:core/v1:PersistentVolume", "pv-1")
    summary = summarize([step("read", read), step("read-replacement", read), SUMMARY], set())
    assert [(c.urn, c.kind) for c in summary.changes] == [(read, "replace")]


def _config_with_migration(tmp_path: Path, **fields) -> Path:
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:storage"]["migrations"][0].update(fields)
    config = tmp_path / "Pulumi.k3s-home.yaml"
    config.write_text(yaml.safe_dump(doc))
    return config


def test_migration_in_plan_acknowledges_only_claims_accepted_as_lost(tmp_path):
    from review.gate import facts_from_config

    config = _config_with_migration(tmp_path, acceptDataLoss=[PROM_PVC])
    assert facts_from_config(config, today=TEST_TODAY)[0] == {f"monitoring/{PROM_PVC}"}


@pytest.mark.usefixtures("longhorn_deployed")  # a migration past plan: Longhorn must run
def test_migration_at_cutover_acknowledges_its_claims_and_owners(tmp_path):
    from review.gate import facts_from_config

    doc = yaml.safe_load(STACK_FILE.read_text())
    claims = [c["name"] for c in doc["config"]["k3s-home:storage"]["migrations"][0]["pvcs"]]
    config = _config_with_migration(
        tmp_path,
        phase="cutover",
        copied={c: {"bytes": 1, "seconds": 1} for c in claims},
        verified={c: "sha256:" + "a" * 64 for c in claims},
    )
    acked = facts_from_config(config, today=TEST_TODAY)[0]
    assert f"monitoring/{PROM_PVC}" in acked
    assert "monitoring/prometheus-kube-prometheus-stack-prometheus" in acked  # the owning StatefulSet
    assert not any(a.startswith("pvc-") for a in acked)  # old volumes only at cleanup


def test_cli_takes_stack_config_and_summary_path_from_the_environment(tmp_path, capsys, monkeypatch):
    summary_file = tmp_path / "review-summary.txt"
    monkeypatch.setenv("K3S_HOME_REVIEW_SUMMARY", str(summary_file))
    log = write_log(tmp_path / "events.jsonl", [*clean()])
    assert main([str(log), "--stack-config", str(STACK_FILE)]) == 0
    assert summary_file.read_text() == capsys.readouterr().out


# --- fail closed (issue 17) --------------------------------------------------------------------------


def test_cli_damaged_line_in_the_middle_blocks_and_names_it(tmp_path, capsys):
    """A damaged PVC-delete line used to be skipped, and the gate said "ok to apply"."""
    events = [*clean()[:-1], step("delete", PVC, ("monitoring", PROM_PVC)), SUMMARY]
    lines = [json.dumps(e) for e in events]
    lines[-2] = lines[-2][:40]  # the delete step, torn in the middle of the file
    log = tmp_path / "events.jsonl"
    log.write_text("\n".join(lines) + "\n")
    assert main([str(log), "--config", str(STACK_FILE)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{log} line {len(lines) - 1}: not a JSON event" in err
    assert "BLOCKED" in err


def test_cli_a_non_event_json_line_blocks(tmp_path, capsys):
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps(clean()[0]) + "\n[1, 2]\n" + json.dumps(SUMMARY) + "\n")
    assert main([str(log), "--config", str(STACK_FILE)]) == 1
    assert "line 2: not an engine event" in capsys.readouterr().err


def helm_release(op: str, values: dict, name: str = "loki") -> dict:
    u = urn("kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease", f"hr-{name}", STORAGE)
    event = step(op, u, ("monitoring", name))
    event["resourcePreEvent"]["metadata"]["old"]["inputs"].update(
        {"kind": "HelmRelease", "spec": {"values": values}}
    )
    return event


@pytest.mark.parametrize("op", ["delete", "replace"])
def test_a_helm_release_that_owns_claims_is_data(op):
    """Deleting loki's HelmRelease takes its claim along; it used to pass."""
    values = {"singleBinary": {"persistence": {"enabled": True, "size": "20Gi"}}}
    summary = summarize([helm_release(op, values), SUMMARY], set())
    assert exit_code(summary) == 1
    assert "[DATA: NOT acknowledged]" in render(summary)
    assert exit_code(summarize([helm_release(op, values), SUMMARY], {"monitoring/loki"})) == 0


def test_a_helm_release_the_config_names_as_owner_is_data_whatever_its_values():
    event = helm_release("delete", {}, name="kube-prometheus-stack")
    assert exit_code(summarize([event, SUMMARY], set())) == 0  # no claims in these values...
    data = {"monitoring/kube-prometheus-stack"}
    assert exit_code(summarize([event, SUMMARY], set(), data)) == 1  # ...but the config says it owns some


def test_the_real_config_names_its_data_releases():
    from review.gate import facts_from_config

    assert facts_from_config(STACK_FILE, today=TEST_TODAY)[1] >= {
        "monitoring/kube-prometheus-stack",
        "monitoring/loki",
        "media/bazarr",
    }


@pytest.mark.parametrize(
    "typ", ["random:index/randomPassword:RandomPassword", "pulumi-python:dynamic/k3s-home:GeneratedSecret"]
)
def test_replacing_a_generated_secret_blocks_unless_acknowledged(typ):
    """A replace of the cluster token regenerates it: every node holding the old one is locked out."""
    token = urn(typ, "ha-control-plane-token", "k3s:control-plane:HaControlPlane")
    events = [step("create-replacement", token, keys=["length"]), step("replace", token, keys=["length"])]
    summary = summarize([*events, SUMMARY], set())
    assert exit_code(summary) == 1
    [blocked] = summary.blocking_changes
    assert blocked.name == "ha-control-plane-token"
    assert exit_code(summarize([*events, SUMMARY], {"ha-control-plane-token"})) == 0


def test_a_retained_delete_keeps_the_claim_but_not_a_generated_secret():
    pvc = step("delete", PVC, ("monitoring", PROM_PVC))
    pvc["resourcePreEvent"]["metadata"]["old"]["retainOnDelete"] = True
    summary = summarize([pvc, SUMMARY], set())
    assert exit_code(summary) == 0 and "[DATA: retained in the cluster]" in render(summary)
    token = step("delete", urn("random:index/randomPassword:RandomPassword", "token"), ("", "token"))
    token["resourcePreEvent"]["metadata"]["old"]["retainOnDelete"] = True
    assert exit_code(summarize([token, SUMMARY], set())) == 1


def pending(op: str, u: str, namespace: str, name: str) -> dict:
    return {
        "type": op,
        "resource": {
            "urn": u,
            "type": u.split("::")[2].rsplit("$", 1)[-1],
            "custom": True,
            "inputs": {"metadata": {"namespace": namespace, "name": name}},
        },
    }


def test_pending_creates_are_an_interrupted_update_not_a_flux_collision():
    from review.gate import check_cluster, pending_operations

    create = step("create", QUOTA)
    create["resourcePreEvent"]["metadata"]["new"] = {
        "type": "kubernetes:core/v1:ResourceQuota",
        "custom": True,
        "inputs": {"metadata": {"namespace": "ai", "name": "ai-gpu"}},
    }
    summary = check_cluster(summarize([create, SUMMARY], set()), lambda ref: True)
    assert len(summary.colliding) == 1  # without state: an existing object the stack did not create

    summary.pending = pending_operations({"pending_operations": [pending("creating", QUOTA, "ai", "ai-gpu")]})
    assert exit_code(summary) == 1 and summary.colliding == []
    text = render(summary)
    assert "the last update was interrupted; 1 create(s) may have happened" in text
    assert "make recover" in text and "!! creating kubernetes:core/v1:ResourceQuota ai/ai-gpu" in text
    assert "adopt them via k3s-home:cluster.adopt" not in text
    # Not listed under the Flux heading either: it is one of the update's own creates.
    assert f"{COLLISION_HEADING} (0):\n   none" in text and "!! ResourceQuota" not in text


def test_cli_reads_pending_operations_from_an_exported_state(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {"version": 3, "deployment": {"pending_operations": [pending("creating", QUOTA, "ai", "q")]}}
        )
    )
    log = write_log(tmp_path / "events.jsonl", clean())
    assert main([str(log), "--config", str(STACK_FILE), "--state", str(state)]) == 1
    assert "the last update was interrupted" in capsys.readouterr().out


def test_the_summary_names_the_pictures_a_change_redraws():
    summary = summarize(clean(), set())
    assert "Pictures this config redraws" not in render(summary)  # not looked at: no claim either way
    summary.pictures = []
    heading = "Pictures this config redraws (0; make docs writes them, look at each):"
    assert f"{heading}\n   none" in render(summary)
    summary.pictures = ["gpu-plan.svg"]
    assert "   docs/gpu-plan.svg" in render(summary)
    assert exit_code(summary) == 0  # a redrawn picture is for the reviewer's eyes, not a block


def refreshed(
    u: str, kind: str, k8s: tuple[str, str], gone: bool = False, paths: tuple[str, ...] = ()
) -> dict:
    """The preview's refresh of one resource, as the engine reports it (resOutputsEvent, op refresh)."""
    typ = u.split("::")[2].rsplit("$", 1)[-1]
    outputs = {"kind": kind, "metadata": {"namespace": k8s[0], "name": k8s[1]}}
    meta: dict = {
        "op": "refresh",
        "urn": u,
        "type": typ,
        "provider": "",
        "old": {"urn": u, "type": typ, "outputs": outputs},
        "detailedDiff": {p: {"diffKind": "update-replace", "inputDiff": False} for p in paths},
    }
    if not gone:
        meta["new"] = {"urn": u, "type": typ, "outputs": outputs}
    return {"sequence": 1, "timestamp": 0, "resOutputsEvent": {"metadata": meta, "planning": True}}


def test_drift_found_by_the_refresh_is_named_per_object():
    """An out-of-band delete or `kubectl edit` of a stack object is named before anything is applied."""
    cm = "kubernetes:core/v1:ConfigMap"
    events = [
        refreshed(urn(cm, "blueprint", GPU), "ConfigMap", ("authentik", "blueprint"), gone=True),
        refreshed(urn(cm, "script", GPU), "ConfigMap", ("authentik", "script"), paths=('data["a.py"]',)),
        refreshed(urn(cm, "untouched", GPU), "ConfigMap", ("authentik", "untouched")),
        refreshed(urn("pulumi:providers:kubernetes", "default"), "", ("", "default"), gone=True),
        step("create", urn(cm, "blueprint", GPU)),
        step("replace", urn(cm, "script", GPU), keys=['data["a.py"]']),
        SUMMARY,
    ]
    summary = summarize(events, set())
    assert [str(d) for d in summary.drift] == [
        "~~ deleted  ConfigMap authentik/blueprint",
        '~~ edited   ConfigMap authentik/script: data["a.py"]',
    ]
    text = render(summary)
    assert (
        "Drift: changed outside Pulumi since the last update (read from the target by the refresh) (2):"
        in text
    )
    assert text.splitlines()[-1] == (
        "Verdict: ok to apply (2 object(s) changed outside Pulumi, see Drift; the changes above include them)"
    )
    assert exit_code(summary) == 0  # the plan itself shows what putting them back takes


def test_a_refresh_without_drift_says_none_and_no_refresh_says_nothing():
    cm = "kubernetes:core/v1:ConfigMap"
    clean_refresh = summarize([refreshed(urn(cm, "x", GPU), "ConfigMap", ("ns", "x")), SUMMARY], set())
    assert "Drift: changed outside Pulumi" in render(clean_refresh) and clean_refresh.drift == []
    assert "Drift:" not in render(summarize([SUMMARY], set()))
