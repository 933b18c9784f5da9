"""Warm `make preview` with no changes against its floors, on a control plane of the bench's own.

- ours:     python -m k3s_home preview, exactly what `make preview` runs (engine, plugins, policy pack,
            saved plan, the review gate and its cluster look-ups), after `up`, so nothing changes;
- floor 1:  kubectl apply --server-side --dry-run=server of the same objects (the stack's Kubernetes
            resources as the state holds their inputs; secret values replaced by placeholders, so no
            secret is ever written out): what the API server needs to judge the same change;
- floor 2:  `pulumi preview` of an empty Python program that imports pulumi_kubernetes: the engine,
            language host and SDK start-up that any Pulumi program pays.
Also: the same preview without the policy pack, to give the pack's added cost (wall and CPU), and with
--refresh, to give the cost of reading every object back (make preview refreshes, so drift shows).

kubectl is built from k8s.io/kubernetes/cmd/kubectl through the toolchain's kube-apiserver wrapper
module (benchmarks/kubectl.sh) into the tool cache, once.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from rules.type_token import is_api_object, kubernetes_kind

from .harness import BenchError, Figure, median, run_command

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / ".work" / "env.sh"
PACK = ROOT / "policy" / "run-pack"
STACK = "k3s-home"
EMPTY_STACK = "bench-empty"
PLACEHOLDER = "bench-placeholder"
# Pulumi's own bookkeeping keys in a Kubernetes resource's inputs.
_INTERNAL_KEYS = ("__inputs", "__initialApiVersion")


def toolchain_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        raise BenchError(f"{ENV_FILE} missing: run `make toolchain` (make bench does)")
    out = run_command(["bash", "-c", f"source {ENV_FILE} && env -0"]).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def kubectl(env: dict[str, str]) -> Path:
    out = run_command(["bash", str(Path(__file__).with_name("kubectl.sh"))], env=env, timeout=3600)
    return Path(out.stdout.strip().splitlines()[-1])


class Bench:
    def __init__(self, tmp: Path) -> None:
        base = toolchain_env()
        self.tmp = tmp
        self.run_dir = tmp / "run"
        (self.run_dir / "state").mkdir(parents=True)
        self.kubeconfig = tmp / "kubeconfig"
        self.env = {
            **base,
            "K3S_HOME_CLUSTER_DIR": str(tmp / "cluster"),
            "K3S_HOME_CLUSTER_KUBECONFIG": str(self.kubeconfig),
            "K3S_HOME_TARGET": "embedded",
            "K3S_HOME_RUN_DIR": str(self.run_dir),
            "PULUMI_BACKEND_URL": f"file://{self.run_dir}/state",
            "PULUMI_CONFIG_PASSPHRASE": "bench-only-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "1",
        }
        self.env.pop("KUBECONFIG", None)
        # Ports: K3S_HOME_BENCH_{ETCD,API}_PORT when given, else cluster.sh's own for this checkout.
        for ours, theirs in (
            ("K3S_HOME_BENCH_ETCD_PORT", "K3S_HOME_ETCD_PORT"),
            ("K3S_HOME_BENCH_API_PORT", "K3S_HOME_API_PORT"),
        ):
            if os.environ.get(ours):
                self.env[theirs] = os.environ[ours]

    def cluster(self, *args: str) -> None:
        run_command(["bash", str(ROOT / "scripts" / "cluster.sh"), *args], env=self.env, timeout=300)

    def stack(self, *args: str) -> subprocess.CompletedProcess:
        return run_command([sys.executable, "-m", "k3s_home", *args], env=self.env, cwd=ROOT, timeout=900)

    def pulumi(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """The CLI alone; by default in the driver's project directory, as the driver runs it."""
        env = {**self.env, "KUBECONFIG": str(self.kubeconfig)}
        return run_command(["pulumi", *args], env=env, cwd=cwd or self.run_dir / "stack", timeout=900)

    def preview_args(self) -> list[str]:
        config = self.run_dir / "stack" / f"Pulumi.{STACK}.yaml"  # written by the driver
        return ["preview", "--stack", STACK, "--config-file", str(config)]

    def empty_program(self) -> Path:
        project = self.tmp / "empty"
        project.mkdir()
        (project / "Pulumi.yaml").write_text(
            f"name: bench-empty\nruntime:\n  name: python\n  options:\n    virtualenv: {ROOT / '.venv'}\n"
        )
        # Imports the SDKs our program imports, registers nothing.
        (project / "__main__.py").write_text("import pulumi\nimport pulumi_kubernetes\n")
        self.pulumi("stack", "init", EMPTY_STACK, cwd=project)
        return project

    def objects_file(self) -> tuple[Path, int]:
        """The stack's Kubernetes objects as applied, secret values replaced by placeholders."""
        state = json.loads(self.pulumi("stack", "export", "--stack", STACK).stdout)
        objects = []
        for res in state["deployment"].get("resources", []):
            parsed = kubernetes_kind(res.get("type", ""))
            inputs = res.get("inputs")
            if not (res.get("custom") and parsed and is_api_object(*parsed) and isinstance(inputs, dict)):
                continue
            obj = _without_secrets({k: v for k, v in inputs.items() if k not in _INTERNAL_KEYS})
            api_version, kind = parsed
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind.removesuffix("Patch"))
            objects.append(obj)
        if not objects:
            raise BenchError("the stack holds no Kubernetes objects after up")
        path = self.tmp / "objects.yaml"
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False))
        return path, len(objects)


