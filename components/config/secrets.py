"""The `secrets` section: which generator makes the stack's generated credentials.

The stack config chooses, never what happens to be installed: the two generators are different resource
types, so a silent switch would replace (regenerate) the cluster token and every client secret. A switch is
a migration (ADR 0016), and the review gate blocks any replace it would cause.
"""

from __future__ import annotations

from typing import Literal

from .base import Model


class SecretsConfig(Model):
    # python: a Pulumi dynamic resource over Python's `secrets` module, needs no plugin.
    # random: pulumi_random.RandomPassword, needs the `random` resource plugin installed.
    generator: Literal["python", "random"]
