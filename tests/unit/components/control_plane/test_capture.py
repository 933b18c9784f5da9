"""Plan step 1's capture: the node's file without secrets, as a `liveConfig` block the model accepts."""

from __future__ import annotations

import subprocess
import sys

import yaml

from components.config import load
from components.control_plane.capture import stack_block, without_secrets
from tests.conftest import TEST_TODAY
from tests.unit.components.control_plane.helpers import ROOT, live_text

SECRET = "K10deadbeef::server:not-for-git"


def test_secrets_are_dropped_and_everything_else_kept():
    text = live_text("k3s2").replace("node-ip:", f"token: {SECRET}\nagent-token: {SECRET}\nnode-ip:")
    kept, dropped = without_secrets(text)
    assert dropped == ["token", "agent-token"]
    assert SECRET not in kept
    assert kept == live_text("k3s2")


def test_the_block_reads_back_as_the_same_text(real_raw):
    block = stack_block(live_text("k3s-master1"))
    assert yaml.safe_load("node:\n" + block)["node"]["liveConfig"] == live_text("k3s-master1")
    raw = real_raw
    raw["controlPlane"]["nodes"][0]["liveConfig"] = yaml.safe_load("n:\n" + block)["n"]["liveConfig"]
    got = load(raw, today=TEST_TODAY).control_plane.node("k3s-master1").live_config
    assert got == live_text("k3s-master1")


def test_the_command_prints_the_block_and_never_the_token():
    text = f"token: {SECRET}\n" + live_text("k3s3")
    run = subprocess.run(
        [sys.executable, "-m", "components.control_plane.capture", "k3s4"],
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert "dropped token" in run.stderr
    assert run.stdout == stack_block(live_text("k3s3"))


def test_the_command_refuses_a_file_that_is_not_a_config():
    run = subprocess.run(
        [sys.executable, "-m", "components.control_plane.capture", "k3s3"],
        input="- not\n- a mapping\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 1
    assert (
        run.stderr.strip() == "k3s3: config.yaml must be a block mapping of k3s flags (key: value per line)"
    )
