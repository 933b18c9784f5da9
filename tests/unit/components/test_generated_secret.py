import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.generated_secret import _generate, _SecretProvider, generated_secret


def is_secret(out: pulumi.Output) -> bool:
    """Secretness of an Output once the mocked program has settled."""
    return _sync_await(out.is_secret())


def test_random_backend_registers_a_random_password_and_returns_a_secret(record):
    seen = {}

    def build():
        out = generated_secret("token", length=32)
        seen["out"] = out
        out.apply(lambda v: seen.setdefault("value", v))

    mocks = record(build)
    seen["secret"] = is_secret(seen.pop("out"))
    pw = mocks.one("random:index/randomPassword:RandomPassword", "token")
    assert pw.inputs["length"] == 32 and pw.inputs["special"] is False
    assert seen == {"secret": True, "value": "mock-token"}


def test_python_backend_registers_a_dynamic_resource_with_a_secret_result(record, monkeypatch):
    monkeypatch.setenv("K3S_HOME_SECRET_GENERATOR", "python")
    seen = {}

    def build():
        seen["out"] = generated_secret("token", length=24)

    mocks = record(build)
    seen["secret"] = is_secret(seen.pop("out"))
    dyn = mocks.one("pulumi-python:dynamic:Resource", "token")
    assert dyn.inputs["length"] == 24
    assert seen["secret"] is True
    assert not mocks.of_type("random:index/randomPassword:RandomPassword")


@pytest.mark.parametrize("length", [1, 16, 64])
def test_dynamic_provider_generates_alphanumeric_values_of_the_length(length):
    created = _SecretProvider().create({"length": float(length)})  # the engine hands numbers over as floats
    assert created.outs["length"] == length
    assert len(created.outs["result"]) == length and created.outs["result"].isalnum()


def test_dynamic_provider_replaces_only_when_the_length_changes():
    provider = _SecretProvider()
    assert provider.diff("id", {"length": 32}, {"length": 32.0}).changes is False
    changed = provider.diff("id", {"length": 32}, {"length": 48})
    assert changed.changes is True and changed.replaces == ["length"]


def test_generated_values_differ():
    assert len({_generate(32) for _ in range(50)}) == 50
