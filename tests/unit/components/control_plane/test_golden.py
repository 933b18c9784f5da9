"""Golden files: each node's config.yaml (token placeholder) and the kube-vip manifest, rendered from the
real cluster's config. A diff here is a change to what lands on a node: review it, then regenerate with
`K3S_HOME_UPDATE_GOLDEN=1 pytest tests/unit/components/control_plane/test_golden.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components.config.control_plane import ControlPlaneConfig
from components.control_plane.kube_vip import render_kube_vip_yaml
from components.control_plane.node_configs import TOKEN_PLACEHOLDER, render_node_config

GOLDEN = Path(__file__).parent / "golden"
NODES = ("k3s1", "k3s2", "k3s3", "k3s4")


def expected_files(cp: ControlPlaneConfig) -> dict[str, str]:
    files = {f"{n.name}-config.yaml": render_node_config(n, cp, TOKEN_PLACEHOLDER) for n in cp.nodes}
    files["kube-vip.yaml"] = render_kube_vip_yaml(cp)
    return files


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("K3S_HOME_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"{path} is stale; review the diff, then regenerate"


@pytest.mark.parametrize("node", NODES)
def test_node_config_golden(real_config, node):
    cp = real_config.control_plane
    check(f"{node}-config.yaml", expected_files(cp)[f"{node}-config.yaml"])


def test_kube_vip_golden(real_config):
    check("kube-vip.yaml", render_kube_vip_yaml(real_config.control_plane))


def test_no_stray_golden_files(real_config):
    # A node removed from the config must take its golden file with it.
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(expected_files(real_config.control_plane))


def test_golden_configs_hold_no_token(real_config):
    for name in NODES:
        assert f"token: {TOKEN_PLACEHOLDER}" in (GOLDEN / f"{name}-config.yaml").read_text()
