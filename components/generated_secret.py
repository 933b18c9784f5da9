"""Generated credentials that live only in Pulumi state, as secret outputs.

The stack config chooses the generator (`k3s-home:secrets.generator`, ADR 0016):
- `random`: `pulumi_random.RandomPassword`; it needs the `random` resource plugin, and the driver refuses
  with one line when it is missing;
- `python`: a Pulumi dynamic resource over Python's `secrets` module with the same contract: generated once
  on create, kept in state, replaced only when its length changes, every value a secret.
Nothing switches on what is installed: a switch would regenerate every secret.
"""

from __future__ import annotations

import secrets as _secrets
import string
from typing import Literal

import pulumi
import pulumi_random as random
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

ALPHABET = string.ascii_letters + string.digits
# The type the python generator registered under before it had its own: state written then is adopted.
LEGACY_PYTHON_TYPE = "pulumi-python:dynamic:Resource"

Generator = Literal["python", "random"]


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


class _PythonSecret(Resource, module="k3s-home", name="GeneratedSecret"):
    """`pulumi-python:dynamic/k3s-home:GeneratedSecret`: a type of its own, so the gate knows it is data."""

    result: pulumi.Output[str]

    def __init__(self, name: str, length: int, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(
            opts,
            pulumi.ResourceOptions(
                additional_secret_outputs=["result"], aliases=[pulumi.Alias(type_=LEGACY_PYTHON_TYPE)]
            ),
        )
        super().__init__(_SecretProvider(), name, {"length": length, "result": None}, opts)


def generated_secret(
    name: str, length: int, generator: Generator, opts: pulumi.ResourceOptions | None = None
) -> pulumi.Output[str]:
    """A random alphanumeric secret of `length` characters, as a secret Output."""
    if generator == "python":
        value = _PythonSecret(name, length, opts).result
    elif generator == "random":
        value = random.RandomPassword(name, length=length, special=False, opts=opts).result
    else:  # the config model admits only the two; anything else is a programming error
        raise ValueError(f"unknown secret generator {generator!r}")
    return pulumi.Output.secret(value)
