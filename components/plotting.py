"""Byte-identical matplotlib SVGs, so a test can compare a committed picture with a fresh render.

No pyplot: a bare `Figure` keeps no global state between renders. Text is laid out with
matplotlib's own DejaVu Sans metrics and written as SVG text; the id salt is fixed and the date left out.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # matplotlib is imported when drawing: most of a second that importers need not pay
    from matplotlib.figure import Figure

RC = {
    "svg.hashsalt": "k3s-home",
    "svg.fonttype": "none",  # text stays text: searchable, diffable, small
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def render(
    draw: Callable[[Figure], None], size: tuple[float, float], fmt: Literal["svg", "png"] = "svg"
) -> bytes:
    """Run `draw` on a fresh figure of `size` inches; SVG for docs/, PNG only to look at it."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        out = io.BytesIO()
        if fmt == "svg":
            fig.savefig(out, format="svg", metadata={"Date": None})
        else:
            fig.savefig(out, format="png", dpi=110)
    return out.getvalue()
