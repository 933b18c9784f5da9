"""Generated credentials that live only in Pulumi state, as secret outputs.

`pulumi_random.RandomPassword` is the generator. Where the toolchain could not build the `random`
resource plugin (docs/toolchain.md), `K3S_HOME_SECRET_GENERATOR=python` selects a Pulumi dynamic
resource over Python's `secrets` module with the same contract: generated once on create, kept
in state, replaced only when its length changes, and every value a secret (ADR 0004).
"""

from __future__ import annotations

import os
import secrets as _secrets
import string

import pulumi
import pulumi_random as random
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

ALPHABET = string.ascii_letters + string.digits


def _generate(length: int) -> str:
    return "".join(_secrets.choice(ALPHABET) for _ in range(length))


class _SecretProvider(ResourceProvider):
    def create(self, props):
        length = int(props["length"])
        return CreateResult(id_=_secrets.token_hex(8), outs={"length": length, "result": _generate(length)})

    def diff(self, _id, olds, news):
        changed = int(olds.get("length", 0)) != int(news["length"])
        return DiffResult(
            changes=changed, replaces=["length"] if changed else [], delete_before_replace=False
        )


class _PythonSecret(Resource):
    result: pulumi.Output[str]

    def __init__(self, name: str, length: int, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["result"])
        )
        super().__init__(_SecretProvider(), name, {"length": length, "result": None}, opts)


def backend() -> str:
    return os.environ.get("K3S_HOME_SECRET_GENERATOR", "random")


def generated_secret(
    name: str, length: int = 48, opts: pulumi.ResourceOptions | None = None
) -> pulumi.Output[str]:
    """A random alphanumeric secret of `length` characters, as a secret Output."""
    if backend() == "python":
        value = _PythonSecret(name, length, opts).result
    else:
        value = random.RandomPassword(name, length=length, special=False, opts=opts).result
    return pulumi.Output.secret(value)
