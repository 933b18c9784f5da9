"""Run the stack's own program, pack and provider in render mode: `pulumi up` with the kubernetes provider's
`renderYamlToDirectory` set, into a private directory.

The render keeps a state of its own (`<run>/render/state`, or K3S_HOME_RENDER_BACKEND_URL for a team's
shared backend), apart from direct mode's: what it must keep between renders are the generated secrets,
which live there (ADR 0016) and, encrypted, in the repository. The rendered objects are files, not state:
before each render the kubernetes resources are dropped from that state, so the provider writes every
object again (it writes only on create and update) into the new directory.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.resources import RENDER_CONFIG
from k3s_home import backend as driver

ROOT = Path(__file__).resolve().parents[1]
STACK = "k3s-home"
PROJECT = "k3s-home"
POLICY_PACK = ROOT / "policy" / "run-pack"
TIMEOUT = 900
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"


class EngineError(RuntimeError):
    pass


@dataclass(frozen=True)
class Run:
    dir: Path  # K3S_HOME_RUN_DIR or .work

    @property
    def render(self) -> Path:
        return self.dir / "render"

    @property
    def project(self) -> Path:
        """Where every CLI call runs: a project file of the render's own pointing at the checkout, and the
        render's stack file. Run in the checkout, `stack export`/`import` would write the salt into the
        committed stack file (the driver's reason for the same layout, k3s_home/backend.py)."""
        return driver.Run(self.render).project


def run_dir() -> Run:
    return Run(Path(os.environ.get("K3S_HOME_RUN_DIR") or ROOT / ".work"))


def _private_file(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def engine_env(run: Run) -> dict[str, str]:
    """Backend and passphrase: the render's own state; the user's passphrase, or the run's generated one."""
    env = dict(os.environ)
    state = run.render / "state"
    state.mkdir(parents=True, exist_ok=True)
    env["PULUMI_BACKEND_URL"] = os.environ.get("K3S_HOME_RENDER_BACKEND_URL") or f"file://{state}"
    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        passphrase = run.dir / "passphrase"
        if not passphrase.is_file() or passphrase.stat().st_size == 0:
            _private_file(passphrase, secrets.token_urlsafe(32) + "\n")
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase)
    return env


def _pulumi(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["pulumi", "--non-interactive", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def _stack_exists(env: dict[str, str], project: Path) -> bool:
    url = env["PULUMI_BACKEND_URL"]
    if url.startswith("file://"):
        stacks = Path(url.removeprefix("file://")) / ".pulumi" / "stacks" / PROJECT
        return any(stacks.glob(f"{STACK}.json*"))
    out = _pulumi(["stack", "ls", "--json"], env, project)
    return out.returncode == 0 and any(s["name"].split("/")[-1] == STACK for s in json.loads(out.stdout))


def _salt(run: Run, env: dict[str, str]) -> str | None:
    """The passphrase salt of the render stack, created with the stack in a copy of the project."""
    salt_file = run.render / "encryptionsalt"
    if not _stack_exists(env, run.project):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(ROOT / "Pulumi.yaml", tmp)
            out = _pulumi(["stack", "init", STACK], env, cwd=Path(tmp))
            if out.returncode != 0:
                raise EngineError(f"pulumi stack init {STACK} (render state): {out.stderr.strip()}")
            written = yaml.safe_load((Path(tmp) / f"Pulumi.{STACK}.yaml").read_text()) or {}
        salt_file.write_text(str(written.get("encryptionsalt", "")))
    salt = salt_file.read_text().strip() if salt_file.is_file() else ""
    return salt or None


def stack_file(run: Run, source: Path, out_dir: Path, env: dict[str, str]) -> Path:
    """The stack file the render runs: the source config plus the provider's render directory."""
    driver.write_project(driver.Run(run.render))
    doc = yaml.safe_load(source.read_text()) or {}
    doc.pop("encryptionsalt", None)
    doc.setdefault("config", {})[f"kubernetes:{RENDER_CONFIG}"] = str(out_dir)
    if salt := _salt(run, env):
        doc["encryptionsalt"] = salt
    path = run.project / f"Pulumi.{STACK}.yaml"
    _private_file(path, yaml.safe_dump(doc, sort_keys=False))
    return path


def without_kubernetes(deployment: dict) -> dict:
    """The state minus every kubernetes resource and provider: the files they stood for are re-rendered;
    what is left (the generated secrets, the components) is kept."""
    resources = deployment.get("resources") or []
    dropped = {
        r["urn"]
        for r in resources
        if r.get("type", "").startswith("kubernetes:") or r.get("type") == KUBERNETES_PROVIDER
    }
    kept = []
    for r in resources:
        if r["urn"] in dropped:
            continue
        r = dict(r)
        r["dependencies"] = [d for d in r.get("dependencies") or [] if d not in dropped]
        if "propertyDependencies" in r:
            r["propertyDependencies"] = {
                k: [d for d in v if d not in dropped] for k, v in (r["propertyDependencies"] or {}).items()
            }
        kept.append(r)
    pending = [
        p
        for p in deployment.get("pending_operations") or []
        if p.get("resource", {}).get("urn") not in dropped
    ]
    return {**deployment, "resources": kept, "pending_operations": pending}


def _forget_rendered(env: dict[str, str], project: Path, private: Path) -> None:
    exported = private / "state.json"
    out = _pulumi(["stack", "export", "--stack", STACK, "--file", str(exported)], env, project)
    if out.returncode != 0:
        raise EngineError(f"pulumi stack export (render state): {out.stderr.strip()}")
    state = json.loads(exported.read_text())
    deployment = state.get("deployment") or {}
    if not deployment.get("resources"):
        return
    state["deployment"] = without_kubernetes(deployment)
    _private_file(exported, json.dumps(state))
    out = _pulumi(["stack", "import", "--stack", STACK, "--file", str(exported)], env, project)
    if out.returncode != 0:
        raise EngineError(f"pulumi stack import (render state): {out.stderr.strip()}")


def render(run: Run, source: Path, out_dir: Path, events: Path, private: Path) -> subprocess.CompletedProcess:
    """`pulumi up` in render mode with the policy pack; the provider writes into `out_dir`."""
    env = engine_env(run)
    config_file = stack_file(run, source, out_dir, env)
    env["K3S_HOME_STACK_CONFIG"] = str(source)  # the pack judges exactly the file being rendered
    _forget_rendered(env, run.project, private)
    return _pulumi(
        [
            "up",
            "--yes",
            "--skip-preview",
            "--suppress-outputs",
            "--stack",
            STACK,
            "--config-file",
            str(config_file),
            "--policy-pack",
            str(POLICY_PACK),
            "--event-log",
            str(events),
        ],
        env,
        run.project,
    )
