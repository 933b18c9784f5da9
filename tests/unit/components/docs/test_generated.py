"""components.docs (`make docs`): writes every generated doc and picture; `--check` names stale ones."""

from __future__ import annotations

import copy
import importlib
import shutil
import subprocess
import sys

import pytest

import components.docs.generated as docs
from components.config import load
from tests.conftest import ROOT, STACK_FILE, TEST_TODAY

PICTURES = ("gpu-plan.svg", "ha-topology.svg", "migration.svg")


def test_the_three_pictures_are_generated_committed_and_linked() -> None:
    assert set(PICTURES) == set(docs.PICTURES) and set(PICTURES) <= set(docs.GENERATED)
    for name, pic in docs.PICTURES.items():  # each entry names the module that draws that file
        assert name == importlib.import_module(pic.module).FILE
    readme = (ROOT / "README.md").read_text()
    for name in PICTURES:
        assert (docs.DOCS / name).is_file()
        assert f"docs/{name}" in readme
    assert "(ha-topology.svg)" in (docs.DOCS / "high-availability-plan.md").read_text()
    setup = (docs.DOCS / "authentik-setup.md").read_text()
    assert all(f"({name})" in setup for name in PICTURES)


@pytest.mark.slow  # draws every picture: the quick layer checks the text docs and the pictures' inputs
def test_committed_docs_are_current_as_make_docs_checks_them() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "components.docs", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert (run.returncode, run.stdout) == (0, ""), run.stdout + run.stderr


def test_committed_text_docs_and_picture_inputs_are_current(real_config) -> None:
    """What the docs check holds without drawing: a config change that alters a picture's section makes
    docs/pictures.inputs stale here; the slow layer redraws every picture byte for byte."""
    text = {name: build(real_config) for name, build in docs.GENERATED.items() if name not in docs.PICTURES}
    assert docs.INPUTS in text
    assert docs.stale(text) == [], "run make docs"


def test_make_docs_runs_the_module() -> None:
    run = subprocess.run(["make", "-n", "docs"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "python -m components.docs" in run.stdout


@pytest.fixture
def fake_docs(tmp_path, monkeypatch) -> dict:
    """components.docs over a temporary docs/ with two cheap generated files."""
    generated = {
        "a.svg": lambda c: b"<svg>" + c.cluster.name.encode() + b"</svg>",
        "b.md": lambda c: b"# b\n",
    }
    monkeypatch.setattr(docs, "DOCS", tmp_path)
    monkeypatch.setattr(docs, "GENERATED", generated)
    return generated


def test_check_names_what_is_stale_and_writing_makes_it_current(fake_docs, tmp_path, capsys) -> None:
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "docs/a.svg: stale; run make docs",
        "docs/b.md: stale; run make docs",
    ]
    assert list(tmp_path.iterdir()) == []  # --check writes nothing
    assert docs.main([]) == 0
    assert (tmp_path / "a.svg").read_bytes() == b"<svg>k3s-home</svg>"
    capsys.readouterr()
    assert docs.main(["--check"]) == 0 and capsys.readouterr().out == ""
    (tmp_path / "b.md").write_text("# edited by hand\n")
    assert docs.main(["--check"]) == 1
    assert capsys.readouterr().out == "docs/b.md: stale; run make docs\n"


def test_bad_config_is_one_line_naming_the_key(fake_docs, tmp_path, monkeypatch, capsys) -> None:
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(STACK_FILE.read_text().replace("devicesPerNode: 1", "devicesPerNode: 0"))
    monkeypatch.setattr(docs, "STACK_FILE", bad)
    assert docs.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "k3s-home:gpu.pools[0].devicesPerNode" in err
    assert not (tmp_path / "a.svg").exists()


@pytest.mark.slow  # draws the picture
def test_redrawn_pictures_names_only_the_picture_a_config_change_redraws(real_config, real_raw) -> None:
    assert docs.redrawn_pictures(real_config) == []  # the committed config draws the committed pictures
    raw = copy.deepcopy(real_raw)
    media = next(t for t in raw["gpu"]["tenants"] if t["namespace"] == "media")
    media["pools"]["gpu.intel.com/i915"] = {"reserved": 6}  # media's QuickSync reservation, 4 -> 6
    assert docs.redrawn_pictures(load(raw, today=TEST_TODAY)) == ["gpu-plan.svg"]


def test_a_preview_draws_only_the_pictures_whose_section_changed(real_config, real_raw, monkeypatch) -> None:
    # The choice only (drawing stands in for it here; the slow test above draws for real).
    drawn: list[str] = []

    def counting(self: docs.Picture, config) -> bytes:
        drawn.append(self.section)
        return b"<svg>redrawn</svg>"

    monkeypatch.setattr(docs.Picture, "draw", counting)
    assert docs.redrawn_pictures(real_config) == [] and drawn == []  # the recorded inputs: nothing drawn
    raw = copy.deepcopy(real_raw)
    media = next(t for t in raw["gpu"]["tenants"] if t["namespace"] == "media")
    media["pools"]["gpu.intel.com/i915"] = {"reserved": 6}  # not a directive value: no waiver needed
    assert docs.redrawn_pictures(load(raw, today=TEST_TODAY)) == ["gpu-plan.svg"] and drawn == ["gpu"]


@pytest.mark.slow  # draws the picture
def test_a_picture_drawn_the_same_as_committed_is_not_named(real_config, monkeypatch) -> None:
    # A section change the picture does not show (its digest differs, its drawing does not): the picture
    # is drawn, compared with the committed file byte for byte, and not named.
    monkeypatch.setattr(docs, "PICTURES", {"gpu-plan.svg": docs.PICTURES["gpu-plan.svg"]})
    monkeypatch.setattr(docs.Picture, "digest", lambda self, config: "not the recorded digest")
    assert docs.redrawn_pictures(real_config) == []


@pytest.mark.slow  # draws all three
def test_without_recorded_inputs_every_picture_is_drawn_and_compared(real_config, tmp_path) -> None:
    for name in PICTURES:
        shutil.copy(docs.DOCS / name, tmp_path / name)
    assert docs.redrawn_pictures(real_config, tmp_path) == []  # no docs/pictures.inputs: draw them all
    (tmp_path / "migration.svg").write_bytes(b"<svg/>")
    assert docs.redrawn_pictures(real_config, tmp_path) == ["migration.svg"]
