"""A dry run of a GitHub Actions workflow's job on this machine: the same `run:` commands, in order.

Usage: python scripts/ci_dry_run.py [--run] [WORKFLOW]   (default: .github/workflows/preview.yml)

Without --run it prints each step and what it would do; with --run it runs them with bash (errexit,
pipefail, as the runner does), each under its step's `timeout-minutes`, stopping at the first failure.
Left out, with the reason printed:
- `uses:` steps (checkout, setup-python, setup-go, the cache): this checkout and its tools stand in;
- steps that need the GitHub context (`${{ ... }}` in their own env or command, e.g. posting the PR
  comment) or a repository secret (the Kubeconfig step would overwrite ~/.kube/config with nothing).
Job env values that are expressions (the secrets) are not set; the rest are. K3S_HOME_TARGET=embedded, so
the preview never reaches a kubeconfig of yours. As root without `sudo` installed, `sudo CMD` runs CMD.
Exit code: the first failing step's, else 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / ".github" / "workflows" / "preview.yml"
EXPRESSION = re.compile(r"\$\{\{")
# Root without sudo (a container): `sudo CMD` runs CMD, as the runner's passwordless sudo would.
SUDO_SHIM = 'if [ "$(id -u)" = 0 ] && ! command -v sudo >/dev/null; then sudo() { "$@"; }; fi\n'


@dataclass(frozen=True)
class Step:
    name: str
    run: str | None  # None: left out
    why: str = ""  # why it is left out
    timeout_minutes: float | None = None


def job_steps(workflow: dict, job: str | None = None) -> tuple[dict[str, str], list[Step]]:
    """(the env the steps get, every step of the job) from a parsed workflow."""
    jobs = workflow["jobs"]
    name = job or next(iter(jobs))
    spec = jobs[name]
    job_env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    secret_vars = {k for k, v in job_env.items() if EXPRESSION.search(v)}
    env = {k: v for k, v in job_env.items() if k not in secret_vars}
    steps = []
    for i, raw in enumerate(spec["steps"]):
        label = raw.get("name") or raw.get("uses") or f"step {i + 1}"
        run = raw.get("run")
        own = " ".join([str(run or ""), *(str(v) for v in (raw.get("env") or {}).values())])
        uses_secret = sorted(v for v in secret_vars if re.search(rf"\$\{{?{v}\b", str(run or "")))
        if run is None:
            steps.append(Step(label, None, f"uses {raw.get('uses')}: this machine stands in"))
        elif EXPRESSION.search(own):
            steps.append(Step(label, None, "needs the GitHub context (${{ ... }})"))
        elif uses_secret:
            steps.append(Step(label, None, f"needs the repository secret behind {', '.join(uses_secret)}"))
        else:
            steps.append(Step(label, str(run), timeout_minutes=raw.get("timeout-minutes")))
    return env, steps


def main(argv: list[str]) -> int:
    run = "--run" in argv
    paths = [a for a in argv if a != "--run"]
    path = Path(paths[0]) if paths else DEFAULT
    env_add, steps = job_steps(yaml.safe_load(path.read_text()))
    env = {**os.environ, **env_add, "K3S_HOME_TARGET": "embedded"}
    for step in steps:
        if step.run is None:
            print(f"-- skip  {step.name}: {step.why}", flush=True)
            continue
        limit = f" (timeout {step.timeout_minutes} min)" if step.timeout_minutes else ""
        print(f"-- {'run ' if run else 'would run'}  {step.name}{limit}: {step.run.strip()}", flush=True)
        if not run:
            continue
        seconds = float(step.timeout_minutes) * 60 if step.timeout_minutes else None
        try:
            done = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", SUDO_SHIM + step.run],
                cwd=ROOT,
                env=env,
                timeout=seconds,
            )
        except subprocess.TimeoutExpired:
            print(f"ci_dry_run: step '{step.name}' ran past its {step.timeout_minutes} min", file=sys.stderr)
            return 1
        if done.returncode != 0:
            print(f"ci_dry_run: step '{step.name}' failed (exit {done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
