"""`python -m components.control_plane.cli > docs/high-availability-plan.md`: regenerate the plan."""

from __future__ import annotations

from pathlib import Path

from components.config import clock, load_stack_file
from components.control_plane.plan_doc import render_plan_doc


def main() -> None:
    root = Path(__file__).resolve().parents[2]
    print(
        render_plan_doc(load_stack_file(root / "Pulumi.k3s-home.yaml", today=clock.today()).control_plane),
        end="",
    )


if __name__ == "__main__":
    main()
