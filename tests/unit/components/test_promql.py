"""Config values inside PromQL: RE2 regexes first, then PromQL string literals."""

from __future__ import annotations

import re

from components import promql


def test_a_string_literal_escapes_backslashes_and_quotes() -> None:
    assert promql.string(r"requests\.nvidia") == r'"requests\\.nvidia"'
    assert promql.string('say "hi"') == r'"say \"hi\""'


def test_literal_regexes_match_only_the_text() -> None:
    pattern = promql.any_of(["requests.nvidia.com/gpu", "requests.gpu.intel.com/i915"])
    assert pattern == r"requests\.nvidia\.com/gpu|requests\.gpu\.intel\.com/i915"
    # Prometheus anchors label regexes; Python's re agrees with RE2 on these escapes.
    assert re.fullmatch(pattern, "requests.nvidia.com/gpu")
    assert not re.fullmatch(pattern, "requestsXnvidia.com/gpu")
    assert promql.literal("a+b(c)|[d]") == r"a\+b\(c\)\|\[d\]"
