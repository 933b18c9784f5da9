"""Which cluster the stack talks to (stack.sh's behaviour, unchanged).

The user's kubeconfig when one is configured (KUBECONFIG set, or ~/.kube/config), else the embedded control
plane, started on demand by scripts/cluster.sh. K3S_HOME_TARGET=embedded forces the latter.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import yaml

from k3s_home.log import Refusal, log

ROOT = Path(__file__).resolve().parents[1]


def _cluster(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "cluster.sh"), *args], capture_output=True, text=True
    )


def _context(kubeconfig: str) -> str:
    try:
        doc = yaml.safe_load(Path(kubeconfig.split(":")[0]).read_text()) or {}
        return str(doc.get("current-context", "?"))
    except (OSError, yaml.YAMLError, AttributeError):
        return "?"


def embedded_kubeconfig() -> str:
    """The embedded control plane's kubeconfig, starting the control plane when it is not running."""
    if _cluster("status").returncode != 0:
        up = _cluster("up")
        if up.returncode != 0:
            raise Refusal(f"the embedded control plane did not start: {up.stderr.strip().splitlines()[-1:]}")
    return _cluster("kubeconfig").stdout.strip()


def choose() -> str:
    """Set and return KUBECONFIG for the chosen target, after checking its API server answers."""
    user = os.environ.get("KUBECONFIG", "")
    default = Path.home() / ".kube" / "config"
    if not user and default.is_file():
        user = str(default)
    if os.environ.get("K3S_HOME_TARGET") != "embedded" and user:
        kubeconfig = user
        log(f"target: your kubeconfig {kubeconfig}, context '{_context(kubeconfig)}'")
    else:
        kubeconfig = embedded_kubeconfig()
        log(f"target: embedded control plane ({kubeconfig})")
    os.environ["KUBECONFIG"] = kubeconfig
    reason = _api_check().check(kubeconfig)
    if reason:
        raise Refusal(reason)
    return kubeconfig


def _api_check():
    spec = importlib.util.spec_from_file_location("api_check", ROOT / "scripts" / "api_check.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
