"""kube-vip manifests."""

from __future__ import annotations

import yaml

from components.control_plane.kube_vip import kube_vip_manifests, render_kube_vip_yaml


def test_kube_vip_manifests(real_config):
    manifests = kube_vip_manifests(real_config.control_plane)
    assert [m["kind"] for m in manifests] == [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
    ]
    ds = manifests[-1]
    pod = ds["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["address"] == "192.168.10.20"
    assert env["vip_arp"] == "true"
    assert env["cp_enable"] == "true"
    # No interface: each server's kube-vip binds to its own default-route NIC (they differ per server).
    assert "vip_interface" not in env
    # The local API server, not the Service: Cilium serves the Service and reaches the API via this VIP.
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("127.0.0.1", "6443")
    assert container["image"] == "ghcr.io/kube-vip/kube-vip:v0.8.9"
    assert container["securityContext"]["privileged"] is False
    assert pod["hostNetwork"] is True
    term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ][0]
    assert term["matchExpressions"][0]["key"] == "node-role.kubernetes.io/control-plane"
    assert (
        ds["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()
    )
    binding = manifests[2]
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    assert binding["roleRef"]["name"] == manifests[1]["metadata"]["name"]


def test_kube_vip_yaml_round_trips(real_config):
    cp = real_config.control_plane
    assert list(yaml.safe_load_all(render_kube_vip_yaml(cp))) == kube_vip_manifests(cp)
