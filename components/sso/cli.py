"""`python -m components.sso.cli [--check]`: write (or check) docs/authentik-setup.md."""

from __future__ import annotations

import sys
from pathlib import Path

from components.config import clock, load_stack_file
from components.sso.docs import render_setup_doc

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "authentik-setup.md"
STACK_FILE = Path(__file__).resolve().parents[2] / "Pulumi.k3s-home.yaml"


def main(argv: list[str]) -> int:
    """`python -m components.sso.cli [--check]`: write (or check) docs/authentik-setup.md."""
    text = render_setup_doc(load_stack_file(STACK_FILE, today=clock.today()))
    if "--check" in argv:
        stale = not DOC_PATH.exists() or DOC_PATH.read_text() != text
        print(f"{DOC_PATH}: {'stale; run python -m components.sso.cli' if stale else 'up to date'}")
        return 1 if stale else 0
    DOC_PATH.write_text(text)
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
