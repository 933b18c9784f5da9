"""Every Helm values key the stack writes exists in its chart at the pinned version (helm_values_keys.yaml
records each key with the line of the chart's own values.yaml it was checked against)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from components.config import StackConfig
from components.gpu.monitoring import dcgm_helm_release
from components.sso.summary import helm_values as authentik_helm_values
from components.storage.objects import helm_release
from rules.authentik_release import release_for
from rules.data_loss import Phase

FIXTURE = yaml.safe_load(Path(__file__).with_name("helm_values_keys.yaml").read_text())["charts"]


def split(key: str) -> tuple[str, ...]:
    """`a.b\\.c.d` -> ("a", "b.c", "d"): dotted, with `\\.` for a literal dot (as `helm --set`)."""
    return tuple(part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", key))


def joined(path: tuple[str, ...]) -> str:
    return ".".join(p.replace(".", "\\.") for p in path)


def _fits(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return all(p in ("*", k) for p, k in zip(pattern, path, strict=False))


def unknown_keys(chart: str, values: dict, used: set[str] | None = None) -> list[str]:
    """Keys of `values` that the fixture does not list as read by `chart`; records the patterns met."""
    keys = {k: split(k) for k in FIXTURE[chart]["keys"]}
    # Known unread keys are reported like unknown ones (the caller tells them apart), so walk to them too.
    reachable = [*keys.values(), *(split(k) for k in FIXTURE[chart].get("unread", {}))]
    bad: list[str] = []

    def walk(node: dict, path: tuple[str, ...]) -> None:
        for key, value in node.items():
            here = (*path, str(key))
            hit = next((k for k, p in keys.items() if len(p) == len(here) and _fits(p, here)), None)
            if hit is not None:
                if used is not None:
                    used.add(hit)
            elif isinstance(value, dict) and any(len(p) > len(here) and _fits(p, here) for p in reachable):
                walk(value, here)
            else:
                bad.append(joined(here))

    walk(values, ())
    return bad


def wrong_types(chart: str, values: dict) -> list[str]:
    """Keys whose value is not of the `type` the fixture records (list or map)."""
    types = {"list": list, "map": dict}
    return [
        f"{key} is a {type(values[key]).__name__}, the chart wants a {entry['type']}"
        for key, entry in FIXTURE[chart]["keys"].items()
        if "type" in entry and key in values and not isinstance(values[key], types[entry["type"]])
    ]


def rendered(config: StackConfig) -> list[tuple[str, str, dict]]:
    """(chart, version, values) of every HelmRelease the stack writes or asks for, in every migration
    phase; the authentik values go into the Flux-owned release, at the chart version the facts pin."""
    dcgm = config.gpu.monitoring.dcgm_exporter
    out = [(dcgm.chart, dcgm.version, dcgm_helm_release(config.gpu)["spec"]["values"])]
    out.append(("authentik", config.authentik.pinned.version, authentik_helm_values(config.authentik)))
    for phase in Phase:
        migrations = [m.model_copy(update={"phase": phase}) for m in config.storage.migrations]
        storage = config.storage.model_copy(update={"migrations": migrations})
        for release in storage.releases:
            out.append((release.chart, release.version, helm_release(storage, release)["spec"]["values"]))
    return out


def test_every_key_the_stack_writes_is_a_key_of_its_chart(real_config) -> None:
    used: dict[str, set[str]] = {chart: set() for chart in FIXTURE}
    unread: dict[str, set[str]] = {chart: set() for chart in FIXTURE}
    problems = []
    for chart, version, values in rendered(real_config):
        if chart not in FIXTURE or FIXTURE[chart]["version"] != version:
            problems.append(
                f"{chart} {version}: not in helm_values_keys.yaml; check the keys against that chart "
                "version's values.yaml and record them"
            )
            continue
        source = FIXTURE[chart]["source"]
        problems += [f"{chart} {version}: {wrong}" for wrong in wrong_types(chart, values)]
        for key in unknown_keys(chart, values, used[chart]):
            if key in FIXTURE[chart].get("unread", {}):
                unread[chart].add(key)
                continue
            problems.append(
                f"{chart} {version}: spec.values.{key} is not a key of {source['repo']} "
                f"{source['path']} at {source['tag']}"
            )
    assert problems == []
    # The fixture is exactly the list of keys in use: no stale entry survives a removal.
    assert {chart: set(FIXTURE[chart]["keys"]) for chart in FIXTURE} == used
    assert {chart: set(FIXTURE[chart].get("unread", {})) for chart in FIXTURE} == unread


def test_a_misspelt_key_is_caught() -> None:
    assert unknown_keys(
        "dcgm-exporter", {"serviceMonitor": {"enable": False}, "service": {"port": 9400}}
    ) == ["serviceMonitor.enable"]
    assert unknown_keys("kube-prometheus-stack", {"grafana": {"persistance": {"enabled": True}}}) == [
        "grafana.persistance"
    ]


def test_opaque_values_dotted_keys_and_wildcards() -> None:
    spec = {"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": {"anything": 1}}}}}
    assert unknown_keys("kube-prometheus-stack", spec) == []
    assert unknown_keys("kube-prometheus-stack", {"grafana": {"grafana.ini": {"server": {"x": 1}}}}) == []
    assert unknown_keys("kube-prometheus-stack", {"grafana": {"grafana": {"ini": {}}}}) == ["grafana.grafana"]
    assert unknown_keys("app-template", {"controllers": {"bazarr": {"type": "deployment"}}}) == []
    assert unknown_keys("app-template", {"controllers": {"bazarr": {"typ": "deployment"}}}) == [
        "controllers.bazarr.typ"
    ]


def test_authentik_values_for_the_2024_2_chart_are_refused_at_2023_10_7(real_config) -> None:
    """`global.envFrom` and `blueprints.configMaps` (what the setup doc used to say) are keys of chart
    2024.2+; chart 2023.10.7 has neither a `global` block nor a map under `blueprints`."""
    newer = authentik_helm_values(real_config.authentik, release_for("2025.12.4"))
    assert unknown_keys("authentik", newer) == ["global"]
    assert wrong_types("authentik", newer) == ["blueprints is a dict, the chart wants a list"]
    pinned = authentik_helm_values(real_config.authentik)
    assert unknown_keys("authentik", pinned) == [] and wrong_types("authentik", pinned) == []


@pytest.mark.parametrize("chart", sorted(FIXTURE))
def test_every_chart_records_its_source(chart) -> None:
    entry = FIXTURE[chart]
    assert set(entry["source"]) == {"repo", "path", "tag", "commit"}
    assert len(entry["source"]["commit"]) == 40
    assert all(isinstance(k.get("line"), int) for k in entry["keys"].values())
