"""GitOps mode refuses a migration past plan, in one line naming the key, before the engine runs."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitops import render
from gitops.layout import MARKER
from rules.data_loss import Phase

ROOT = Path(__file__).resolve().parents[3]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"


def write_root(repo: Path) -> None:
    """The root Flux Kustomization a Flux repo has (gotk-sync.yaml): what Flux applies is what it reaches."""
    sync = repo / "clusters/k3s-home/flux-system/gotk-sync.yaml"
    sync.parent.mkdir(parents=True, exist_ok=True)
    sync.write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\nspec: {path: ./clusters/k3s-home}\n"
    )


def with_phase(config, index: int, phase: Phase):
    migrations = list(config.storage.migrations)
    migrations[index] = migrations[index].model_copy(update={"phase": phase})
    storage = config.storage.model_copy(update={"migrations": migrations})
    return config.model_copy(update={"storage": storage})


def test_the_committed_stack_file_renders_its_migrations_at_plan(real_config) -> None:
    assert [m.phase for m in real_config.storage.migrations] == [Phase.PLAN, Phase.PLAN]
    assert render.migration_past_plan(real_config) is None


@pytest.mark.parametrize("phase", [p for p in Phase if p is not Phase.PLAN])
def test_every_phase_past_plan_is_refused_naming_its_key(real_config, phase: Phase) -> None:
    config = with_phase(real_config, 1, phase)
    reason = render.migration_past_plan(config)
    assert reason is not None and "\n" not in reason
    assert reason.startswith(
        f"k3s-home:storage.migrations[1].phase: {phase.value} (migration 'bazarr-pilot')"
    )
    assert f"run phase {phase.value} with `make preview` and `make up`" in reason


@pytest.mark.usefixtures("longhorn_deployed")  # a migration past plan: Longhorn must run
def test_make_render_refuses_before_the_engine_runs_and_writes_nothing(tmp_path, monkeypatch, capsys) -> None:
    repo = tmp_path / "flux-k3s"
    (repo / "clusters" / "k3s-home").mkdir(parents=True)
    (repo / ".sops.yaml").write_text("creation_rules: []\n")
    write_root(repo)
    yaml = YAML()
    doc = yaml.load(STACK_FILE.read_text())
    doc["config"]["k3s-home:storage"]["migrations"][1]["phase"] = "copy"
    stack = tmp_path / "Pulumi.k3s-home.yaml"
    with stack.open("w") as out:
        yaml.dump(doc, out)

    def engine_must_not_run(*args, **kwargs):
        raise AssertionError("the engine ran for a config the render refuses")

    monkeypatch.setattr(render.engine, "render", engine_must_not_run)
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    code = render.main([str(repo), "--stack-config", str(stack)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "[k3s-home render] k3s-home:storage.migrations[1].phase: copy (migration 'bazarr-pilot') is not "
        "rendered: a migration past plan runs in direct mode only; run phase copy with `make preview` and "
        "`make up` (ADR 0019)"
    ]
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before


def test_an_unchanged_secret_keeps_its_file_without_the_age_identity(tmp_path, monkeypatch) -> None:
    """No age key (nothing decrypts): the first render encrypts, the second keeps the bytes; a plaintext
    change encrypts again (issue 25)."""
    from gitops.layout import File
    from gitops.render_state import SecretDigests

    repo, private = tmp_path / "repo", tmp_path / "private"
    repo.mkdir()
    private.mkdir()
    encrypted: list[str] = []

    def encrypt(plain: Path, repo_: Path, rel: str) -> bytes:
        encrypted.append(rel)
        return f"kind: Secret\nsops:\n  mac: ENC[{len(encrypted)}]\n".encode()

    monkeypatch.setattr(render.sops, "encrypt", encrypt)
    monkeypatch.setattr(render.sops, "decrypted_docs", lambda path, repo_: None)  # no age identity
    rel = "clusters/k3s-home/x/secret-ns-a.yaml"
    file = File(rel, "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {v: one}\n", True)

    def one_render(f: File) -> bytes:
        digests = SecretDigests.load(tmp_path / "state")
        data = render.final_bytes(f, repo, private, digests)
        render.write(repo, {rel: data})
        digests.save({rel: (digests.digest(rel, render.secret_docs(f)), data)})
        return (repo / rel).read_bytes()

    first = one_render(file)
    second = one_render(file)
    assert second == first and encrypted == [rel]
    third = one_render(File(rel, file.text.replace("one", "two"), True))
    assert third != first and encrypted == [rel, rel]
    assert "two" not in (tmp_path / "state" / "secret-digests.json").read_text()


def test_a_kept_secret_that_cannot_be_decrypted_is_no_change_for_the_review(tmp_path) -> None:
    from gitops.layout import Rendered

    rel = "clusters/k3s-home/x/secret-ns-a.yaml"
    (tmp_path / "clusters/k3s-home/x").mkdir(parents=True)
    (tmp_path / rel).write_bytes(b"ENC")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "ns", "name": "a"}}
    other = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": "ns", "name": "b"}}
    items = [Rendered(secret, "urn:a", "kubernetes:core/v1:Secret"), Rendered(other, "urn:b", "t")]
    existing = {("Secret", "ns", "a"): (rel, None), ("Secret", "ns", "b"): ("b.yaml", None)}
    found = render.kept_secrets_as_rendered(existing, items, {rel: b"ENC", "b.yaml": b"NEW"}, tmp_path)
    assert found[("Secret", "ns", "a")] == (rel, secret)  # kept byte for byte: unchanged
    assert found[("Secret", "ns", "b")] == ("b.yaml", None)  # re-encrypted: still unknown, a change
    changed = render.kept_secrets_as_rendered(existing, items, {rel: b"OTHER"}, tmp_path)
    assert changed[("Secret", "ns", "a")] == (rel, None)


def test_a_flux_file_that_cannot_be_edited_refuses_the_render_before_the_engine_runs(
    tmp_path, monkeypatch, capsys
) -> None:
    # ADR 0029: the edits of Flux's files are planned first; a repo without the file the facts name for
    # an object Flux keeps is refused in one line, nothing rendered, nothing written.
    repo = tmp_path / "flux-k3s"
    (repo / "clusters" / "k3s-home").mkdir(parents=True)
    (repo / ".sops.yaml").write_text("creation_rules: []\n")
    write_root(repo)

    def engine_must_not_run(*args, **kwargs):
        raise AssertionError("the engine ran although Flux's files cannot be edited")

    monkeypatch.setattr(render.engine, "render", engine_must_not_run)
    code = render.main([str(repo), "--stack-config", str(STACK_FILE)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.splitlines() == [
        "[k3s-home render] cannot edit Flux's files: PriorityClass/critical-gpu: "
        "clusters/k3s-home/infrastructure/07-gpu-management/priority-classes.yaml is not in FLUX_REPO (the "
        "facts name it: make facts); nothing written (ADR 0029)"
    ]
    assert sorted(p.name for p in repo.rglob("*")) == [
        ".sops.yaml", "clusters", "flux-system", "gotk-sync.yaml", "k3s-home"
    ]  # fmt: skip


# ---- the write path, with the engine faked at its boundary (its files and its event log) -------------------

SOPS_RULES = """creation_rules:
  - path_regex: .*secret.*\\.yaml$
    encrypted_regex: {regex}
    age: {recipient}
