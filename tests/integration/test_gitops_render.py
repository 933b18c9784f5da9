"""`make render` against a working copy of the real Flux repo (issue 15 acceptance), throwaway age key.

The copy gets one edit before the render, as a person would commit it: the repo's age recipient is
swapped for a throwaway one in the copy's `.sops.yaml` (the test must decrypt). Everything else is the
repo as fetched, and the stack file is the committed one: the objects Flux keeps (ADR 0029) are changed
by the render's edits of Flux's own files, and the audit then judges the whole edited repo.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyrage
import pytest
import yaml
from lightkube import Client, codecs
from lightkube.generic_resource import load_in_cluster_generic_resources
from ruamel.yaml import YAML

from gitops import sops
from gitops.layout import owned_folders

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Anything `git clone` takes: the local mirror by default, or the repository's URL (CI).
MIRROR = os.environ.get("K3S_HOME_FLUX_MIRROR", "/work/.mirror/sudoflux+flux-k3s/repo")
# The commit the fixtures below were read from (tests/policy/fixtures/flux-k3s/SOURCE.md): a pinned tree.
FLUX_COMMIT = "9c35c94a17bb75a72777637e2bfaad2c970662ea"
REPO_RECIPIENT = "age1ldyv96p8fpku638mlhgkzv5hjtjyc9krfwnqnx3drqvaf4jq3vyqgxurr5"
QUOTA_FILE = "clusters/k3s-home/infrastructure/07-gpu-management/namespace-quotas.yaml"
# The Flux files the directive's edits change at FLUX_COMMIT (ADR 0029; tests/unit/flux/test_edits.py
# checks each line of them on the same files).
EDITED = {
    QUOTA_FILE,
    "clusters/k3s-home/infrastructure/07-gpu-management/priority-classes.yaml",
    "clusters/k3s-home/apps/ai/automatic1111/helmrelease.yaml",
    "clusters/k3s-home/apps/media/jellyfin/helmrelease.yaml",
}
EDIT_RULES = ("gpu-priority-class", "gpu-oversubscription", "directive-drift")
GIT = ["git", "-c", "user.email=test@k3s-home", "-c", "user.name=test"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def snapshot(repo: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gitops")


@pytest.fixture(scope="module")
def identity() -> pyrage.x25519.Identity:
    return pyrage.x25519.Identity.generate()


def prepared_clone(repo: Path, identity: pyrage.x25519.Identity) -> Path:
    """A clone of the Flux repo at FLUX_COMMIT with the two edits the module docstring names, committed."""
    cloned = subprocess.run(
        ["git", "clone", "-q", MIRROR, str(repo)], capture_output=True, text=True, timeout=300
    )
    if cloned.returncode != 0:
        pytest.fail(
            f"cannot clone the Flux repo from {MIRROR} (K3S_HOME_FLUX_MIRROR): {cloned.stderr}", pytrace=False
        )
    git(repo, "checkout", "-q", FLUX_COMMIT)
    sops_yaml = repo / ".sops.yaml"
    assert REPO_RECIPIENT in sops_yaml.read_text()
    sops_yaml.write_text(sops_yaml.read_text().replace(REPO_RECIPIENT, str(identity.to_public())))
    git(repo, "checkout", "-q", "-b", "render-test")
    git(repo, "commit", "-qam", "test: throwaway age recipient")
    return repo


@pytest.fixture(scope="module")
def flux_repo(workdir: Path, identity: pyrage.x25519.Identity) -> Path:
    return prepared_clone(workdir / "flux-k3s", identity)


@pytest.fixture(scope="module")
def stack_file() -> Path:
    return ROOT / "Pulumi.k3s-home.yaml"


@pytest.fixture(scope="module")
def render_env(
    toolchain_env: dict[str, str], workdir: Path, identity: pyrage.x25519.Identity
) -> dict[str, str]:
    env = {k: v for k, v in toolchain_env.items() if k not in ("KUBECONFIG", "PULUMI_BACKEND_URL")}
    return {**env, "K3S_HOME_RUN_DIR": str(workdir / "run"), "SOPS_AGE_KEY": str(identity)}


def run_render(repo: Path, stack_file: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gitops.render", str(repo), "--stack-config", str(stack_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def rendered(flux_repo: Path, stack_file: Path, render_env: dict[str, str]) -> dict:
    before = snapshot(flux_repo)
    first = run_render(flux_repo, stack_file, render_env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    after_first = snapshot(flux_repo)
    git(flux_repo, "add", "-A")
    git(flux_repo, "commit", "-qm", "make render")
    second = run_render(flux_repo, stack_file, render_env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {"before": before, "first": first, "after_first": after_first, "second": second}


def render_state(render_env: dict[str, str], workdir: Path) -> list[dict]:
    """The render stack's resources with secrets shown: the stack's own values to compare with."""
    env = {
        **render_env,
        "PULUMI_BACKEND_URL": f"file://{workdir / 'run' / 'render' / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(workdir / "run" / "passphrase"),
    }
    out = subprocess.run(
        ["pulumi", "stack", "export", "--show-secrets", "--stack", "k3s-home"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["deployment"]["resources"]


SECRET_SIG = "4dabf18193072939515e22adb298388d"  # marks a secret value in an exported state


def revealed(value):
    """A value of `stack export --show-secrets`: secrets come as {sig, plaintext: <JSON>}."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return json.loads(value["plaintext"])
    if isinstance(value, dict):
        return {k: revealed(v) for k, v in value.items()}
    return value


