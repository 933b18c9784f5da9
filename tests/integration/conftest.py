"""The integration layer: the real Pulumi engine and plugins against the embedded control plane.

Nothing here skips. A missing toolchain or a dead API server fails the test with one clear line.
The embedded control plane is always the target here, never a kubeconfig of the user's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

import facts
from tests.conftest import facts_with_longhorn, write_facts

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import api_check  # noqa: E402

ENV_FILE = ROOT / ".work" / "env.sh"
# Marked test stand-ins seeded after the live baseline on every plane a test starts (scripts/cluster.sh):
# what the live cluster lacks but the stack's runs still need (Longhorn's namespace and class; ADR 0025).
STANDINS = ROOT / "tests" / "integration" / "standins"
COMMAND_TIMEOUT = 300


def _toolchain_env() -> dict[str, str]:
    if not ENV_FILE.exists():
        pytest.fail(f"toolchain not installed ({ENV_FILE} missing): run `make toolchain`", pytrace=False)
    out = subprocess.run(
        ["bash", "-c", f"source {ENV_FILE} && env -0"], capture_output=True, check=True, timeout=30
    ).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {**env, "K3S_HOME_SEED_STANDINS": str(STANDINS)}


@pytest.fixture(scope="session")
def toolchain_env() -> dict[str, str]:
    env = _toolchain_env()
    for tool in ("pulumi", "pulumi-language-python"):
        found = subprocess.run(["bash", "-c", f"command -v {tool}"], env=env, capture_output=True)
        if found.returncode != 0:
            pytest.fail(f"{tool} is not on the toolchain PATH: run `make toolchain`", pytrace=False)
    return env


DRIVER = (sys.executable, "-m", "k3s_home")  # what `make preview`, `make up`, ... run


# The kubernetes provider plugin itself crashing ("exited prematurely", nothing dumped): seen once, in a
# full CI run, in the preview after `make recover` of test_interrupted_update.py, which passed alone and
# in the other full runs. An upstream crash, not ours.
PROVIDER_CRASH = "pulumi-resource-kubernetes exited prematurely"


def provider_crashed(result: subprocess.CompletedProcess) -> bool:
    return PROVIDER_CRASH in " ".join((result.stdout + result.stderr).split())


def run_driver(
    *args: str, env: dict[str, str], timeout: int = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess:
    """One driver command (`python -m k3s_home ARGS`) in the checkout, with exactly `env`.

    A preview that failed only because the provider plugin crashed is run once more, with a warning in
    the test report: a preview changes nothing, so the second one judges the same state. Nothing else
    is retried (an `up` the plugin died in is what `make recover` is for, and the tests check that)."""
    command = [*DRIVER, *args]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if args[:1] == ("preview",) and result.returncode != 0 and provider_crashed(result):
        warnings.warn(
            f"the kubernetes provider plugin crashed in `{' '.join(args)}`; previewing again", stacklevel=2
        )
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return result


def cluster_sh(env: dict[str, str], *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    """`scripts/cluster.sh ARGS` for the control plane `env` names (K3S_HOME_CLUSTER_DIR, ports)."""
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "cluster.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cluster_ports(env: dict[str, str], purpose: str) -> dict[str, str]:
    """This checkout's ports for `purpose` (dev, test, aux), as scripts/cluster.sh derives them."""
    out = cluster_sh(env, "ports", purpose)
    assert out.returncode == 0, out.stderr
    return dict(p.split("=") for p in out.stdout.split())


def aux_plane(env: dict[str, str], base: Path) -> dict[str, str]:
    """`env` for a throwaway control plane of a test's own: its state and kubeconfig under `base`, on
    this checkout's aux ports (one such plane at a time)."""
    ports = cluster_ports(env, "aux")
    return {
        **env,
        "K3S_HOME_CLUSTER_DIR": str(base / "cluster"),
        "K3S_HOME_CLUSTER_KUBECONFIG": str(base / "kubeconfig"),
        "K3S_HOME_ETCD_PORT": ports["etcd"],
        "K3S_HOME_API_PORT": ports["api"],
    }


@contextlib.contextmanager
def own_plane(env: dict[str, str], base: Path) -> Iterator[tuple[dict[str, str], Path]]:
    """A fresh seeded control plane of a module's own on this checkout's aux ports (`aux_plane`), and the
    stack file with its migration sources recorded from it, as `make record-migration-sources` writes
    them; the plane is stopped on the way out."""
    env = aux_plane(env, base)
    up = cluster_sh(env, "up", timeout=300)
    if up.returncode != 0:
        cluster_sh(env, "down", timeout=120)
        pytest.fail(f"embedded control plane failed to start:\n{up.stderr[-2000:]}", pytrace=False)
    try:
        stack_file = base / "Pulumi.k3s-home.yaml"
        stack_file.write_text((ROOT / "Pulumi.k3s-home.yaml").read_text())
        rec = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "record_sources.py"), env["K3S_HOME_CLUSTER_KUBECONFIG"],
             str(stack_file)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert rec.returncode == 0, rec.stderr
        yield env, stack_file
    finally:
        cluster_sh(env, "down", timeout=120)


