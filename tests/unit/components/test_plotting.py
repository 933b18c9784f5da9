"""components.plotting: the same drawing gives the same bytes, with no date and no pyplot state."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

import pytest

from components.plotting import render

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Every test here draws (matplotlib or graphviz): the `slow` layer of `make test`.
pytestmark = pytest.mark.slow


def _draw(fig: Figure) -> None:
    ax = fig.add_subplot()
    ax.bar([0, 1], [2, 3], hatch="//")  # a hatch and a clip path: both carry generated ids
    ax.set_title("two bars")


def test_two_renders_are_byte_identical() -> None:
    assert render(_draw, (3, 2)) == render(_draw, (3, 2))


def test_svg_carries_no_date_and_keeps_text_as_text() -> None:
    svg = render(_draw, (3, 2))
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert b"<dc:date>" not in svg
    assert b">two bars</text>" in svg


def test_png_is_a_png() -> None:
    assert render(_draw, (3, 2), "png").startswith(b"\x89PNG\r\n\x1a\n")
