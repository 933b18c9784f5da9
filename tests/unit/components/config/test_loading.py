"""Loading the stack config from a file or from the engine: every bad input is one ConfigError line."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from pulumi.runtime import config as runtime_config

from components.config import ConfigError, from_pulumi, load, load_stack_file
from tests.conftest import STACK_FILE, TEST_TODAY


def one_line(err: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("config:\n  k3s-home:gpu: [unclosed\n", r"line 3: .* \(the stack file is not valid YAML\)$"),
        ("config:\n  k3s-home:gpu: {a: 1\n  b: 2\n", r"line \d+: .*not valid YAML"),
        ("- a list\n- not a stack file\n", r"a stack file is a mapping with a `config:` mapping of keys$"),
        ("config: [1, 2]\n", r"a stack file is a mapping with a `config:` mapping of keys$"),
        ("config:\n  gpuu: {}\n", r"^k3s-home:gpuu: unknown key"),
    ],
)
def test_a_broken_stack_file_is_one_line(tmp_path, content: str, expected: str) -> None:
    """yaml.ParserError and AttributeError used to escape with a traceback."""
    path = tmp_path / "Pulumi.k3s-home.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_stack_file(path, today=TEST_TODAY)
    assert re.search(expected, one_line(err)), str(err.value)


def test_other_namespaces_in_the_stack_file_are_not_ours(tmp_path) -> None:
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["kubernetes:context"] = "home"
    path = tmp_path / "Pulumi.k3s-home.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert load_stack_file(path, today=TEST_TODAY).cluster.name == "k3s-home"


@pytest.fixture
def engine_config(real_raw: dict):
    """The stack config as the engine hands it to the program: JSON strings under `k3s-home:<key>`."""
    saved = dict(runtime_config.CONFIG.get())

    def use(raw: dict) -> None:
        runtime_config.set_all_config({f"k3s-home:{k}": json.dumps(v) for k, v in raw.items()})

    yield use
    runtime_config.set_all_config(saved)


def test_from_pulumi_reads_every_section(engine_config, real_raw: dict) -> None:
    engine_config(real_raw)
    assert from_pulumi(today=TEST_TODAY) == load(real_raw, today=TEST_TODAY)


def test_from_pulumi_refuses_a_stray_key(engine_config, real_raw: dict) -> None:
    """`pulumi config set k3s-home:gpuu x` used to be ignored silently."""
    engine_config({**real_raw, "gpuu": "x"})
    with pytest.raises(ConfigError) as err:
        from_pulumi(today=TEST_TODAY)
    assert one_line(err).startswith("k3s-home:gpuu: unknown key; expected one of cluster, secrets, gpu")


def test_duplicate_releases_name_the_second_entry(real_raw: dict) -> None:
    raw = copy.deepcopy(real_raw)
    raw["storage"]["releases"].append(copy.deepcopy(raw["storage"]["releases"][1]))
    n = len(raw["storage"]["releases"]) - 1
    with pytest.raises(ConfigError) as err:
        load(raw, today=TEST_TODAY)
    assert one_line(err).startswith(
        f"k3s-home:storage.releases[{n}]: HelmRelease monitoring/loki is listed twice "
        f"(releases[1] and [{n}]); merge them"
    )