"""
GPU = "urn:pulumi:k3s-home::k3s-home::k3s-home:gpu:GpuManagement$"
SSO = "urn:pulumi:k3s-home::k3s-home::k3s-home:authentik:AuthentikSso$"
CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "gpu-wiring-probe", "namespace": "kube-system"},
    "data": {"a": "b"},
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "wiring-probe", "namespace": "auth"},
    "type": "Opaque",
    "data": {"password": "c2VjcmV0LXZhbHVlLTQyNDI0Mg=="},
}
GPU_FOLDER = "clusters/k3s-home/infrastructure-runtime/06-gpu-management"
FLUX_FIXTURE = Path(__file__).resolve().parents[2] / "policy" / "fixtures" / "flux-k3s"
OUTSIDE = {  # files the render does not own: byte for byte the same after every render
    "clusters/k3s-home/workloads/kustomization.yaml": b"resources:\n  - ./apps\n",
    "clusters/k3s-home/apps/media/bazarr.yaml": b"kind: HelmRelease\n# hand-written \xe2\x9c\x93\n",
    "README.md": b"flux-k3s\n",
}


class FakeEngine:
    """gitops.engine.render: writes the provider's files and the event log, as `pulumi up` would."""

    def __init__(self, objects: list[tuple[str, dict]], finished: bool = True) -> None:
        self.objects = objects
        self.finished = finished  # False: no summary event (an interrupted or broken run)
        self.runs = 0

    def __call__(self, run, source, out_dir: Path, events: Path, private: Path):
        import json
        import subprocess

        self.runs += 1
        out_dir.mkdir(parents=True)
        lines = []
        for i, (prefix, obj) in enumerate(self.objects):
            typ = f"kubernetes:core/v1:{obj['kind']}"
            (out_dir / f"{i}.yaml").write_text(yaml_dump(obj))
            meta = {"op": "create", "urn": f"{prefix}{typ}::{obj['metadata']['name']}", "type": typ}
            meta["new"] = {"type": typ, "inputs": obj, "custom": True}
            lines.append({"sequence": i, "resourcePreEvent": {"metadata": meta}})
        if self.finished:
            lines.append({"sequence": len(lines), "summaryEvent": {"resourceChanges": {}}})
        events.write_text("".join(json.dumps(e) + "\n" for e in lines))
        return subprocess.CompletedProcess([], 0, "", "")


