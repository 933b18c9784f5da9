"""The embedded control plane behaves like k3s-home: the facts' nodes with their GPUs, a scheduler, KWOK pod
lifecycles, the controllers a workload needs, and the live baseline seeded as local-path binds it."""

from __future__ import annotations

import shutil
import subprocess

from lightkube.models.batch_v1 import JobSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod
from lightkube.resources.storage_v1 import StorageClass

import facts
from tests.integration.conftest import ROOT, cluster_ports
from tests.integration.waiting import until

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def test_nodes_are_the_facts_nodes_with_their_gpu_capacity(kube):
    f = facts.load()
    nodes = {n.metadata.name: n for n in kube.list(Node)}
    assert sorted(nodes) == sorted(n.name for n in f.nodes) == ["k3s-master1", "k3s1", "k3s2", "k3s3"]
    gpus = {name: {k: v for k, v in n.status.allocatable.items() if "gpu" in k} for name, n in nodes.items()}
    assert gpus == {
        "k3s-master1": {},
        "k3s1": {"gpu.intel.com/i915": "10"},
        "k3s2": {"gpu.intel.com/i915": "10"},
        "k3s3": {"nvidia.com/gpu": "4"},  # facts gpuPools: 1 T4 x 4 time-slicing replicas
    }
    assert nodes["k3s3"].status.allocatable["cpu"] == "32"
    for n in nodes.values():
        ready = {c.type: c.status for c in n.status.conditions or []}
        assert ready.get("Ready") == "True", f"{n.metadata.name} is not Ready"


def test_the_control_plane_node_is_k3s_master1(kube):
    servers = list(kube.list(Node, labels={"node-role.kubernetes.io/control-plane": "true"}))
    assert [n.metadata.name for n in servers] == facts.load().control_plane.servers == ["k3s-master1"]
    [master] = servers
    assert master.metadata.labels["node-role.kubernetes.io/master"] == "true"
    assert master.metadata.labels["node-role.kubernetes.io/etcd"] == "true"
    # KWOK kept the address the facts give (README.md), not its own --node-ip
    assert {a.type: a.address for a in master.status.addresses}["InternalIP"] == "192.168.10.30"


def test_no_longhorn_but_the_marked_test_stand_in(kube):
    classes = {c.metadata.name: c for c in kube.list(StorageClass)}
    assert {"local-path", "local-ssd", "local-hdd"} <= set(classes)
    # The only Longhorn class is the stack's own, once a test has run the stack (it is seeded by nobody).
    longhorn = {n for n, c in classes.items() if c.provisioner == "driver.longhorn.io"}
    assert longhorn <= {"longhorn-replicated"}
    for name in longhorn:
        assert "k3s-home.dev/seed-source" not in (classes[name].metadata.annotations or {})
    namespace = kube.get(Namespace, "longhorn-system")  # tests/integration/standins/, not the baseline
    assert namespace.metadata.annotations["k3s-home.dev/test-stand-in"]


def test_a_job_created_by_hand_completes(kube):
    job = Job(
        metadata=ObjectMeta(name="by-hand", namespace="default"),
        spec=JobSpec(
            backoffLimit=0,
            template=PodTemplateSpec(
                spec=PodSpec(restartPolicy="Never", containers=[Container(name="c", image="busybox:1.37")])
            ),
        ),
    )
    kube.create(job)
    done = until(
        "Job by-hand Complete",
        lambda: any(
            c.type == "Complete" and c.status == "True"
            for c in kube.get(Job, "by-hand", namespace="default").status.conditions or []
        ),
    )
    assert done
    pods = list(kube.list(Pod, namespace="default", labels={"job-name": "by-hand"}))
    assert [p.status.phase for p in pods] == ["Succeeded"]
    assert pods[0].spec.nodeName in {n.name for n in facts.load().nodes}


def test_seeded_monitoring_statefulsets_run_on_their_claims(kube):
    sets = {s.metadata.name: s for s in kube.list(StatefulSet, namespace="monitoring")}
    assert {"prometheus-kube-prometheus-stack-prometheus", "loki"} <= set(sets)
    for name, sts in sets.items():
        template = sts.spec.volumeClaimTemplates[0].metadata.name
        pod = kube.get(Pod, f"{name}-0", namespace="monitoring")
        assert pod.status.phase == "Running", f"{name}-0 is {pod.status.phase}"
        claims = [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.persistentVolumeClaim]
        assert f"{template}-{name}-0" in claims
        claim = kube.get(PersistentVolumeClaim, f"{template}-{name}-0", namespace="monitoring")
        assert claim.status.phase == "Bound"
        pv = kube.get(PersistentVolume, claim.spec.volumeName)
        # As local-path provisions it: bound by uid, on the pod's node, never applied with kubectl.
        assert pv.spec.claimRef.uid == claim.metadata.uid
        assert pv.spec.local.path.startswith("/var/lib/rancher/k3s/storage/pvc-")
        node = pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values
        assert node == [pod.spec.nodeName]
        for obj in (claim, pv):
            assert LAST_APPLIED not in (obj.metadata.annotations or {})


def test_a_second_checkout_gets_its_own_ports_and_a_clear_line_on_a_clash(
    toolchain_env, cluster_env, tmp_path
):
    # A second checkout (a copy of this one's scripts at another path) derives other ports.
    other = tmp_path / "other-checkout"
    (other / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "cluster.sh", other / "scripts" / "cluster.sh")
    mine = cluster_ports(toolchain_env, "test")
    theirs = subprocess.run(
        ["bash", str(other / "scripts" / "cluster.sh"), "ports", "test"], capture_output=True, text=True
    )
    assert theirs.returncode == 0 and f"api={mine['api']}" not in theirs.stdout

    # Forced onto the port this session's plane holds, `up` says who holds it and how to stop it.
    clash = subprocess.run(
        ["bash", str(ROOT / "scripts" / "cluster.sh"), "up"],
        env={
            **cluster_env,
            "K3S_HOME_CLUSTER_DIR": str(tmp_path / "clash"),
            "K3S_HOME_CLUSTER_KUBECONFIG": str(tmp_path / "clash-kubeconfig"),
            "K3S_HOME_ETCD_PORT": str(int(cluster_env["K3S_HOME_ETCD_PORT"]) + 100),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert clash.returncode != 0
    lines = [line for line in clash.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1, clash.stderr
    assert f"port {cluster_env['K3S_HOME_API_PORT']} is held by the embedded control plane in" in lines[0]
    assert cluster_env["K3S_HOME_CLUSTER_DIR"] in lines[0] and "cluster.sh down" in lines[0]
