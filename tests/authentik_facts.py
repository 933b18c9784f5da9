"""A copy of the committed cluster facts with another authentik pin or other hosts, for tests that
simulate a cluster that differs from the real one (`K3S_HOME_FACTS`, facts/__init__.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

import facts


def facts_file(tmp_path: Path, *, authentik: str | None = None, drop_hosts: tuple[str, ...] = ()) -> Path:
    """The committed facts with chart `authentik` pinned instead (same source), without `drop_hosts`."""
    doc = yaml.safe_load(facts.COMMITTED.read_text())
    if authentik is not None:
        (release,) = [
            r for r in doc["helmReleases"] if (r["namespace"], r["name"]) == ("authentik", "authentik")
        ]
        release["version"] = authentik
    doc["hosts"] = [h for h in doc["hosts"] if h["host"] not in drop_hosts]
    out = tmp_path / "facts.yaml"
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out
