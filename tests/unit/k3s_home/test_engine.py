"""The generator the stack chooses must be installed: a missing plugin is one line, never a switch."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import pytest

from components.config import load
from k3s_home.engine import check_generator
from k3s_home.log import Refusal
from tests.conftest import TEST_TODAY


@dataclass
class Plugin:
    name: str
    kind: str
    version: str


class Workspace:
    def __init__(self, plugins: list[Plugin]):
        self.plugins = plugins

    def list_plugins(self) -> list[Plugin]:
        return self.plugins


def config(real_raw: dict, generator: str):
    return load({**real_raw, "secrets": {"generator": generator}}, today=TEST_TODAY)


def test_random_without_its_plugin_is_one_line_naming_the_key(real_raw):
    with pytest.raises(Refusal) as err:
        check_generator(Workspace([Plugin("kubernetes", "resource", "4.25.0")]), config(real_raw, "random"))
    version = metadata.version("pulumi_random")
    assert str(err.value).startswith(
        f"k3s-home:secrets.generator: random needs the random resource plugin {version}"
    )
    assert err.value.code == 2 and "\n" not in str(err.value)


def test_random_with_its_plugin_passes(real_raw):
    plugin = Plugin("random", "resource", metadata.version("pulumi_random"))
    check_generator(Workspace([plugin]), config(real_raw, "random"))


def test_python_needs_no_plugin(real_raw):
    check_generator(Workspace([]), config(real_raw, "python"))
