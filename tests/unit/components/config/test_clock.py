"""The day a run judges on: read once, pinned by K3S_HOME_TODAY, carried by the validated config."""

from __future__ import annotations

from datetime import date

import pytest

import rules.authentik as ra
from components.config import ConfigError, StackConfig, clock, load
from tests.conftest import TEST_TODAY


def test_the_pinned_day_wins_over_the_machine_clock() -> None:
    assert clock.today({clock.TODAY_ENV: "2031-02-03"}) == date(2031, 2, 3)


def test_without_a_pin_the_day_is_a_date() -> None:
    # The one read of the machine's clock; its value is whatever today is, so only its type is fixed.
    assert type(clock.today({})) is date


def test_a_bad_pin_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as err:
        clock.today({clock.TODAY_ENV: "tomorrow"})
    assert str(err.value) == "K3S_HOME_TODAY: 'tomorrow' is not a date (YYYY-MM-DD)"


def test_pin_reads_once_and_hands_the_day_to_child_processes() -> None:
    env = {clock.TODAY_ENV: "2030-05-06"}
    assert clock.pin(env) == date(2030, 5, 6)
    assert env == {clock.TODAY_ENV: "2030-05-06"}
    unpinned: dict[str, str] = {}
    day = clock.pin(unpinned)
    assert unpinned == {clock.TODAY_ENV: day.isoformat()}


def test_the_config_remembers_the_day_it_was_judged_on(real_raw) -> None:
    assert load(real_raw, today=date(2027, 3, 1)).judged_on == date(2027, 3, 1)


def test_a_copy_keeps_the_day(real_config) -> None:
    assert real_config.model_copy(update={}).judged_on == TEST_TODAY


def test_validating_without_a_day_is_a_bug_not_a_silent_clock_read(real_raw) -> None:
    with pytest.raises(TypeError, match="validated without a day"):
        StackConfig.model_validate(real_raw)


def test_the_mfa_rule_judges_on_the_configs_day(real_raw) -> None:
    """The same blueprint is a violation for a config judged before the window and fine after it."""
    since = date.fromisoformat(real_raw["authentik"]["stability"]["since"])
    entry = {"model": ra.MFA_STAGE_MODEL, "attrs": {"not_configured_action": "configure"}}
    text = "version: 1\nmetadata: {name: x}\nentries:\n- " + str(entry).replace("'", '"') + "\n"
    obj = {"kind": "ConfigMap", "metadata": {"name": "bp", "namespace": "authentik"}, "data": {"b": text}}
    before = load(real_raw, today=since)
    after = load(real_raw, today=date.fromordinal(since.toordinal() + 30))
    assert [f.rule for f in ra.check_mfa(obj, before)] == [ra.RULE_MFA]
    assert ra.check_mfa(obj, after) == []
