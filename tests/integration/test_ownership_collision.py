"""A Flux-owned object the stack would create is caught by `make preview`, not halfway through `up`.

The embedded cluster holds what Flux keeps live (toolchain/live-baseline), among others PriorityClass
normal-gpu at 700, the GPU quotas and the monitoring HelmReleases. With server-side apply a create of an
existing object is an upsert that takes it over silently, so without a `cluster.adopt` entry only the
review gate, asking the cluster, can tell the reviewer (ADR 0003).
"""

from __future__ import annotations

from pathlib import Path

from review.gate import COLLISION_HEADING


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def _section(text: str, heading: str) -> list[str]:
    after = text.split(heading, 1)[1]
    return after.split("\n\n", 1)[0].splitlines()[1:]


def test_preview_blocks_creates_of_objects_flux_already_owns(stack, handed_over_stack_file, tmp_path: Path):
    # A stack state of its own and no adoption: every Flux-owned object the program declares is a create.
    (tmp_path / "state").mkdir()
    env = {
        "K3S_HOME_RUN_DIR": str(tmp_path),
        "PULUMI_BACKEND_URL": f"file://{tmp_path}/state",
        "K3S_HOME_STACK_CONFIG": str(handed_over_stack_file),
    }
    preview = stack("preview", env=env)

    assert preview.returncode != 0, _out(preview)
    assert COLLISION_HEADING in preview.stdout, _out(preview)
    section = "\n".join(_section(preview.stdout, COLLISION_HEADING))
    # normal-gpu's dry-run upsert (700 -> 100, immutable) stops the engine's preview, so objects registered
    # after it are not reached (which ones varies with the engine's parallelism); the gate names the rest.
    assert "!! PriorityClass normal-gpu" in section, section
    assert "may not be changed in an update" in preview.stdout
    verdict = preview.stdout.strip().splitlines()[-1]
    assert verdict.startswith("Verdict: BLOCKED") and "already exist in the cluster" in verdict, verdict
    assert "reviewed plan saved" not in preview.stderr
