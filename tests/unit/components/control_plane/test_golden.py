"""Golden files: each node's config.yaml (token placeholder) and the kube-vip manifest, rendered from the
real cluster's config with the captured config.yaml of each node (fixtures in live/, which carry keys the
stack does not own). A diff here is a change to what lands on a node: review it, then regenerate with
`K3S_HOME_UPDATE_GOLDEN=1 pytest tests/unit/components/control_plane/test_golden.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components.config import k3s_config_file as k3s
from components.config.control_plane import ControlPlaneConfig, owned_keys
from components.control_plane.kube_vip import render_kube_vip_yaml
from components.control_plane.node_configs import TOKEN_PLACEHOLDER, render_node_config
from tests.unit.components.control_plane.helpers import NODES, captured_config, live_text

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def cp(real_raw) -> ControlPlaneConfig:
    return captured_config(real_raw)


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
def test_node_config_golden(cp, node):
    check(f"{node}-config.yaml", expected_files(cp)[f"{node}-config.yaml"])


@pytest.mark.parametrize("node", NODES)
def test_golden_keeps_the_live_configs_foreign_keys_byte_for_byte(cp, node):
    golden = (GOLDEN / f"{node}-config.yaml").read_text()
    owned = owned_keys(cp.node(node), cp)
    foreign = [b for b in k3s.parse(live_text(node)).parts if isinstance(b, k3s.Block) and b.key not in owned]
    assert foreign
    for block in foreign:
        assert block.text in golden, f"{node}: {block.key} changed"


def test_kube_vip_golden(cp):
    check("kube-vip.yaml", render_kube_vip_yaml(cp))


def test_no_stray_golden_files(cp):
    # A node removed from the config must take its golden file with it.
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(expected_files(cp))


def test_golden_configs_hold_no_token():
    for name in NODES:
        assert f"token: {TOKEN_PLACEHOLDER}" in (GOLDEN / f"{name}-config.yaml").read_text()
