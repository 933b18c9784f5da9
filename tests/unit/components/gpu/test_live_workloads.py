"""Reading the target's workloads fails closed: every failure is a one-line reason, never an exception.

The read against a real API server is in tests/integration/test_gpu_outage.py.
"""

from __future__ import annotations

import time
from itertools import count
from pathlib import Path

import yaml

from components.gpu.live_workloads import judged, read


def _kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return str(path)


def test_no_kubeconfig_is_no_target() -> None:
    got = read()  # the unit layer's conftest unsets KUBECONFIG
    assert got.objects == () and got.unreadable == "no target cluster (KUBECONFIG is not set)"


def test_a_missing_kubeconfig_is_said(tmp_path: Path) -> None:
    got = read(str(tmp_path / "nowhere"))
    assert got.unreadable is not None and got.unreadable.startswith(f"cannot use {tmp_path / 'nowhere'}: ")


def test_a_refused_connection_is_said_in_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    got = read(_kubeconfig(tmp_path, "https://127.0.0.1:1"))
    assert got.unreadable is not None and got.unreadable.startswith("cannot list Deployments: ")
    assert "\n" not in got.unreadable and got.objects == ()
    assert time.monotonic() - started < 10  # bounded: refused at once, never retried


def test_the_whole_read_is_bounded(tmp_path: Path) -> None:
    ticks = count(0, 100)  # every look at the clock is 100 s later
    got = read(_kubeconfig(tmp_path, "https://127.0.0.1:1"), timeout=20, clock=lambda: next(ticks))
    assert got.unreadable == "reading Deployments took longer than 20s"


def _obj(kind: str, name: str, phase: str | None = None, owner: str | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "media"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "o", "controller": True}]
    return {"kind": kind, "metadata": meta, **({"status": {"phase": phase}} if phase else {})}


def test_judged_are_the_templates_and_the_pods_no_controller_makes() -> None:
    objects = [
        _obj("Deployment", "jellyfin"),
        _obj("ReplicaSet", "jellyfin-5899dd55d9", owner="Deployment"),  # judged through its Deployment
        _obj("ReplicaSet", "bare"),  # nothing above it: its own template makes its pods
        _obj("Pod", "jellyfin-5899dd55d9-abcde", "Running", owner="ReplicaSet"),
        _obj("Pod", "debug", "Running"),
        _obj("Pod", "waiting", "Pending"),
        _obj("Pod", "unknown-phase"),
        _obj("Pod", "done", "Succeeded"),  # never made again
        _obj("Pod", "crashed", "Failed"),
        _obj("CronJob", "backup"),
        _obj("Job", "backup-1", owner="CronJob"),  # a running Job makes pods from its own template
    ]
    assert [o["metadata"]["name"] for o in judged(objects)] == [
        "jellyfin",
        "bare",
        "debug",
        "waiting",
        "unknown-phase",
        "backup",
        "backup-1",
    ]
