"""Where the state lives, the passphrase, and the stack file the engine reads (docs/state.md).

- The run directory (`K3S_HOME_RUN_DIR`, default .work/) holds the local state, a generated passphrase,
  the stack file copy and the reviewed plan; tests point it elsewhere.
- `PULUMI_BACKEND_URL` is the user's when set, else `file://<run>/state`.
- `PULUMI_CONFIG_PASSPHRASE` or `_FILE` is the user's when set, else a generated one in `<run>/passphrase`.
- The committed Pulumi.k3s-home.yaml stays untouched: the passphrase's salt lives in an ignored copy
  (`<run>/stack/Pulumi.k3s-home.yaml`), the source file (`K3S_HOME_STACK_CONFIG`, a variant, or the committed
  one) plus the salt, which every command reads through --config-file.
- Every CLI call runs in `<run>/stack/`, a project directory of the driver's own (its Pulumi.yaml points
  `main` at the checkout): commands that take no --config-file (`stack export --show-secrets`, `stack
  import`, passthroughs) would otherwise write the salt, reformatted, into the committed stack file.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from pulumi import automation as auto

from k3s_home.target import ROOT

STACK = "k3s-home"
PROJECT = "k3s-home"  # name: in Pulumi.yaml
SALT_KEY = "encryptionsalt:"


@dataclass(frozen=True)
class Run:
    dir: Path

    @property
    def plan(self) -> Path:
        return self.dir / "plan.json"

    @property
    def preview_events(self) -> Path:
        return self.dir / "preview-events.jsonl"

    @property
    def stack_file(self) -> Path:
        return self.dir / "stack" / f"Pulumi.{STACK}.yaml"

    @property
    def salt(self) -> Path:
        return self.dir / "stack" / "encryptionsalt"

    @property
    def project(self) -> Path:
        """The directory every CLI call runs in: the project file pointing at the checkout, the stack file."""
        return self.dir / "stack"


def run_dir() -> Run:
    return Run(Path(os.environ.get("K3S_HOME_RUN_DIR") or ROOT / ".work"))


def source_file() -> Path:
    """The stack file being previewed: a variant (K3S_HOME_STACK_CONFIG) or the committed one."""
    given = os.environ.get("K3S_HOME_STACK_CONFIG")
    return Path(given).resolve() if given else ROOT / f"Pulumi.{STACK}.yaml"


def prepare(run: Run) -> None:
    """Backend and passphrase into the environment the engine, the pack and the gate inherit."""
    run.dir.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("PULUMI_BACKEND_URL"):
        (run.dir / "state").mkdir(exist_ok=True)
        os.environ["PULUMI_BACKEND_URL"] = f"file://{run.dir / 'state'}"
    if not os.environ.get("PULUMI_CONFIG_PASSPHRASE") and not os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        passphrase = run.dir / "passphrase"
        if not passphrase.is_file() or passphrase.stat().st_size == 0:
            fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
        os.environ["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase)
    os.environ["K3S_HOME_STACK_CONFIG"] = str(source_file())  # the pack judges exactly this file


def checkpoint_file() -> Path | None:
    """The stack's checkpoint in a local file backend (stacks/<project>/<stack>.json[.gz]), if it has one."""
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    if not url.startswith("file://"):
        return None
    stacks = Path(url.removeprefix("file://")) / ".pulumi" / "stacks" / PROJECT
    return next((p for p in (stacks / f"{STACK}.json", stacks / f"{STACK}.json.gz") if p.is_file()), None)


def _stack_exists(project: Path) -> bool:
    """A local file backend answers from its own files; any other backend is asked through the CLI
    (`pulumi stack ls`, a CLI start)."""
    if checkpoint_file():
        return True
    ws = auto.LocalWorkspace(work_dir=str(project))
    return any(s.name.split("/")[-1] == STACK for s in ws.list_stacks())


def write_project(run: Run) -> Path:
    """`<run>/stack/Pulumi.yaml`: the checkout's project file, with `main` and the virtualenv pointing back
    at the checkout (relative `main`: the CLI joins it to the project directory)."""
    doc = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    doc["main"] = os.path.relpath(ROOT, run.project.resolve())
    options = (doc.get("runtime") or {}).get("options") if isinstance(doc.get("runtime"), dict) else None
    if isinstance(options, dict) and options.get("virtualenv"):
        options["virtualenv"] = str(ROOT / options["virtualenv"])
    run.project.mkdir(parents=True, exist_ok=True)
    path = run.project / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _init_salt(run: Run) -> None:
    """`stack init` in a copy of the project, so the salt it writes never lands in the committed file."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "Pulumi.yaml", tmp)
        auto.LocalWorkspace(work_dir=tmp).create_stack(STACK)
        written = (Path(tmp) / f"Pulumi.{STACK}.yaml").read_text().splitlines()
    salt = [line for line in written if line.startswith(SALT_KEY)]
    run.salt.write_text("".join(f"{line}\n" for line in salt))


def stack_file(run: Run) -> Path:
    """Write and return the stack file copy: the source without any salt, then the backend's salt."""
    write_project(run)
    if not _stack_exists(run.project):
        _init_salt(run)
    lines = [line for line in source_file().read_text().splitlines() if not line.startswith(SALT_KEY)]
    salt = run.salt.read_text().splitlines() if run.salt.is_file() else []
    run.stack_file.write_text("\n".join([*lines, *salt]) + "\n")
    return run.stack_file
