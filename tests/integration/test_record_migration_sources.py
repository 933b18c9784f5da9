"""`make record-migration-sources` through the driver: it reads the chosen target and writes the stack
file the driver is pointed at (K3S_HOME_STACK_CONFIG), exactly as scripts/record_sources.py does."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.conftest import ROOT


def test_the_driver_records_the_live_sources_into_the_stack_file(stack, embedded_kubeconfig, tmp_path):
    committed = (ROOT / "Pulumi.k3s-home.yaml").read_text()
    target, direct = tmp_path / "driver.yaml", tmp_path / "direct.yaml"
    target.write_text(committed)
    direct.write_text(committed)
    result = stack("record-migration-sources", env={"K3S_HOME_STACK_CONFIG": str(target)})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "target: embedded control plane" in result.stderr
    assert "[record]" in result.stderr
    script = ROOT / "scripts" / "record_sources.py"
    by_hand = subprocess.run([sys.executable, str(script), embedded_kubeconfig, str(direct)], timeout=60)
    assert by_hand.returncode == 0
    assert target.read_text() == direct.read_text() != committed


def test_a_missing_stack_file_is_one_line(stack, tmp_path):
    missing = tmp_path / "absent.yaml"
    result = stack("record-migration-sources", env={"K3S_HOME_STACK_CONFIG": str(missing)})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no such stack file" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not missing.exists()
