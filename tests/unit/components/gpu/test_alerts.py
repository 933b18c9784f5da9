"""The GPU alerts and dashboard queries, checked by Prometheus' own promtool."""

from __future__ import annotations

from pathlib import Path

from components.gpu.alerts import prometheus_rule
from components.gpu.dashboard import dashboard
from tests.unit import promtool

TESTS = Path(__file__).with_name("alerts.test.yaml")


def test_promtool_accepts_the_rule(real_config, tmp_path) -> None:
    # prometheus-operator's admission webhook parses every expression the same way.
    out = promtool.check_rules(prometheus_rule(real_config.gpu)["spec"]["groups"], tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 5 rules found" in out.stdout


def test_every_alert_fires_when_it_should_and_only_then(real_config, tmp_path) -> None:
    groups = prometheus_rule(real_config.gpu)["spec"]["groups"]
    out = promtool.test_rules(groups, TESTS, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_the_unit_tests_cover_every_alert(real_config) -> None:
    rules = prometheus_rule(real_config.gpu)["spec"]["groups"][0]["rules"]
    assert promtool.alerts_tested(TESTS) == {r["alert"] for r in rules}


def test_every_dashboard_query_parses(real_config, tmp_path) -> None:
    exprs = {
        f"panel{panel['id']}_{target['refId']}": target["expr"]
        for panel in dashboard(real_config.gpu)["panels"]
        for target in panel["targets"]
    }
    assert len(exprs) == 5
    out = promtool.check_rules(promtool.expressions_as_rules(exprs), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
