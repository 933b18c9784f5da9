"""`make preview` needs no network: run it in a network namespace that has only loopback.

If anything tried a download (a plugin, an update check, a Python package), it would fail here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_preview_runs_with_loopback_only(cluster_env, tmp_path):
    env = {
        **cluster_env,
        "K3S_HOME_CLUSTER_DIR": str(tmp_path / "cluster"),
        "K3S_HOME_CLUSTER_KUBECONFIG": str(tmp_path / "kubeconfig"),
        "K3S_HOME_ETCD_PORT": "27790",
        "K3S_HOME_API_PORT": "20443",
        "K3S_HOME_RUN_DIR": str(tmp_path / "run"),
        "K3S_HOME_TARGET": "embedded",
    }
    script = (
        "ip link set lo up && make -s preview; rc=$?; bash scripts/cluster.sh down >/dev/null 2>&1; exit $rc"
    )
    result = subprocess.run(
        ["unshare", "--net", "bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Operation not permitted" not in result.stderr, "this test needs root for `unshare --net`"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "target: embedded control plane" in result.stderr
    assert "Verdict: ok to apply" in result.stdout
    assert (tmp_path / "run" / "plan.json").stat().st_size > 0
