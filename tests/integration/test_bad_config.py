"""Invalid stack config through the real engine: one line naming the key, no traceback, nothing registered."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import STACK_FILE


def _variant(tmp_path, mutate) -> str:
    doc = yaml.safe_load(STACK_FILE.read_text())
    mutate(doc["config"])
    path = tmp_path / "Pulumi.k3s-home.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _zero_devices(cfg):
    cfg["k3s-home:gpu"]["pools"][0]["devicesPerNode"] = 0


def _duplicate_slug(cfg):
    clients = cfg["k3s-home:authentik"]["clients"]
    clients[1]["slug"] = clients[0]["slug"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_zero_devices, "invalid stack config: k3s-home:gpu.pools[0].devicesPerNode: "),
        (_duplicate_slug, "invalid stack config: k3s-home:authentik.clients"),
    ],
)
def test_bad_config_fails_with_one_line_and_registers_nothing(
    stack, stack_run_dir, tmp_path, mutate, expected
):
    result = stack("preview", env={"K3S_HOME_STACK_CONFIG": _variant(tmp_path, mutate)})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    # The engine echoes the message in its progress lines and its diagnostics: one distinct message.
    messages = {line[line.index(expected) :] for line in output.splitlines() if expected in line}
    assert len(messages) == 1, output[-3000:]
    assert "Traceback" not in output
    registered = [
        json.loads(line)["resourcePreEvent"]["metadata"]["type"]
        for line in (stack_run_dir / "preview-events.jsonl").read_text().splitlines()
        if "resourcePreEvent" in line
    ]
    assert registered == ["pulumi:pulumi:Stack"]
