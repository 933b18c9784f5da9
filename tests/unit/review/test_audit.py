"""`k3s-home-audit DIR` over fixture trees that reproduce the live Flux repo's defects."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import facts
from review.audit import main
from tests.conftest import facts_applying

FLUX_REPO = Path(__file__).resolve().parents[2] / "policy" / "fixtures" / "flux-repo"
STACK_FILE = Path(__file__).resolve().parents[3] / "Pulumi.k3s-home.yaml"
LINE = re.compile(
    r"^(?P<file>.+?)(:(?P<line>\d+))?: \[(?P<severity>\w+)\] (?P<rule>[\w-]+): (?P<message>.+)$"
)


def audit(tmp_dir: Path, capsys, *extra: str) -> tuple[int, list[dict], str]:
    code = main([str(tmp_dir), "--config", str(STACK_FILE), *extra])
    out, err = capsys.readouterr()
    findings = []
    for line in out.splitlines():
        m = LINE.match(line)
        assert m, f"finding line not in `path:LINE: [severity] rule: message` form: {line!r}"
        findings.append({**m.groupdict(), "file": str(Path(m["file"]).relative_to(tmp_dir))})
    return code, findings, err


def located(findings: list[dict]) -> set[tuple[str, int, str, str]]:
    return {(Path(f["file"]).name, int(f["line"] or 0), f["severity"], f["rule"]) for f in findings}


BLUEPRINT = Path("clusters/k3s-home/apps/authentik/authentik/blueprint-configmap.yaml")


@pytest.fixture
def repo(tmp_path: Path, use_facts) -> Path:
    """The fixture repo, with facts in which Flux applies its blueprint ConfigMap (as a deployed one is)."""
    use_facts(facts_applying(str(BLUEPRINT)))
    return Path(shutil.copytree(FLUX_REPO, tmp_path / "flux-repo"))


def test_live_defects_are_found_at_the_line_of_their_key(repo, capsys):
    code, findings, _ = audit(repo, capsys)
    assert code == 1
    assert {
        # local-path monitoring storage is known and planned (migration "monitoring"): visible, not blocking
        (
            "kube-prometheus-stack.yaml",
            22,
            "advisory",
            "storage-class",
        ),  # grafana.persistence.storageClassName
        ("helmrelease.yaml", 22, "mandatory", "storage-class"),  # sonarr, under no migration
        ("blueprint-configmap.yaml", 9, "mandatory", "authentik-blueprint-format"),  # data key grafana.yaml
        ("priority-classes.yaml", 14, "advisory", "directive-drift"),  # `value: 700`
        ("helmrelease.yaml", 22, "mandatory", "privileged-container"),  # jellyfin securityContext.privileged
        ("plaintext-secret.yaml", 8, "mandatory", "secret-plaintext"),  # stringData.api-key
        ("plaintext-secret.yaml", 17, "advisory", "secret-plaintext"),  # data.SSO_CLIENT_SECRET
    } <= located(findings)


def test_a_blueprint_is_judged_by_the_authentik_release_the_repo_pins(repo, capsys):
    """The fixture's 2024.10.3+ blueprint is a defect on the pinned 2023.10.7; the same blueprint in the
    2023.10 form (one string of redirect URIs, no invalidation flow) is not."""
    _, findings, _ = audit(repo, capsys)
    assert [
        f["message"].split(": ", 1)[1] for f in findings if f["rule"] == "authentik-blueprint-format"
    ] == [
        "entries[0].attrs.redirect_uris is a list (authentik 2024.10.3+); authentik 2023.10 wants one "
        "string, a regular expression per line",
        "entries[0].attrs.invalidation_flow does not exist in authentik 2023.10 (added in 2024.10)",
    ]
    text = (repo / BLUEPRINT).read_text()
    newer = (
        "          invalidation_flow: "
        "!Find [authentik_flows.flow, [slug, default-provider-invalidation-flow]]\n"
        "          client_type: confidential\n"
        "          client_id: grafana\n"
        "          redirect_uris:\n"
        "            - matching_mode: strict\n"
        "              url: https://grafana.fletcherlabs.net/login/generic_oauth\n"
    )
    pinned = (
        "          client_type: confidential\n"
        "          client_id: grafana\n"
        "          redirect_uris: https://grafana\\.fletcherlabs\\.net/login/generic_oauth\n"
    )
    assert newer in text
    old = text.replace(newer, pinned)
    (repo / BLUEPRINT).write_text(old)
    _, findings, _ = audit(repo, capsys)
    assert [f for f in findings if f["rule"] == "authentik-blueprint-format"] == []


def test_a_blueprint_flux_applies_nowhere_is_latent_and_advisory(repo, capsys, monkeypatch):
    # The real facts: no Kustomization applies the fixture's blueprint file, so authentik never loads it.
    monkeypatch.delenv(facts.ENV)
    _, findings, _ = audit(repo, capsys)
    found = [f for f in findings if f["rule"] == "authentik-blueprint-format"]
    assert [f["severity"] for f in found] == ["advisory", "advisory"]
    latent = f"; latent: no Flux Kustomization applies {BLUEPRINT} (facts/k3s-home.yaml)"
    assert all(f["message"].endswith(latent) for f in found)


def test_untracked_gpu_quota_key_is_located_at_the_quota(repo, capsys):
    _, findings, _ = audit(repo, capsys)
    quota = [
        f for f in findings if f["rule"] == "gpu-oversubscription" and "limits.nvidia.com" in f["message"]
    ]
    assert [(Path(f["file"]).name, f["line"], f["severity"]) for f in quota] == [
        ("resource-quotas.yaml", "9", "mandatory")  # the key spec.hard.limits.nvidia.com/gpu
    ]


def test_stack_finding_naming_no_object_points_at_the_directory(tmp_path, capsys):
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ai}\n")
    code, findings, _ = audit(tmp_path, capsys)
    assert code == 1  # no GPU quota at all: the pools are unbounded
    assert {(f["file"], f["line"], f["rule"]) for f in findings} == {(".", None, "gpu-oversubscription")}


def test_partial_tree_skips_stack_rules_with_a_note(tmp_path, capsys):
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ai}\n")
    code, findings, err = audit(tmp_path, capsys, "--partial")
    assert (code, findings) == (0, [])
    assert "stack rules (quotas against pools) not run" in err


def test_compliant_objects_are_not_reported(repo, capsys):
    _, findings, _ = audit(repo, capsys)
    files = {Path(f["file"]).name for f in findings}
    # ollama's hostNetwork carries a named approval; Flux's own SOPS decryption is not an ownership breach.
    assert "deployment.yaml" not in files
    assert "gotk-sync.yaml" not in files
    assert not [f for f in findings if f["rule"] in ("sops-untouchable", "usb-nic-monitoring")]


def test_sops_encrypted_and_non_kubernetes_files_are_skipped_with_a_note(repo, capsys):
    _, findings, err = audit(repo, capsys)
    assert "secret.sops.yaml:1: note: SOPS-encrypted, skipped" in err
    assert "helm-template.yaml" in err and "not parseable YAML" in err
    assert not {".sops.yaml", "kustomization.yaml", "secret.sops.yaml"} & {
        Path(f["file"]).name for f in findings
    }


def test_clean_tree_exits_zero(tmp_path, capsys):
    (tmp_path / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: media}\ndata: {LOG_LEVEL: info}\n"
    )
    (tmp_path / "notes.yml").write_text("- just\n- a list\n")
    code, findings, err = audit(tmp_path, capsys, "--partial")
    assert (code, findings) == (0, [])
    assert "2 files, 1 objects: 0 mandatory, 0 advisory" in err


def test_advisories_alone_exit_zero(tmp_path, capsys):
    (tmp_path / "cm.yaml").write_text(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: media}\ndata: {password: pw}\n"
    )
    code, findings, _ = audit(tmp_path, capsys, "--partial")
    assert code == 0
    assert [(f["line"], f["severity"], f["rule"]) for f in findings] == [
        ("5", "advisory", "secret-plaintext")  # the `password` key under data
    ]


def test_multi_document_lines_and_lists(tmp_path, capsys):
    privileged = "{name: c, image: x, securityContext: {privileged: true}}"
    (tmp_path / "multi.yaml").write_text(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
        "---\n"
        "# comment\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: media}\n"
        f"spec: {{containers: [{privileged}]}}\n"
        "---\n"
        "apiVersion: v1\nkind: List\n"
        "items:\n"
        "  - apiVersion: v1\n    kind: Pod\n    metadata: {name: q}\n    spec:\n      containers:\n"
        "        - name: c\n          securityContext:\n            privileged: true\n"
    )
    code, findings, _ = audit(tmp_path, capsys, "--partial")
    assert code == 1
    # Each at its `privileged` key (in a flow mapping several keys share a line), the List's item too.
    assert [(f["line"], f["rule"]) for f in findings] == [
        ("9", "privileged-container"),
        ("21", "privileged-container"),
    ]


def test_missing_directory_is_one_line_without_traceback(tmp_path, capsys):
    code = main([str(tmp_path / "nope")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0 and "no such directory" in err and "Traceback" not in err


def test_missing_config_is_one_line(tmp_path, capsys):
    code = main([str(tmp_path), "--config", str(tmp_path / "missing.yaml")])
    assert code == 2
    assert "stack config not found" in capsys.readouterr().err
