"""Config values inside PromQL: string literals and regexes that Prometheus' parser accepts.

PromQL double-quoted strings take Go escapes only; `\\.` is "unknown escape sequence" and the
prometheus-operator's admission webhook refuses the whole PrometheusRule. So a regex is built first
(RE2 syntax), then quoted as a PromQL string, never pasted into one.
"""

from __future__ import annotations

import re

# RE2 metacharacters (Go regexp/syntax); everything else is literal.
_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def string(value: str) -> str:
    """A PromQL double-quoted string literal holding exactly `value`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def literal(text: str) -> str:
    """An RE2 regex matching exactly `text`."""
    return _RE2_SPECIAL.sub(r"\\\1", text)


def any_of(texts: list[str]) -> str:
    """An RE2 regex matching any of `texts` exactly (Prometheus anchors label regexes)."""
    return "|".join(literal(t) for t in texts)