@pytest.fixture(scope="session")
def cluster_env(toolchain_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A control plane of the test session's own: fresh, seeded, apart from the user's `.work/`."""
    base = tmp_path_factory.mktemp("embedded")
    # The checkout's own test ports (scripts/cluster.sh derives them from its path).
    ports = cluster_ports(toolchain_env, "test")
    return {
        **toolchain_env,
        "K3S_HOME_CLUSTER_DIR": str(base / "cluster"),
        "K3S_HOME_CLUSTER_KUBECONFIG": str(base / "kubeconfig"),
        "K3S_HOME_ETCD_PORT": os.environ.get("K3S_HOME_TEST_ETCD_PORT", ports["etcd"]),
        "K3S_HOME_API_PORT": os.environ.get("K3S_HOME_TEST_API_PORT", ports["api"]),
    }


@pytest.fixture(scope="session")
def embedded_kubeconfig(cluster_env: dict[str, str]) -> Iterator[str]:
    """Path of the session's embedded control plane kubeconfig; stopped and wiped at the end."""
    up = cluster_sh(cluster_env, "up")
    if up.returncode != 0:
        cluster_sh(cluster_env, "down")
        pytest.fail(f"embedded control plane failed to start:\n{up.stderr[-2000:]}", pytrace=False)
    yield cluster_env["K3S_HOME_CLUSTER_KUBECONFIG"]
    cluster_sh(cluster_env, "down")


@pytest.fixture(autouse=True)
def api_alive(embedded_kubeconfig: str) -> None:
    """Fail fast, with the reason, when the API server is gone (never hang)."""
    reason = api_check.check(embedded_kubeconfig)
    if reason:
        pytest.fail(f"embedded control plane: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def kube(embedded_kubeconfig: str):
    """A lightkube client on the embedded control plane (kube-controller-manager running)."""
    from lightkube import Client, KubeConfig

    return Client(KubeConfig.from_file(embedded_kubeconfig), timeout=15)


@pytest.fixture(scope="session")
def second_server(cluster_env: dict[str, str], embedded_kubeconfig: str):
    """A lightkube client on a second kube-apiserver of the same etcd, started with the GPU admission
    configuration (`cluster.sh second-server`): a k3s server after the flag's rollout. Stopped with the
    plane."""
    from lightkube import Client, KubeConfig

    port = os.environ.get("K3S_HOME_TEST_SECOND_API_PORT", cluster_ports(cluster_env, "test")["second"])
    out = cluster_sh(cluster_env, "second-server", port)
    if out.returncode != 0:
        pytest.fail(f"second kube-apiserver failed to start:\n{out.stderr[-2000:]}", pytrace=False)
    config = yaml.safe_load(Path(embedded_kubeconfig).read_text())
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    return Client(KubeConfig.from_dict(config), timeout=15)


@pytest.fixture(scope="session")
def stack_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Backend, passphrase and plan of the integration stack, apart from the user's `.work/`."""
    return tmp_path_factory.mktemp("stack-run")


@pytest.fixture(scope="session")
def recorded_stack_file(embedded_kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack file with its migration sources recorded from the embedded cluster, as an operator gets
    it from `make record-migration-sources` (the PV names and uids exist only in the cluster)."""
    path = tmp_path_factory.mktemp("stack-file") / "Pulumi.k3s-home.yaml"
    path.write_text((ROOT / "Pulumi.k3s-home.yaml").read_text())
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "record_sources.py"), embedded_kubeconfig, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        pytest.fail(f"record-migration-sources failed: {out.stderr[-2000:]}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def handed_over_stack_file(recorded_stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack file with `cluster.adopt` and `cluster.fluxKeeps` emptied: what a stack that never adopted
    and leaves nothing to Flux would do against the live cluster (and, once the entries leave after step 1,
    step 2 of the handover, ADR 0003 and ADR 0029)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    doc = yaml.load(recorded_stack_file.read_text())
    doc["config"]["k3s-home:cluster"]["adopt"] = []
    doc["config"]["k3s-home:cluster"]["fluxKeeps"] = []
    path = tmp_path_factory.mktemp("handed-over") / "Pulumi.k3s-home.yaml"
    with path.open("w") as out:
        yaml.dump(doc, out)
    return path


@pytest.fixture
def stack(
    cluster_env: dict[str, str], embedded_kubeconfig: str, stack_run_dir: Path, recorded_stack_file: Path
) -> Callable[..., subprocess.CompletedProcess]:
    """`stack("preview")` runs the driver exactly as `make preview` does, on the embedded target."""
    return stack_runner(cluster_env, stack_run_dir, recorded_stack_file)


def driver_env(
    cluster_env: dict[str, str], stack_run_dir: Path, stack_file: Path, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment `make preview` / `make up` get on an embedded cluster: its run directory, file
    backend and passphrase, the stack file; `extra` last (a caller may point KUBECONFIG elsewhere)."""
    env = {
        **cluster_env,
        "K3S_HOME_TARGET": "embedded",
        "K3S_HOME_RUN_DIR": str(stack_run_dir),
        "PULUMI_BACKEND_URL": f"file://{stack_run_dir}/state",
        "PULUMI_CONFIG_PASSPHRASE": "integration-tests-only",
        "K3S_HOME_STACK_CONFIG": str(stack_file),
    }
    env.pop("KUBECONFIG", None)  # never a kubeconfig of the user's
    (stack_run_dir / "state").mkdir(exist_ok=True)
    return {**env, **(extra or {})}


def stack_runner(
    cluster_env: dict[str, str], stack_run_dir: Path, recorded_stack_file: Path
) -> Callable[..., subprocess.CompletedProcess]:
    """The `stack` fixture's runner for any embedded cluster, run directory and stack file."""

    def run(
        *args: str, timeout: int = COMMAND_TIMEOUT, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        return run_driver(
            *args, env=driver_env(cluster_env, stack_run_dir, recorded_stack_file, env), timeout=timeout
        )

    return run


@pytest.fixture(scope="module")
def longhorn_facts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Facts with a stand-in Longhorn provisioner (tests/conftest.py), for a module whose migrations pass
    `plan`: set for the module's own process; add it to the env of the processes it starts (ADR 0028)."""
    path = write_facts(facts_with_longhorn(), tmp_path_factory.mktemp("facts"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(facts.ENV, str(path))
        yield str(path)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("PULUMI_SKIP_UPDATE_CHECK", "1")
