"""docs/authentik-setup.md: rendered from the model, committed, and current."""

from __future__ import annotations

from components.sso.cli import DOC_PATH
from components.sso.docs import render_setup_doc


def test_committed_doc_is_current(real_config):
    expected = render_setup_doc(real_config)
    assert DOC_PATH.read_text() == expected, (
        "docs/authentik-setup.md is stale: run python -m components.sso.cli"
    )


def test_doc_lists_every_client_redirect_and_secret_location(real_config):
    doc = render_setup_doc(real_config)
    for client in real_config.authentik.clients:
        for uri in client.redirect_uris:
            assert uri.url in doc
        assert f"`{client.namespace}/{client.app_secret_name}`" in doc
        assert client.env_name in doc
