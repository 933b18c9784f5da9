"""A missing tool or a missing toolchain environment is one line naming the fix, exit 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from k3s_home import toolchain
from k3s_home.cli import main
from k3s_home.log import Refusal
from tests.conftest import ROOT


def test_an_unloaded_environment_is_refused_naming_env_sh(monkeypatch):
    monkeypatch.delenv(toolchain.ENV_MARKER, raising=False)
    with pytest.raises(Refusal) as refused:
        toolchain.require("pulumi")
    assert refused.value.code == 2
    assert "K3S_HOME_PULUMI_VERSION is unset" in str(refused.value)
    assert "source .work/env.sh" in str(refused.value) and "make toolchain" in str(refused.value)


def test_a_tool_not_on_path_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(toolchain.ENV_MARKER, "3.259.0")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Refusal, match=r"^pulumi: not found on PATH: run `make toolchain`"):
        toolchain.require("pulumi")


def test_a_file_not_found_names_a_tool_or_a_path():
    assert toolchain.missing(FileNotFoundError(2, "No such file", "pulumi")).startswith(
        "pulumi: not found on PATH: run `make toolchain`"
    )
    assert toolchain.missing(FileNotFoundError(2, "x", "/a/b.yaml")) == "/a/b.yaml: no such file or directory"


@pytest.mark.parametrize(
    "argv",
    [["preview"], ["recover"], ["cancel"], ["stack", "output", "gpu", "--json"], ["state", "delete", "u"]],
)
def test_every_engine_command_without_the_environment_is_one_line(argv, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(toolchain.ENV_MARKER, raising=False)
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "source .work/env.sh" in err and "Traceback" not in err


def test_a_pulumi_gone_after_the_check_is_one_line(monkeypatch, tmp_path, capsys):
    """The FileNotFoundError the issue saw (`python -m k3s_home preview` without the toolchain's PATH)."""
    from k3s_home import commands

    def gone(run, args):
        raise FileNotFoundError(2, "No such file or directory", "pulumi")

    monkeypatch.setattr(commands, "passthrough", gone)
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(["stack", "ls"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("[k3s-home] pulumi: not found on PATH") and err.count("\n") == 1


def test_an_interpreter_without_the_packages_is_one_line(tmp_path):
    """`python -m k3s_home` with a Python that lacks the project's packages (here: pulumi hidden)."""
    blocker = tmp_path / "pulumi"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ModuleNotFoundError('no pulumi', name='pulumi')\n")
    done = subprocess.run(
        [sys.executable, "-m", "k3s_home", "preview"],
        cwd=ROOT,
        env={"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "'pulumi' is not installed" in done.stderr
    assert "make toolchain" in done.stderr and "Traceback" not in done.stderr
