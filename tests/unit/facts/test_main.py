"""`make facts`: the committed file reproduces from the Flux repo at HEAD; CHECK fails once it is stale."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import facts
from facts.__main__ import main

# Each derivation of the real repo parses its ~10k lines of Flux CRDs with line marks: seconds of CPU,
# so the two tests over the real repo sit in the slow layer.

# A clone of the cluster's Flux repo (sudoflux/flux-k3s): the local mirror, or the URL in CI.
MIRROR = os.environ.get("K3S_HOME_FLUX_MIRROR", "/work/.mirror/sudoflux+flux-k3s/repo")
CHART = "clusters/k3s-home/apps/auth/authentik/helmrelease.yaml"


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("flux") / "flux-k3s"
    done = subprocess.run(
        ["git", "clone", "-q", MIRROR, str(repo)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"cannot clone the Flux repo from {MIRROR} (K3S_HOME_FLUX_MIRROR): {done.stderr}", pytrace=False
        )
    return repo


@pytest.mark.slow
def test_the_committed_facts_reproduce_from_the_repo(clone: Path, tmp_path: Path) -> None:
    out = tmp_path / "facts.yaml"
    assert main([str(clone), "--out", str(out)]) == 0
    assert out.read_text() == facts.COMMITTED.read_text()
    assert main([str(clone), "--check"]) == 0


@pytest.mark.slow
def test_check_fails_after_a_chart_version_changes(clone: Path, tmp_path: Path, capsys) -> None:
    work = tmp_path / "edited"
    subprocess.run(["git", "clone", "-q", str(clone), str(work)], check=True)
    path = work / CHART
    path.write_text(path.read_text().replace('version: "2023.10.7"', 'version: "2024.12.3"'))
    assert main([str(work), "--check"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "helmReleases[3].version: committed '2023.10.7', the repo says '2024.12.3'" in err
    assert main([str(work), "--out", str(tmp_path / "new.yaml")]) == 0  # and a run rewrites it


def test_a_directory_that_is_no_flux_repo_is_one_line(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path), "--out", str(tmp_path / "f.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("make facts: clusters/k3s-home/flux-system/gotk-sync.yaml") and "\n" not in err


def test_load_names_a_broken_facts_file(tmp_path: Path, monkeypatch) -> None:
    bad = tmp_path / "facts.yaml"
    bad.write_text("repository: x\n")
    monkeypatch.setenv(facts.ENV, str(bad))
    with pytest.raises(
        facts.FactsError, match=r"facts.yaml: not a facts file .*run make facts FLUX_REPO=DIR"
    ):
        facts.load()
