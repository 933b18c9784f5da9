"""HaControlPlane under recording mocks: the token is a secret, node configs carry it as secrets, the
summary carries plain numbers only, and kube-vip is registered only when the config says so."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import yaml

from components.config import load
from components.control_plane.component import HaControlPlane
from components.control_plane.node_configs import TOKEN_PLACEHOLDER
from rules.data_loss import PYTHON_SECRET_TYPE
from tests.conftest import TEST_TODAY
from tests.unit.components.control_plane.helpers import captured

TOKEN = "mock-ha-control-plane-token"  # the recording mocks answer random resources with mock-<name>


def build_and_collect(record, config) -> tuple[Any, dict[str, Any], HaControlPlane]:
    seen: dict[str, Any] = {}
    holder: dict[str, HaControlPlane] = {}

    def build():
        cp = HaControlPlane("ha-control-plane", config)
        holder["cp"] = cp

        async def secrets():
            return {
                "token": await cp.token.is_secret(),
                **{f"config:{k}": await v.is_secret() for k, v in cp.node_configs.items()},
            }

        def keep(values):
            token, *configs = values
            seen["token"] = token
            seen["configs"] = dict(zip(cp.node_configs, configs, strict=True))

        out = pulumi.Output.all(cp.token, *cp.node_configs.values()).apply(keep)
        flags = pulumi.Output.from_input(secrets()).apply(lambda s: seen.__setitem__("secret", s))
        urns = pulumi.Output.all(*[r.urn for r in cp.kube_vip_resources]).apply(
            lambda u: seen.__setitem__("urns", u)
        )
        return pulumi.Output.all(out, flags, urns)

    mocks = record(build)
    return mocks, seen, holder["cp"]


def test_token_is_a_generated_secret(record, real_config):
    mocks, seen, _ = build_and_collect(record, real_config)
    token = mocks.one(PYTHON_SECRET_TYPE)  # the generator the stack config chooses
    assert token.inputs["length"] == 64
    assert seen["token"] == TOKEN
    assert seen["secret"]["token"] is True


def test_node_configs_are_secret_and_carry_the_token(record, real_raw):
    _, seen, _ = build_and_collect(record, load(captured(real_raw), today=TEST_TODAY))
    assert set(seen["configs"]) == {"k3s-master1", "k3s1", "k3s2", "k3s3"}
    for name, text in seen["configs"].items():
        assert seen["secret"][f"config:{name}"] is True
        assert yaml.safe_load(text)["token"] == TOKEN
    assert yaml.safe_load(seen["configs"]["k3s-master1"])["cluster-init"] is True
    assert yaml.safe_load(seen["configs"]["k3s3"])["server"] == "https://192.168.10.20:6443"


def test_uncaptured_nodes_get_no_config(record, real_raw):
    raw = captured(real_raw)
    del raw["controlPlane"]["nodes"][3]["liveConfig"]
    _, seen, cp = build_and_collect(record, load(raw, today=TEST_TODAY))
    assert set(seen["configs"]) == set(cp.config_previews) == {"k3s-master1", "k3s1", "k3s2"}
    assert cp.summary["uncapturedNodes"] == ["k3s3"]


def test_summary_lists_the_owned_keys_each_config_changes(record, real_raw):
    _, _, cp = build_and_collect(record, load(captured(real_raw), today=TEST_TODAY))
    assert cp.summary["uncapturedNodes"] == []
    assert cp.summary["configChanges"]["k3s1"] == [
        {"key": "server", "today": "https://192.168.10.30:6443", "written": "https://192.168.10.20:6443"}
    ]


def test_config_previews_hide_the_token(record, real_raw):
    _, _, cp = build_and_collect(record, load(captured(real_raw), today=TEST_TODAY))
    assert set(cp.config_previews) == {"k3s-master1", "k3s1", "k3s2", "k3s3"}
    for name, text in cp.config_previews.items():
        assert TOKEN not in text
        assert yaml.safe_load(text)["token"] == TOKEN_PLACEHOLDER, name


def test_summary_is_plain_and_has_no_secret(record, real_config):
    _, _, cp = build_and_collect(record, real_config)
    s = cp.summary
    text = json.dumps(s)  # plain values only: this fails on an Output
    assert TOKEN not in text and "token" not in text.lower()
    assert (s["quorum"], s["failureTolerance"]) == (2, 1)
    assert s["servers"] == ["k3s-master1", "k3s3", "k3s2"]
    assert s["clusterInit"] == "k3s-master1"
    assert s["today"] == {"servers": ["k3s-master1"], "datastore": "etcd", "source": "README.md:70"}
    assert s["apiUrl"] == "https://192.168.10.20:6443"
    assert s["headroom"]["k3s3"] == {"cores": 24.5, "memoryGiB": 361.0, "server": True}
    assert s["blockers"] == []
    assert s["usbQuorumRisk"] is False
    assert s["ciliumK8sServiceHost"] == {
        "today": "192.168.10.30",
        "target": "192.168.10.20",
        "edit": "clusters/k3s-home/infrastructure/01-cilium/helmrelease.yaml:28",
    }
    assert [o["key"] for o in s["options"] if o["recommended"]] == ["b3"]
    assert s["kubeVipDeployed"] is False
    # Nothing captured in the real stack yet.
    assert s["uncapturedNodes"] == ["k3s-master1", "k3s1", "k3s2", "k3s3"]


def test_kube_vip_is_not_registered_until_deployed(record, real_config):
    mocks, seen, cp = build_and_collect(record, real_config)
    assert not [r for r in mocks.resources if r.type.startswith("kubernetes:")]
    assert [m["kind"] for m in cp.kube_vip_manifests][-1] == "DaemonSet"
    assert seen["urns"] == []


def deployed(real_raw) -> Any:
    raw = copy.deepcopy(real_raw)
    raw["controlPlane"]["target"]["kubeVip"]["deploy"] = True
    return load(raw, today=TEST_TODAY)


def test_kube_vip_registered_as_typed_children(record, real_raw):
    mocks, seen, _ = build_and_collect(record, deployed(real_raw))
    types = sorted(r.type for r in mocks.resources if r.type.startswith("kubernetes:"))
    assert types == [
        "kubernetes:apps/v1:DaemonSet",
        "kubernetes:core/v1:ServiceAccount",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    ]
    # Parent type appears in each child's URN.
    assert all("k3s-home:index:HaControlPlane$kubernetes:" in urn for urn in seen["urns"])


def test_kube_vip_daemonset_skips_await_and_holds_the_vip(record, real_raw):
    mocks, _, _ = build_and_collect(record, deployed(real_raw))
    ds = mocks.one("kubernetes:apps/v1:DaemonSet").inputs
    assert ds["metadata"]["annotations"] == {"pulumi.com/skipAwait": "true"}
    assert ds["metadata"]["namespace"] == "kube-system"
    container = ds["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["address"] == "192.168.10.20"
    assert env["vip_arp"] == "true"
    assert ds["spec"]["template"]["spec"]["hostNetwork"] is True
    binding = mocks.one("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs
    assert binding["roleRef"]["name"] == "system:kube-vip-role"
