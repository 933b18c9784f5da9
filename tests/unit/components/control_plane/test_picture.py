"""docs/ha-topology.svg: the HA plan as a picture, drawn by graphviz from the model, and current."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from components.control_plane.picture import FILE, graph, picture
from components.docs.generated import stale

from .helpers import facts_variant, node_raw, variant

# Every test here draws (matplotlib or graphviz): the `slow` layer of `make test`.
pytestmark = pytest.mark.slow

SVG = "{http://www.w3.org/2000/svg}"


def test_committed_picture_is_current(real_config) -> None:
    assert stale({FILE: picture(real_config.control_plane)}) == [], f"docs/{FILE} is stale: run make docs"


def test_picture_names_roles_vip_nics_and_quorum(real_config) -> None:
    cp = real_config.control_plane
    source = graph(cp).source
    assert "Today (facts): 1 server on embedded etcd; Cilium reaches the API at 192.168.10.30:6443" in source
    assert "k3s-master1 · server (embedded etcd)" in source
    assert "Target: 3 servers with embedded etcd" in source
    assert "quorum 2 of 3, tolerates 1 failure" in source
    assert "VIP 192.168.10.20" in source and "k3s-api.fletcherlabs.net:6443" in source
    assert "kube-vip v0.8.9, ARP on each" in source and "Cilium k8sServiceHost -> 192.168.10.20" in source
    assert "k3s-master1 · server + etcd (its etcd today)" in source and "k3s1 · agent" in source
    assert "VM on R730 · 4 cores · 8 GiB → 12 GiB" in source
    nics = {"usb": "USB", "onboard": "onboard", "virtual": "virtual"}
    for node in cp.nodes:
        assert (
            source.count(f"{node.address} · {nics[node.nic]} NIC · {node.disk.class_}") == 2
        )  # today, target
    assert "carry etcd over USB NICs" not in source  # one USB server (k3s2), one tolerated failure


def test_servers_are_drawn_left_to_right_in_the_models_order(real_config) -> None:
    root = ET.fromstring(picture(real_config.control_plane))
    x = {}
    for node in root.iter(f"{SVG}g"):
        title = node.find(f"{SVG}title")
        if node.get("class") == "node" and title is not None and title.text:
            x[title.text] = float(node.find(f"{SVG}text").get("x"))
    assert x["target_k3s-master1"] < x["target_k3s3"] < x["target_k3s2"]


def test_quorum_and_risk_follow_the_model(real_raw, tmp_path, monkeypatch) -> None:
    # Both OptiPlexes as servers: two USB servers exceed the one tolerated failure.
    both = variant(real_raw, lambda cp: cp["target"].update(servers=["k3s-master1", "k3s1", "k3s2"]))
    source = graph(both).source
    assert "risk: k3s1 and k3s2 carry etcd over USB NICs" in source
    assert re.search(r"192\.168\.10\.23 · USB NIC", source)

    def two_more(f: dict) -> None:  # a cluster whose facts list two more machines
        for name, address in (("k3s5", "192.168.10.33"), ("k3s6", "192.168.10.34")):
            f["nodes"].append({**f["nodes"][3], "name": name, "address": address, "source": "README.md:99"})

    facts_variant(tmp_path, monkeypatch, two_more)

    def five(cp: dict) -> None:
        for name in ("k3s5", "k3s6"):
            cp["nodes"].append({**node_raw(cp, "k3s3"), "name": name, "workloads": []})
        cp["target"]["servers"] = ["k3s-master1", "k3s1", "k3s2", "k3s5", "k3s6"]

    source = graph(variant(real_raw, five)).source
    assert "Target: 5 servers" in source and "quorum 3 of 5, tolerates 2 failures" in source
    assert "carry etcd over USB NICs" not in source  # two USB servers, two tolerated failures
