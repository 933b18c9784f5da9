"""JSON schema of `Pulumi.<stack>.yaml`, generated from the config model, so editors check the file as
you type it (the stack file's first line points at docs/schema/stack-config.schema.json).

Regenerate with `make schema`; tests/unit/components/config/test_schema.py fails when it is stale.
"""

from __future__ import annotations

import json

from . import NAMESPACE, StackConfig


def stack_file_schema() -> dict:
    model = StackConfig.model_json_schema(by_alias=True, mode="validation")
    defs = model.pop("$defs", {})
    sections = {f"{NAMESPACE}:{alias}": prop for alias, prop in model["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Pulumi.k3s-home.yaml",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": sections,
                "required": [f"{NAMESPACE}:{name}" for name in model.get("required", [])],
                "additionalProperties": True,  # other namespaces (kubernetes:, pulumi:) are Pulumi's
            },
            "encryptionsalt": {"type": "string"},
            "secretsprovider": {"type": "string"},
            "encryptedkey": {"type": "string"},
        },
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
