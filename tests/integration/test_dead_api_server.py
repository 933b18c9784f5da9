"""A control plane that dies mid-run is reported at once, by name, never as a hang."""

from __future__ import annotations

import os
import signal
import time

import api_check

from tests.integration.conftest import aux_plane, cluster_sh, run_driver


def test_stopped_api_server_fails_fast_with_a_clear_message(toolchain_env, tmp_path):
    env = aux_plane(toolchain_env, tmp_path)
    kubeconfig = env["K3S_HOME_CLUSTER_KUBECONFIG"]
    up = cluster_sh(env, "up")
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        assert api_check.check(kubeconfig) is None

        pid = int((tmp_path / "cluster" / "kube-apiserver.pid").read_text())
        os.kill(pid, signal.SIGKILL)

        start = time.monotonic()
        reason = api_check.check(kubeconfig)
        assert reason is not None and "not answering" in reason
        assert f"127.0.0.1:{env['K3S_HOME_API_PORT']}" in reason
        assert time.monotonic() - start < 10

        start = time.monotonic()
        preview = run_driver(
            "preview",
            env={**env, "KUBECONFIG": kubeconfig, "K3S_HOME_RUN_DIR": str(tmp_path / "run")},
            timeout=120,
        )
        assert preview.returncode != 0
        assert "is not answering" in preview.stderr, preview.stderr[-2000:]
        assert time.monotonic() - start < 30
    finally:
        cluster_sh(env, "down", timeout=60)
