"""Issue 25 through the CLI the toolchain builds, on the session's embedded control plane.

1. The pack's own documented usage, `pulumi preview --stack k3s-home --policy-pack policy`, exactly that
   command line, in a copy of this checkout (its stack file gets the passphrase salt, as `pulumi stack
   init` writes it; the committed one stays untouched). The v3.79 language host starts a directory pack
   as `python "" ENGINE_ADDRESS` in the program's directory (policy/launch.py).
2. The driver's passthrough of every pulumi command the README and the docs name, through the real CLI:
   no "unknown flag", each one's own output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import stack_runner

ROOT = Path(__file__).resolve().parents[2]
STACK = "k3s-home"
STACK_FILE = ROOT / f"Pulumi.{STACK}.yaml"
PACK_LINE = "k3s-home-directive@v0.1.0 (local: policy)"


def checkout_copy(dest: Path) -> Path:
    """The checkout's files as git sees them (tracked and new, not ignored), its virtualenv linked."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for rel in filter(None, listed.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


def test_pulumi_preview_with_the_pack_directory_as_documented(cluster_env, embedded_kubeconfig, tmp_path):
    copy = checkout_copy(tmp_path / "checkout")
    env = {
        **cluster_env,
        "KUBECONFIG": embedded_kubeconfig,
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": "integration-tests-only",
    }
    env.pop("K3S_HOME_STACK_CONFIG", None)  # the pack reads ../Pulumi.k3s-home.yaml, as documented
    (tmp_path / "state").mkdir()
    init = subprocess.run(
        ["pulumi", "stack", "init", STACK], cwd=copy, env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    assert "--policy-pack policy\n" in (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    result = subprocess.run(
        ["pulumi", "preview", "--stack", STACK, "--policy-pack", "policy"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert PACK_LINE in output and "could not read plugin" not in output
    assert "invalid stack config" not in output and "Traceback" not in output


@pytest.fixture(scope="module")
def passthrough(cluster_env, embedded_kubeconfig, tmp_path_factory):
    """The driver on a stack of its own whose state has the program's outputs (imported, no `up`)."""
    run = stack_runner(cluster_env, tmp_path_factory.mktemp("passthrough-run"), STACK_FILE)
    exported = run("stack", "export")
    assert exported.returncode == 0, exported.stderr
    state = json.loads(exported.stdout)
    urn = f"urn:pulumi:{STACK}::{STACK}::pulumi:pulumi:Stack::{STACK}-{STACK}"
    state["deployment"]["resources"] = [
        {"urn": urn, "custom": False, "type": "pulumi:pulumi:Stack", "outputs": {"gpu": {"pools": 2}}}
    ]
    path = tmp_path_factory.mktemp("passthrough-state") / "state.json"
    path.write_text(json.dumps(state))
    imported = run("stack", "import", "--file", str(path))
    assert imported.returncode == 0, imported.stderr
    return run


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("stack", "output", "gpu", "--json"), '"pools": 2'),
        (("stack", "export"), "pulumi:pulumi:Stack"),
        (("state",), "Usage:"),  # a command group: the CLI lists its subcommands and exits 1 itself
        (
            (
                "state",
                "protect",
                "--yes",
                f"urn:pulumi:{STACK}::{STACK}::pulumi:pulumi:Stack::{STACK}-{STACK}",
            ),
            "",
        ),
        (("refresh", "--yes", "--skip-preview"), "Resources:"),
        (("config",), "controlPlane"),
        (("config", "get", "k3s-home:cluster"), "adopt"),
    ],
)
def test_every_documented_passthrough_runs(passthrough, args, expected):
    result = passthrough(*args)
    output = result.stdout + result.stderr
    assert result.returncode == (1 if args == ("state",) else 0), output[-3000:]
    assert "unknown flag" not in output and expected in result.stdout


def test_a_refused_passthrough_is_one_line(passthrough):
    result = passthrough("config", "set", "k3s-home:x", "1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "[k3s-home] pulumi config set: edits the driver's copy of the stack file, which every run rewrites: "
        "edit Pulumi.k3s-home.yaml (or the K3S_HOME_STACK_CONFIG variant) instead"
    ]
