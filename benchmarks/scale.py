"""The stack at 1x, 3x and 10x: OAuth clients, GPU tenants (in more namespaces) and migrated claims.

`scaled(doc, k)` multiplies the real stack file's lists; the result validates through the same model.
Measured here: the Pulumi program built under the unit tests' recording mocks in a fresh interpreter
(`python -m benchmarks.scale K FILE`): CPU, and peak Python memory per registered resource. This is the
program's side only; the engine's and the plugins' share of a real preview at scale is not measured yet.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from .harness import Figure, run_command

ROOT = Path(__file__).resolve().parents[1]
SCALES = (1, 3, 10)


def scaled(doc: dict[str, Any], k: int) -> dict[str, Any]:
    """The stack file with k times the OAuth clients, GPU tenants and migrated claims."""
    out = copy.deepcopy(doc)
    cfg = out["config"]
    clients = cfg["k3s-home:authentik"]["clients"]
    clients += [_client_copy(client, i) for i in range(1, k) for client in list(clients)]
    tenants = cfg["k3s-home:gpu"]["tenants"]
    originals = list(tenants)
    # The T4's 4 slices are all held by media and ai (facts/k3s-home.yaml), so the extra tenants share
    # the QuickSync pool: one slice each while free slices remain, then none, so the proof still holds.
    free = 20 - 4  # i915: 2 nodes x 1 iGPU x sharedDevNum 10, media reserves 4
    for i in range(1, k):
        for t in originals:
            share = 1 if free > 0 else 0
            free -= share
            tenants.append(
                {
                    "namespace": f"{t['namespace']}-{i}",
                    "priorityClassName": t["priorityClassName"],
                    "pools": {"gpu.intel.com/i915": {"max": share}},
                }
            )
    for migration in cfg["k3s-home:storage"]["migrations"]:
        claims = list(migration["pvcs"])
        for i in range(1, k):
            for claim in claims:
                c = copy.deepcopy(claim)
                c["name"] = f"{claim['name']}-{i}"
                source = c["source"]
                source["volume"] = f"{source['volume']}-{i}"
                if "hostPath" in source:  # a local-path volume's directory
                    source["hostPath"] = f"{source['hostPath']}-{i}"
                if "nfs" in source:  # an NFS export
                    source["nfs"]["path"] = f"{source['nfs']['path']}-{i}"
                migration["pvcs"].append(c)
    return out


def _client_copy(client: dict[str, Any], i: int) -> dict[str, Any]:
    c = copy.deepcopy(client)
    c["slug"], c["name"] = f"{client['slug']}-{i}", f"{client['name']} {i}"
    if "jellyfin" in c:  # the plugin's provider name is part of its callback path
        c["jellyfin"]["providerName"] = f"{client['jellyfin']['providerName']}{i}"
        for uri in c["redirectUris"]:
            uri["url"] = uri["url"].replace("/redirect/authentik", f"/redirect/authentik{i}")
        c["launchUrl"] = c["launchUrl"].replace("/start/authentik", f"/start/authentik{i}")
    return c


def write_variants(tmp: Path) -> dict[int, Path]:
    doc = yaml.safe_load((ROOT / "Pulumi.k3s-home.yaml").read_text())
    paths = {}
    for k in SCALES:
        path = tmp / f"Pulumi.k3s-home.{k}x.yaml"
        path.write_text(yaml.safe_dump(scaled(doc, k), sort_keys=False))
        paths[k] = path
    return paths


def program(tmp: Path) -> tuple[list[Figure], dict[int, dict[str, float]]]:
    """Builds the program under mocks at each scale, each in a fresh interpreter."""
    results = {}
    for k, path in write_variants(tmp).items():
        cmd = [sys.executable, "-m", "benchmarks.scale", str(k), str(path)]
        out = run_command(cmd, cwd=ROOT, timeout=600)
        results[k] = json.loads(out.stdout.strip().splitlines()[-1])
    one, ten = results[1], results[10]
    figures = [
        Figure(
            "scale-program-cpu",
            f"program build under mocks at 10x ({ten['resources']} resources), CPU",
            ten["cpu"],
            f"the same at 1x ({one['resources']} resources)",
            one["cpu"],
            unit="s CPU",
            target=3.0,
            target_text="at most 3x the real stack",
            note="3x: {cpu} s CPU, {resources} resources".format(**results[3]),
        ),
        Figure(
            "scale-program-memory",
            "program peak Python memory per resource at 10x (tracemalloc)",
            ten["kib_per_resource"],
            "the same at 1x",
            one["kib_per_resource"],
            unit="KiB",
            target=1.1,
            target_text="flat per resource (within 10 %)",
            note=(
                "3x: {kib_per_resource} KiB per resource; ".format(**results[3])
                + "the interpreter's interned-string table grown during the build: "
                + " / ".join(f"{results[k]['interned_kib']:.0f} KiB at {k}x" for k in SCALES)
                + "; without it: "
                + " / ".join(f"{results[k]['kib_per_resource_without_interned']} KiB" for k in SCALES)
                + " per resource"
            ),
        ),
    ]
    return figures, results


def _measure(k: str, path: str) -> dict[str, float]:
    """Runs in a fresh interpreter: Pulumi's mocks and settings are process-global."""
    import linecache
    import time
    import tracemalloc

    os.environ.setdefault("K3S_HOME_SECRET_GENERATOR", "random")
    import pulumi

    from components.config import clock, load
    from components.control_plane.component import HaControlPlane
    from components.gpu.component import GpuManagement
    from components.sso.component import AuthentikSso
    from components.storage.component import MonitoringStorage
    from tests.unit.conftest import RecordingMocks

    doc = yaml.safe_load(Path(path).read_text())
    cfg = load({key.removeprefix("k3s-home:"): v for key, v in doc["config"].items()}, today=clock.today())
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="k3s-home", stack="k3s-home", preview=True)

    def build() -> None:
        GpuManagement("gpu", cfg)
        MonitoringStorage("monitoring-storage", cfg)
        AuthentikSso("authentik-sso", cfg)
        HaControlPlane("ha-control-plane", cfg)

    start = time.process_time()
    pulumi.runtime.test(build)()
    cpu = time.process_time() - start
    mocks.resources.clear()
    pulumi.runtime.set_mocks(mocks, project="k3s-home", stack="k3s-home", preview=True)
    tracemalloc.start()
    pulumi.runtime.test(build)()
    peak = tracemalloc.get_traced_memory()[1]
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # CPython's table of interned strings is global to the interpreter: when a build crosses its resize
    # threshold (Pulumi's SDK interns path parts for each resource's source position), the whole new table
    # (megabytes) lands in that build's peak. Reported beside the figure, not taken out of it.
    interned = sum(
        st.size
        for st in snapshot.statistics("lineno")
        if "sys.intern(" in linecache.getline(st.traceback[0].filename, st.traceback[0].lineno)
    )
    n = len(mocks.resources)
    return {
        "k": int(k),
        "resources": n,
        "cpu": round(cpu, 3),
        "kib_per_resource": round(peak / 1024 / n, 1),
        "interned_kib": round(interned / 1024, 1),
        "kib_per_resource_without_interned": round((peak - interned) / 1024 / n, 1),
    }


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    print(json.dumps(_measure(sys.argv[1], sys.argv[2])))
