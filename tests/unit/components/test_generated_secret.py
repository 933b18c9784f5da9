import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

from components.generated_secret import LEGACY_PYTHON_TYPE, _generate, _SecretProvider, generated_secret
from rules.data_loss import PYTHON_SECRET_TYPE, RANDOM_SECRET_TYPE


def is_secret(out: pulumi.Output) -> bool:
    """Secretness of an Output once the mocked program has settled."""
    return _sync_await(out.is_secret())


def test_random_generator_registers_a_random_password_and_returns_a_secret(record):
    seen = {}

    def build():
        out = generated_secret("token", 32, "random")
        seen["out"] = out
        out.apply(lambda v: seen.setdefault("value", v))

    mocks = record(build)
    seen["secret"] = is_secret(seen.pop("out"))
    pw = mocks.one(RANDOM_SECRET_TYPE, "token")
    assert pw.inputs["length"] == 32 and pw.inputs["special"] is False
    assert seen == {"secret": True, "value": "mock-token"}
    assert not mocks.of_type(PYTHON_SECRET_TYPE)


def test_python_generator_registers_its_own_type_with_a_secret_result(record):
    seen = {}

    def build():
        seen["out"] = generated_secret("token", 24, "python")

    mocks = record(build)
    seen["secret"] = is_secret(seen.pop("out"))
    dyn = mocks.one(PYTHON_SECRET_TYPE, "token")
    assert dyn.inputs["length"] == 24
    assert seen["secret"] is True
    assert not mocks.of_type(RANDOM_SECRET_TYPE)


def test_python_generator_adopts_state_written_under_the_old_generic_type(record, monkeypatch):
    """Before it had a type of its own it registered as pulumi-python:dynamic:Resource: the alias keeps
    those secrets (same provider, same inputs: the engine sees no change, nothing is regenerated)."""
    options: list[pulumi.ResourceOptions] = []
    real = pulumi.CustomResource.__init__

    def spy(self, t, name, props=None, opts=None, *args, **kwargs):
        options.append(opts)
        real(self, t, name, props, opts, *args, **kwargs)

    monkeypatch.setattr(pulumi.CustomResource, "__init__", spy)
    record(lambda: generated_secret("token", 24, "python"))
    [opts] = options
    assert [a.type_ for a in opts.aliases] == [LEGACY_PYTHON_TYPE]
    assert opts.additional_secret_outputs == ["result"]


def test_the_generator_never_depends_on_the_environment(record, monkeypatch):
    """The old switch was an environment variable set by what the toolchain found installed."""
    monkeypatch.setenv("K3S_HOME_SECRET_GENERATOR", "random")
    mocks = record(lambda: generated_secret("token", 24, "python"))
    assert mocks.of_type(PYTHON_SECRET_TYPE) and not mocks.of_type(RANDOM_SECRET_TYPE)


def test_an_unknown_generator_is_refused():
    with pytest.raises(ValueError, match="unknown secret generator 'urandom'"):
        generated_secret("token", 24, "urandom")  # type: ignore[arg-type]


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
