"""Seed the embedded control plane with the live objects the stack config says exist and the stack
adopts unchanged (the migration's source PVs and claims), so the embedded target meets the same world
as the real cluster. Usage: seed_live.py KUBECONFIG STACK_FILE

They carry `kubectl.kubernetes.io/last-applied-configuration`, as objects applied with kubectl do: the
kubernetes plugin built here (provider v2 source, ADR 0001) reads an imported object's inputs from it.
Without it the plugin sees no spec and proposes a replace, which the review gate blocks for PVs/PVCs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lightkube import Client, KubeConfig
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from components.config import load_stack_file
from components.storage.source import source_claim, source_pv
from rules.data_loss import Phase

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def live_objects(stack_file: str) -> list[dict]:
    storage = load_stack_file(stack_file).storage
    out: list[dict] = []
    for m in storage.migrations:
        for c in m.pvcs:
            out += [source_pv(m, c, Phase.PLAN), source_claim(c)]
    for obj in out:
        applied = json.dumps(obj, sort_keys=True)  # before the annotation itself is added
        obj["metadata"].setdefault("annotations", {})[LAST_APPLIED] = applied
    return out


def main(kubeconfig: str, stack_file: str) -> int:
    client = Client(KubeConfig.from_file(kubeconfig), timeout=10)
    for obj in live_objects(stack_file):
        try:
            client.create(from_dict(obj))
        except ApiError as err:
            if err.status.code != 409:  # already seeded
                raise
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