def yaml_dump(obj: dict) -> str:
    import yaml as pyyaml

    return pyyaml.safe_dump(obj)


@pytest.fixture
def flux_repo(tmp_path, monkeypatch) -> Path:
    """A Flux repository with the repo's sops rule for a throwaway age key, and files the render must not
    touch."""
    import pyrage

    key = pyrage.x25519.Identity.generate()
    repo = tmp_path / "flux-k3s"
    # The real repo's files the audit fixture keeps (tests/policy/fixtures/flux-k3s): among them the ones
    # the render edits for the objects Flux keeps (ADR 0029), which the facts name.
    shutil.copytree(FLUX_FIXTURE / "clusters", repo / "clusters")
    write_root(repo)
    rules = SOPS_RULES.format(regex="^(data|stringData)$", recipient=key.to_public())
    (repo / ".sops.yaml").write_text(rules)
    for rel, data in OUTSIDE.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    monkeypatch.setenv("SOPS_AGE_KEY", str(key))
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))  # the render state's digests
    return repo


def snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()}


def run_render(repo: Path, engine: FakeEngine, monkeypatch) -> tuple[int, str]:
    monkeypatch.setattr(render.engine, "render", engine)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = render.main([str(repo), "--stack-config", str(STACK_FILE)])
    return code, err.getvalue()


def test_a_render_the_gate_passes_writes_only_its_folders(flux_repo, monkeypatch) -> None:
    before = snapshot(flux_repo)
    stale = flux_repo / GPU_FOLDER / "stale.yaml"  # written by an earlier render, no longer produced
    code, err = run_render(flux_repo, FakeEngine([(GPU, CONFIG_MAP), (SSO, SECRET)]), monkeypatch)
    assert code == 0, err
    after = snapshot(flux_repo)
    assert {rel: after[rel] for rel in OUTSIDE} == {rel: before[rel] for rel in OUTSIDE}
    assert after[".sops.yaml"] == before[".sops.yaml"]
    written = set(after) - set(before)
    assert f"{GPU_FOLDER}/configmaps.yaml" in written
    assert "clusters/k3s-home/apps/auth/authentik-sso/secret-auth-wiring-probe.yaml" in written
    assert b"c2VjcmV0LXZhbHVlLTQyNDI0Mg==" not in b"".join(after.values())  # the Secret went encrypted
    assert all(rel.startswith(("clusters/k3s-home/infrastructure-runtime/", "clusters/k3s-home/apps/auth/",
                               "clusters/k3s-home/workloads/k3s-home-iac/")) for rel in written)  # fmt: skip
    # A second render: the stale file of an owned folder goes, the rest is unchanged byte for byte.
    stale.write_text("kind: ConfigMap\n")
    code, _ = run_render(flux_repo, FakeEngine([(GPU, CONFIG_MAP), (SSO, SECRET)]), monkeypatch)
    assert code == 0 and not stale.exists() and snapshot(flux_repo) == after