def secret_files(repo: Path) -> list[Path]:
    return [p for folder in owned_folders() for p in sorted((repo / folder).glob("secret-*.yaml"))]


def test_the_render_writes_its_own_folders_and_edits_only_the_directive_s_flux_files(
    flux_repo: Path, rendered: dict
) -> None:
    before, after = rendered["before"], rendered["after_first"]
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert changed, "the render wrote nothing"
    outside = {p for p in changed if not any(p.startswith(f + "/") for f in owned_folders())}
    assert outside == EDITED
    assert after[".sops.yaml"] == before[".sops.yaml"]
    quotas = after["clusters/k3s-home/infrastructure-runtime/06-gpu-management/resource-quotas.yaml"].decode()
    assert "gpu-deny-normal-gpu" in quotas and "name: gpu-quota" not in quotas  # Flux keeps gpu-quota
    # The review gate's screen, then the edit of Flux's files and the rules' verdict on it.
    out = rendered["first"].stdout
    assert "Changes per component:" in out and "k3s-home:gpu:GpuManagement" in out
    assert "Verdict: ok to apply" in out
    assert "Edits of Flux's own files (ADR 0029): 4 file(s), 6 object(s), 13 field(s)" in out
    assert "priority-classes.yaml:15: PriorityClass normal-gpu: value: 700 -> 100" in out
    assert "After the edit, the directive's GPU rules on the edited objects: 0 mandatory" in out
    adopted = out.split("Left in Flux's own files while adopted")[1].split("Edits of Flux's own files")[0]
    assert "ConfigMap nvidia-device-plugin" in adopted and "PriorityClass" not in adopted


def test_the_whole_edited_repo_has_no_gpu_violation(flux_repo: Path, rendered: dict) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "review.audit", str(flux_repo)], cwd=ROOT, capture_output=True, text=True
    )
    findings = [line for line in out.stdout.splitlines() if "[mandatory]" in line]
    assert findings, out.stderr[-2000:]  # the audit ran: others' findings (storage, secrets) remain
    assert [f for f in findings if any(f"] {rule}:" in f for rule in EDIT_RULES)] == []


def test_a_second_render_rewrites_nothing(flux_repo: Path, rendered: dict) -> None:
    assert git(flux_repo, "status", "--porcelain") == ""
    assert snapshot(flux_repo) == rendered["after_first"]
    assert " 0 written, 0 removed" in rendered["second"].stderr


def test_kustomize_builds_every_rendered_folder(flux_repo: Path, rendered: dict, toolchain_env: dict) -> None:
    built = 0
    for folder in owned_folders():
        out = subprocess.run(
            ["kustomize", "build", str(flux_repo / folder)], env=toolchain_env, capture_output=True, text=True
        )
        assert out.returncode == 0, f"{folder}: {out.stderr}"
        built += len([d for d in yaml.safe_load_all(out.stdout) if d])
    assert built >= 20