def _without_secrets(value: Any, key: str = "") -> Any:
    """Secret values in a state export are ciphertext envelopes: the dry-run gets a placeholder instead
    (a whole Secret `data` map becomes a one-key map, base64 of the placeholder)."""
    if isinstance(value, dict):
        if "4dabf18193072939515e22adb298388d" in value:  # Pulumi's secret signature key
            if key == "data":
                return {"bench": base64.b64encode(PLACEHOLDER.encode()).decode()}
            return {"bench": PLACEHOLDER} if key == "stringData" else PLACEHOLDER
        return {k: _without_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the finished child processes) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(tmp: Path, repeat: int) -> tuple[list[Figure], dict[str, str]]:
    bench = Bench(tmp)
    exe = kubectl(bench.env)
    bench.cluster("up")
    try:
        first = bench.stack("preview")
        if "Verdict" not in first.stdout:
            raise BenchError(f"make preview printed no review verdict:\n{first.stdout[-1500:]}")
        bench.stack("up", "--yes")
        objects, count = bench.objects_file()
        empty = bench.empty_program()
        kube_env = {**bench.env, "KUBECONFIG": str(bench.kubeconfig)}
        dry_run = [str(exe), "apply", "--server-side", "--force-conflicts", "--field-manager=k3s-home-bench"]
        dry_run += ["--dry-run=server", "-f", str(objects)]
        pack = ("--policy-pack", str(PACK))
        commands = {
            "ours": lambda: bench.stack("preview"),
            "no pack": lambda: bench.pulumi(*bench.preview_args()),
            "pack": lambda: bench.pulumi(*bench.preview_args(), "--policy-pack", str(PACK)),
            "pack refresh": lambda: bench.pulumi(*bench.preview_args(), *pack, "--refresh"),
            "empty": lambda: bench.pulumi("preview", "--stack", EMPTY_STACK, cwd=empty),
            "kubectl": lambda: run_command(dry_run, env=kube_env, timeout=300),
        }
        for fn in commands.values():  # warm-up: page cache, .pyc, plugin start-up paths
            fn()
        wall: dict[str, list[float]] = {k: [] for k in commands}
        cpu: dict[str, list[float]] = {k: [] for k in commands}
        for i in range(repeat):
            order = list(commands) if i % 2 == 0 else list(reversed(commands))
            for name in order:
                w, c = _timed(commands[name])
                wall[name].append(w)
                cpu[name].append(c)
    finally:
        bench.cluster("down")
        shutil.rmtree(tmp / "cluster", ignore_errors=True)

    m = {k: median(v) for k, v in wall.items()}
    mc = {k: median(v) for k, v in cpu.items()}
    figures = [
        Figure(
            "preview-vs-floors",
            f"warm `make preview`, no changes ({count} Kubernetes objects)",
            m["ours"],
            "empty program preview + kubectl server-side dry-run",
            m["empty"] + m["kubectl"],
            target=2.0,
            target_text="at most 2x the sum of the two floors",
            note=f"empty {m['empty']:.2f} s + kubectl {m['kubectl']:.2f} s",
            samples=wall,
        ),
        Figure(
            "engine-vs-empty",
            "`pulumi preview` of the stack alone, no pack, no gate",
            m["no pack"],
            "`pulumi preview` of an empty Python program importing pulumi_kubernetes",
            m["empty"],
        ),
        Figure(
            "pack-overhead",
            "`pulumi preview` with the policy pack, wall",
            m["pack"],
            "the same preview without the pack",
            m["no pack"],
            target=1.15,
            target_text="the pack adds at most 15 %",
        ),
        Figure(
            "refresh-cost",
            "`pulumi preview --policy-pack --refresh` (make preview reads every object back: drift)",
            m["pack refresh"],
            "the same preview without --refresh",
            m["pack"],
        ),
        Figure(
            "wrapper-and-gate",
            "warm `make preview` (the driver: target check, stack lookup, event stream, saved plan, gate)",
            m["ours"],
            "`pulumi preview --policy-pack --refresh` alone",
            m["pack refresh"],
        ),
        Figure(
            "pack-overhead-cpu",
            "`pulumi preview` with the policy pack, CPU of all processes",
            mc["pack"],
            "the same preview without the pack, CPU",
            mc["no pack"],
            unit="s CPU",
        ),
    ]
    return figures, {"kubectl": "built from k8s.io/kubernetes/cmd/kubectl, the toolchain's version"}
