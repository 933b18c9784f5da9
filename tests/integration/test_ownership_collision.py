"""A Flux-owned object the stack would create is caught by `make preview`, not halfway through `up`.

The live cluster has PriorityClass normal-gpu at 700 (Flux); the stack creates it at 100 (design.md §7).
pulumi-kubernetes creates with a plain create, so the engine's preview shows a clean `+ create` and only
the review gate, asking the cluster, can tell the reviewer.
"""

from __future__ import annotations

from pathlib import Path

from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.scheduling_v1 import PriorityClass

from review.gate import COLLISION_HEADING


def _out(result) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def _section(text: str, heading: str) -> list[str]:
    after = text.split(heading, 1)[1]
    return after.split("\n\n", 1)[0].splitlines()[1:]


def test_preview_blocks_a_create_of_an_object_flux_already_owns(stack, kube, tmp_path: Path):
    flux_owned = PriorityClass(
        metadata=ObjectMeta(
            name="normal-gpu",
            labels={"kustomize.toolkit.fluxcd.io/name": "priority-classes"},
        ),
        value=700,
        globalDefault=False,
        description="Flux-owned, as in the live cluster",
    )
    kube.create(flux_owned)
    try:
        # A stack state of its own: every object of the program is a create, whatever ran before.
        (tmp_path / "state").mkdir()
        env = {"K3S_HOME_RUN_DIR": str(tmp_path), "PULUMI_BACKEND_URL": f"file://{tmp_path}/state"}
        preview = stack("preview", env=env)

        assert preview.returncode != 0, _out(preview)
        assert COLLISION_HEADING in preview.stdout, _out(preview)
        section = _section(preview.stdout, COLLISION_HEADING)
        assert "!! PriorityClass normal-gpu" in section, _out(preview)
        assert "!! PriorityClass critical-gpu" not in section  # absent in the cluster: a clean create
        verdict = preview.stdout.strip().splitlines()[-1]
        assert verdict.startswith("Verdict: BLOCKED") and "already exist in the cluster" in verdict, verdict
        assert "reviewed plan saved" not in preview.stderr
    finally:
        try:
            kube.delete(PriorityClass, "normal-gpu")
        except ApiError as err:
            if err.status.code != 404:
                raise
