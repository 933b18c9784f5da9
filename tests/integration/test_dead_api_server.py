"""A control plane that dies mid-run is reported at once, by name, never as a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import api_check

from tests.integration.conftest import cluster_ports

ROOT = Path(__file__).resolve().parents[2]


def test_stopped_api_server_fails_fast_with_a_clear_message(toolchain_env, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    ports = cluster_ports(toolchain_env, "aux")
    env = {
        **toolchain_env,
        "K3S_HOME_CLUSTER_DIR": str(tmp_path / "cluster"),
        "K3S_HOME_CLUSTER_KUBECONFIG": str(kubeconfig),
        "K3S_HOME_ETCD_PORT": ports["etcd"],
        "K3S_HOME_API_PORT": ports["api"],
    }
    cluster = ["bash", str(ROOT / "scripts" / "cluster.sh")]
    up = subprocess.run([*cluster, "up"], env=env, capture_output=True, text=True, timeout=180)
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        assert api_check.check(str(kubeconfig)) is None

        pid = int((tmp_path / "cluster" / "kube-apiserver.pid").read_text())
        os.kill(pid, signal.SIGKILL)

        start = time.monotonic()
        reason = api_check.check(str(kubeconfig))
        assert reason is not None and "not answering" in reason
        assert f"127.0.0.1:{ports['api']}" in reason
        assert time.monotonic() - start < 10

        start = time.monotonic()
        preview = subprocess.run(
            [sys.executable, "-m", "k3s_home", "preview"],
            cwd=ROOT,
            env={**env, "KUBECONFIG": str(kubeconfig), "K3S_HOME_RUN_DIR": str(tmp_path / "run")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert preview.returncode != 0
        assert "is not answering" in preview.stderr, preview.stderr[-2000:]
        assert time.monotonic() - start < 30
    finally:
        subprocess.run([*cluster, "down"], env=env, capture_output=True, timeout=60)
