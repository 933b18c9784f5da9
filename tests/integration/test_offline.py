"""`make preview` needs no network: run it in a network namespace that has only loopback.

If anything tried a download (a plugin, an update check, a Python package), it would fail here.
Creating the namespace needs root (`unshare --net`); a CI runner's user is not root but has passwordless
sudo. So only the namespace is made as root (directly, or through `sudo -n` when not root), and inside it
`setpriv` drops back to the test's own user and groups before anything else runs: the preview, its state
and the toolchain's cache are this user's, as in every other test.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def in_new_net_namespace(script: str, env: dict[str, str]) -> list[str]:
    """The command that runs `script` (bash) as this user in a network namespace with only loopback up."""
    as_user = (
        f"setpriv --reuid={os.getuid()} --regid={os.getgid()} --clear-groups bash -c {shlex.quote(script)}"
    )
    command = ["unshare", "--net", "bash", "-c", f"ip link set lo up && exec {as_user}"]
    if os.geteuid() == 0:
        return command
    # sudo resets PATH (secure_path) even with --preserve-env: name it again for the root side.
    return ["sudo", "-n", "--preserve-env", "env", f"PATH={env.get('PATH', '')}", *command]


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
    script = "make -s preview; rc=$?; bash scripts/cluster.sh down >/dev/null 2>&1; exit $rc"
    result = subprocess.run(
        in_new_net_namespace(script, env),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Operation not permitted" not in result.stderr, "`unshare --net` needs root or passwordless sudo"
    assert "a password is required" not in result.stderr, "`unshare --net` needs root or passwordless sudo"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "target: embedded control plane" in result.stderr
    assert "Verdict: ok to apply" in result.stdout
    assert (tmp_path / "run" / "plan.json").stat().st_size > 0
