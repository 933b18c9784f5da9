"""The driver's contract before any engine runs: bad config and usage are one line, nothing registered."""

from __future__ import annotations

import yaml

from k3s_home.cli import main
from k3s_home.commands import _deletes_from_state
from review.gate import exit_code, summarize
from tests.conftest import STACK_FILE


def test_a_bad_variant_is_one_line_before_any_engine_or_cluster(tmp_path, monkeypatch, capsys):
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:gpuu"] = {}
    variant = tmp_path / "Pulumi.k3s-home.yaml"
    variant.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("K3S_HOME_STACK_CONFIG", str(variant))
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(["preview"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        "[k3s-home] invalid stack config: k3s-home:gpuu: unknown key"
    )
    assert not (tmp_path / "run").exists()  # nothing ran: no state, no passphrase, no events


def test_a_broken_yaml_variant_is_one_line(tmp_path, monkeypatch, capsys):
    variant = tmp_path / "Pulumi.k3s-home.yaml"
    variant.write_text("config:\n  k3s-home:gpu: [unclosed\n")
    monkeypatch.setenv("K3S_HOME_STACK_CONFIG", str(variant))
    assert main(["destroy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not valid YAML" in err and "Traceback" not in err


def test_up_without_a_reviewed_plan_refuses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path))
    assert main(["up", "--yes"]) == 1
    assert "no reviewed plan: run 'make preview' first" in capsys.readouterr().err


def state_resource(typ: str, name: str, retain: bool = False, **inputs) -> dict:
    return {
        "urn": f"urn:pulumi:k3s-home::k3s-home::k3s-home:x:X${typ}::{name}",
        "type": typ,
        "custom": True,
        "protect": True,
        "retainOnDelete": retain,
        "inputs": {"metadata": {"namespace": "monitoring", "name": name}, **inputs},
    }


def test_destroy_gates_every_resource_of_the_state_protected_ones_included():
    """`make destroy` used to skip the gate: the token and loki's release went without a word."""
    data = {
        "resources": [
            {
                "urn": "urn:pulumi:k3s-home::k3s-home::pulumi:providers:kubernetes::default",
                "type": "pulumi:providers:kubernetes",
            },
            state_resource("pulumi-python:dynamic/k3s-home:GeneratedSecret", "ha-control-plane-token"),
            state_resource(
                "kubernetes:helm.toolkit.fluxcd.io/v2:HelmRelease",
                "loki",
                kind="HelmRelease",
                spec={"values": {"singleBinary": {"persistence": {"enabled": True}}}},
            ),
            state_resource("kubernetes:core/v1:PersistentVolumeClaim", "storage-loki-0", retain=True),
            state_resource("kubernetes:core/v1:ConfigMap", "dashboards"),
        ]
    }
    summary_event = {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {}}}
    events = [*_deletes_from_state(data), summary_event]
    summary = summarize(events, set())
    assert exit_code(summary) == 1
    assert sorted(c.name for c in summary.blocking_changes) == ["ha-control-plane-token", "loki"]
    assert len(summary.changes) == 4  # the provider is not a change; the retained claim loses nothing
    assert exit_code(summarize(events, {"ha-control-plane-token", "monitoring/loki"})) == 0


def test_record_sources_refuses_a_missing_stack_file_before_any_cluster(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("K3S_HOME_STACK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("K3S_HOME_TARGET", "embedded")
    assert main(["record-migration-sources"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "absent.yaml: no such stack file" in err