def test_the_audit_finds_no_mandatory_violation(
    flux_repo: Path, rendered: dict, workdir: Path, toolchain_env: dict
) -> None:
    # What the render writes: its folders and the GPU classes and quotas it edits in Flux's files (the pools'
    # bound); the edited HelmReleases carry other rules' findings of their own, judged with the whole repo.
    tree = workdir / "rendered-tree"
    for folder in owned_folders():
        shutil.copytree(flux_repo / folder, tree / folder, dirs_exist_ok=True)
    for rel in (r for r in EDITED if "/07-gpu-management/" in r):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(flux_repo / rel, tree / rel)
    out = subprocess.run(
        ["make", "-s", "audit", f"AUDIT_PATH={tree}"],
        cwd=ROOT,
        env=toolchain_env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert " 0 mandatory" in out.stdout + out.stderr
    assert "SOPS-encrypted, skipped" in out.stdout + out.stderr  # it saw the Secrets, encrypted


def test_every_secret_is_encrypted_and_decrypts_to_the_stacks_values(
    flux_repo: Path, rendered: dict, render_env: dict, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", render_env["SOPS_AGE_KEY"])
    state = {
        (r["inputs"]["metadata"].get("namespace", ""), r["inputs"]["metadata"]["name"]): revealed(
            r["inputs"]["data"]
        )
        for r in render_state(render_env, workdir)
        if r["type"] == "kubernetes:core/v1:Secret"
    }
    files = secret_files(flux_repo)
    assert len(files) == len(state) >= 5
    for path in files:
        docs = list(yaml.safe_load_all(path.read_text()))
        assert all(sops.is_encrypted(d) for d in docs), path
        for doc in sops.decrypted_docs(path, flux_repo) or pytest.fail(f"{path} does not decrypt"):
            meta = doc["metadata"]
            assert doc["data"] == state.pop((meta.get("namespace", ""), meta["name"])), path
    assert state == {}


def test_no_generated_secret_value_is_anywhere_in_plaintext(
    flux_repo: Path, rendered: dict, render_env: dict, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY", render_env["SOPS_AGE_KEY"])
    resources = render_state(render_env, workdir)
    generated = [revealed(r["outputs"]["result"]) for r in resources if r["type"].endswith("GeneratedSecret")]
    data = [
        v
        for r in resources
        if r["type"] == "kubernetes:core/v1:Secret"
        for v in revealed(r["inputs"]["data"]).values()
    ]
    assert len(generated) >= 4 and data
    # Each generated value, raw and base64-encoded, and every Secret value as the rendered YAML holds it.
    needles = {s for g in generated for s in (g, base64.b64encode(g.encode()).decode())} | set(data)
    # The needles are what a leak would look like: the decrypted files hold them.
    plain = b"".join(sops.decrypt(p, flux_repo) for p in secret_files(flux_repo)).decode()
    assert set(data) <= {n for n in needles if n in plain}
    for rel, content in snapshot(flux_repo).items():
        text = content.decode(errors="replace")
        leaked = sum(n in text for n in needles)  # a count: the assertion message must not leak either
        assert leaked == 0, f"{rel} holds {leaked} secret value(s) in plaintext"
    for out in (rendered["first"], rendered["second"]):
        assert not [n for n in needles if n in out.stdout + out.stderr]


def test_a_server_side_dry_run_apply_of_the_built_output_succeeds(
    flux_repo: Path, rendered: dict, kube: Client, workdir: Path, render_env: dict, toolchain_env: dict
) -> None:
    # As Flux does: the Secrets decrypted with the cluster's key, then built, then applied server-side.
    decrypted = workdir / "decrypted"
    for folder in owned_folders():
        shutil.copytree(flux_repo / folder, decrypted / folder, dirs_exist_ok=True)
    for path in secret_files(decrypted):
        env = {**os.environ, "SOPS_AGE_KEY": render_env["SOPS_AGE_KEY"]}
        out = subprocess.run(
            [sops.binary(), "decrypt", "--in-place", str(path)], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
    load_in_cluster_generic_resources(kube)
    applied = []
    for folder in owned_folders():
        out = subprocess.run(
            ["kustomize", "build", str(decrypted / folder)], env=toolchain_env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        for doc in yaml.safe_load_all(out.stdout):
            if doc:
                kube.apply(
                    codecs.from_dict(doc), field_manager="kustomize-controller", force=True, dry_run=True
                )
                applied.append(f"{doc['kind']}/{doc['metadata']['name']}")
    assert len(applied) >= 20
    shutil.rmtree(decrypted)


def test_owners_names_the_flux_file_of_every_object_that_changes_hands(
    flux_repo: Path, rendered: dict, workdir: Path, render_env: dict
) -> None:
    # Everything handed over: each object Flux's own files still define must be listed with its file.
    ruamel = YAML()
    doc = ruamel.load((ROOT / "Pulumi.k3s-home.yaml").read_text())
    doc["config"]["k3s-home:cluster"]["adopt"] = []
    handed = workdir / "handed-over.yaml"
    with handed.open("w") as out:
        ruamel.dump(doc, out)
    blocked = run_render(flux_repo, handed, render_env)
    assert blocked.returncode == 1 and "nothing written" in blocked.stderr
    assert "!! ConfigMap nvidia-device-plugin/nvidia-device-plugin-config" in blocked.stdout
    assert "make owners" in blocked.stdout and "!! PriorityClass" not in blocked.stdout  # Flux keeps those
    out = subprocess.run(
        [sys.executable, "-m", "gitops.owners", str(flux_repo), "--stack-config", str(handed)],
        cwd=ROOT,
        env=render_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    gpu = "clusters/k3s-home/infrastructure"
    assert (
        f"PriorityClass/normal-gpu [value, description, globalDefault]: Flux {gpu}/07-gpu-management/"
        "priority-classes.yaml:14 (flux-system/gpu-management) -> Flux (edit its file" in out.stdout
    )
    assert (
        "ConfigMap nvidia-device-plugin/nvidia-device-plugin-config: Flux file "
        f"{gpu}/06-nvidia-gpu-plugin/configmap.yaml -> Flux ({gpu}-runtime/06-gpu-management)" in out.stdout
    )
    assert (
        "HelmRelease monitoring/loki: Flux file clusters/k3s-home/apps/monitoring/loki/helm-release.yaml"
        in out.stdout
    )
    assert "ResourceQuota ai/gpu-quota:" not in out.stdout  # Flux keeps it: no move between modes
    assert git(flux_repo, "status", "--porcelain") == ""  # neither the blocked render nor owners wrote


def test_two_renders_without_the_age_identity_leave_git_status_clean(
    workdir: Path, identity: pyrage.x25519.Identity, stack_file: Path, render_env: dict[str, str]
) -> None:
    """Issue 25: without the age identity nothing can be decrypted, and sops never encrypts the same
    plaintext to the same bytes; the render state's keyed digests keep every Secret file as it is."""
    repo = prepared_clone(workdir / "flux-k3s-no-key", identity)
    env = {k: v for k, v in render_env.items() if not k.startswith("SOPS_AGE")}
    # sops' default key file ($XDG_CONFIG_HOME/sops/age/keys.txt) must not hold one either.
    env |= {"K3S_HOME_RUN_DIR": str(workdir / "run-no-key"), "XDG_CONFIG_HOME": str(workdir / "no-config")}
    first = run_render(repo, stack_file, env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    secrets = secret_files(repo)
    assert secrets, "the render wrote no Secret file"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "make render (no age identity)")
    committed = snapshot(repo)
    second = run_render(repo, stack_file, env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert git(repo, "status", "--porcelain") == ""
    assert snapshot(repo) == committed
    assert " 0 written, 0 removed" in second.stderr
    digests = json.loads((workdir / "run-no-key" / "render" / "secret-digests.json").read_text())
    assert set(digests["files"]) == {str(p.relative_to(repo)) for p in secrets}
