"""Invalid stack config through `make preview`'s driver: one line naming the key, no traceback, nothing
registered. The driver validates the variant before the engine runs; the program validates again."""

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


def _stray_key(cfg):
    cfg["k3s-home:gpuu"] = {"pools": []}


def _duplicate_release(cfg):
    releases = cfg["k3s-home:storage"]["releases"]
    releases.append(dict(releases[1]))


def _even_servers(cfg):
    cfg["k3s-home:controlPlane"]["target"]["servers"] = ["k3s-master1", "k3s1", "k3s2", "k3s3"]


def _sqlite_against_the_facts(cfg):
    cfg["k3s-home:controlPlane"]["currentDatastore"] = "sqlite"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_zero_devices, "invalid stack config: k3s-home:gpu.pools[0].devicesPerNode: "),
        (_duplicate_slug, "invalid stack config: k3s-home:authentik.clients[1].slug: duplicate slug"),
        (_stray_key, "invalid stack config: k3s-home:gpuu: unknown key"),
        (_duplicate_release, "invalid stack config: k3s-home:storage.releases[3]: HelmRelease"),
        (_even_servers, "invalid stack config: k3s-home:controlPlane.target.servers: 4 servers"),
        (
            _sqlite_against_the_facts,
            "invalid stack config: k3s-home:controlPlane.currentDatastore: sqlite contradicts the facts: "
            "the cluster runs embedded etcd (REBUILD-LOG-2025-06-16.md:57)",
        ),
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
    events = stack_run_dir / "preview-events.jsonl"
    registered = [
        json.loads(line)["resourcePreEvent"]["metadata"]["type"]
        for line in (events.read_text().splitlines() if events.exists() else [])
        if "resourcePreEvent" in line
    ]
    assert registered in ([], ["pulumi:pulumi:Stack"])


def test_a_stack_file_that_is_not_yaml_is_one_line(stack, tmp_path):
    broken = tmp_path / "Pulumi.k3s-home.yaml"
    broken.write_text("config:\n  k3s-home:gpu: [unclosed\n")
    result = stack("preview", env={"K3S_HOME_STACK_CONFIG": str(broken)})
    assert result.returncode == 2
    assert "not valid YAML" in result.stderr and "Traceback" not in result.stdout + result.stderr
