import json

import pytest
import yaml
from jsonschema import Draft202012Validator

from components.config.schema import render, stack_file_schema
from tests.conftest import ROOT, STACK_FILE

COMMITTED = ROOT / "docs" / "schema" / "stack-config.schema.json"


def test_committed_schema_is_current():
    assert COMMITTED.read_text() == render(), "docs/schema is stale: run `make schema`"


def test_real_stack_file_validates_against_the_schema():
    Draft202012Validator(stack_file_schema()).validate(yaml.safe_load(STACK_FILE.read_text()))


def test_schema_rejects_an_unknown_key_in_a_section():
    doc = yaml.safe_load(STACK_FILE.read_text())
    doc["config"]["k3s-home:cluster"]["domian"] = "typo.example"
    with pytest.raises(Exception, match="domian"):
        Draft202012Validator(stack_file_schema()).validate(doc)


def test_schema_is_valid_json_schema():
    Draft202012Validator.check_schema(json.loads(render()))
