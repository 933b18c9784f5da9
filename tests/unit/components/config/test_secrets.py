"""The `secrets` section: the generator is chosen in the stack config, explicitly."""

from __future__ import annotations

import pytest

from components.config import ConfigError, load
from tests.conftest import TEST_TODAY


def test_the_committed_config_chooses_the_python_generator(real_config) -> None:
    assert real_config.secrets.generator == "python"


def test_the_generator_must_be_chosen(real_raw: dict) -> None:
    raw = {k: v for k, v in real_raw.items() if k != "secrets"}
    with pytest.raises(ConfigError, match=r"^k3s-home:secrets: Field required$"):
        load(raw, today=TEST_TODAY)


def test_an_unknown_generator_names_the_key(real_raw: dict) -> None:
    with pytest.raises(
        ConfigError, match=r"^k3s-home:secrets\.generator: Input should be 'python' or 'random'"
    ):
        load({**real_raw, "secrets": {"generator": "urandom"}}, today=TEST_TODAY)
