"""An unreadable kubeconfig is one line naming the file and the fix, before anything else runs."""

from __future__ import annotations

import stat

import pytest

from k3s_home import toolchain
from k3s_home.cli import main


@pytest.mark.parametrize(
    "content",
    ["clusters: [unclosed\n  - x: {\n", "just a string\n", None],  # broken YAML, not a kubeconfig, missing
)
def test_an_unreadable_kubeconfig_is_one_line_naming_the_fix(content, tmp_path, monkeypatch, capsys):
    kubeconfig = tmp_path / "kubeconfig"
    if content is not None:
        kubeconfig.write_text(content)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    pulumi = fake_bin / "pulumi"
    pulumi.write_text("#!/bin/sh\nexit 0\n")
    pulumi.chmod(pulumi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    monkeypatch.setenv(toolchain.ENV_MARKER, "3.259.0")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("K3S_HOME_TARGET", raising=False)
    monkeypatch.setenv("K3S_HOME_RUN_DIR", str(tmp_path / "run"))
    assert main(["stack", "ls"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"[k3s-home] target: your kubeconfig {kubeconfig}")
    assert len(lines) == 2 and lines[1].startswith(f"[k3s-home] cannot read kubeconfig {kubeconfig}: ")
    assert lines[1].endswith("unset KUBECONFIG (K3S_HOME_TARGET=embedded uses the embedded control plane)")
    assert not (tmp_path / "run" / "state").exists()  # refused before any backend was prepared
