"""GitOps mode refuses a migration past plan, in one line naming the key, before the engine runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from gitops import render
from rules.data_loss import Phase

ROOT = Path(__file__).resolve().parents[3]
STACK_FILE = ROOT / "Pulumi.k3s-home.yaml"


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
    assert sorted(p.name for p in repo.rglob("*")) == [".sops.yaml", "clusters", "k3s-home"]