def test_a_blocked_gate_writes_nothing(flux_repo, monkeypatch) -> None:
    before = snapshot(flux_repo)
    engine = FakeEngine([(GPU, CONFIG_MAP)], finished=False)  # no summary event: the gate blocks
    code, err = run_render(flux_repo, engine, monkeypatch)
    assert engine.runs == 1
    assert code == 1
    assert err.splitlines()[-1] == (
        "[k3s-home render] the review gate blocks this render (above); nothing written"
    )
    assert snapshot(flux_repo) == before


def test_an_unmarked_folder_is_refused_and_nothing_is_written(flux_repo, monkeypatch) -> None:
    folder = flux_repo / GPU_FOLDER
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources:\n  - gpu.yaml\n")  # the repo's own, no marker
    (folder / "gpu.yaml").write_text("kind: ConfigMap\n")
    before = snapshot(flux_repo)
    engine = FakeEngine([(GPU, CONFIG_MAP)])
    code, err = run_render(flux_repo, engine, monkeypatch)
    assert code == 2 and engine.runs == 0
    assert err.splitlines() == [
        f"[k3s-home render] {GPU_FOLDER}: exists and was not written by the render (no marker in its "
        "kustomization.yaml); move it away or rename it: the render owns this folder and would replace "
        "its files"
    ]
    assert snapshot(flux_repo) == before


def test_a_marked_folder_is_the_renders(flux_repo) -> None:
    folder = flux_repo / GPU_FOLDER
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text(f"{MARKER}\nresources: []\n")
    assert render.check_repo(flux_repo) is None


def test_sops_output_without_encryption_is_refused_and_nothing_written(flux_repo, monkeypatch) -> None:
    """sops faked at its boundary: it exits 0 and hands back the plaintext (no sops block)."""
    before = snapshot(flux_repo)
    monkeypatch.setattr(render.sops, "encrypt", lambda plain, repo, rel: plain.read_bytes())
    code, err = run_render(flux_repo, FakeEngine([(GPU, CONFIG_MAP), (SSO, SECRET)]), monkeypatch)
    assert code == 1
    assert err.splitlines()[-1] == (
        "[k3s-home render] clusters/k3s-home/apps/auth/authentik-sso/secret-auth-wiring-probe.yaml: "
        "sops returned no encrypted document; nothing written"
    )
    assert snapshot(flux_repo) == before


def test_a_sops_rule_that_skips_data_is_refused_naming_file_and_key(flux_repo, monkeypatch) -> None:
    """The real sops with a `.sops.yaml` whose encrypted_regex is ^(stringData)$ exits 0 and leaves
    data.password in plaintext beside a valid sops block: the render refuses in one line."""
    import pyrage

    key = pyrage.x25519.Identity.generate()
    rules = SOPS_RULES.format(regex="^(stringData)$", recipient=key.to_public())
    (flux_repo / ".sops.yaml").write_text(rules)
    monkeypatch.setenv("SOPS_AGE_KEY", str(key))
    before = snapshot(flux_repo)
    code, err = run_render(flux_repo, FakeEngine([(GPU, CONFIG_MAP), (SSO, SECRET)]), monkeypatch)
    assert code == 1
    assert err.splitlines()[-1] == (
        "[k3s-home render] clusters/k3s-home/apps/auth/authentik-sso/secret-auth-wiring-probe.yaml: sops "
        "left data.password in plaintext (the repo's .sops.yaml encrypted_regex must cover data and "
        "stringData); nothing written"
    )
    assert snapshot(flux_repo) == before


def test_a_repo_without_its_root_kustomization_is_refused_before_the_engine_runs(tmp_path, capsys) -> None:
    repo = tmp_path / "flux-k3s"
    (repo / "clusters" / "k3s-home").mkdir(parents=True)
    (repo / ".sops.yaml").write_text("creation_rules: []\n")
    code = render.main([str(repo), "--stack-config", str(STACK_FILE)])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"[k3s-home render] FLUX_REPO={repo}: no clusters/k3s-home/flux-system/gotk-sync.yaml "
        "(the root Flux Kustomization)"
    ]
