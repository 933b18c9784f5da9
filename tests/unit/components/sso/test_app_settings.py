"""What each app reads: Open WebUI role keys, the Grafana role path."""

from __future__ import annotations

from components.sso.app_settings import app_secret_data, grafana_role_path
from tests.unit.components.sso.keys import OPEN_WEBUI_KEYS


def test_open_webui_without_groups_has_no_role_management_keys(real_config):
    client = real_config.authentik.clients[1].model_copy(update={"groups": []})
    assert set(app_secret_data(real_config.authentik, client, "s")) == OPEN_WEBUI_KEYS - {
        "ENABLE_OAUTH_ROLE_MANAGEMENT",
        "OAUTH_ROLES_CLAIM",
        "OAUTH_ADMIN_ROLES",
        "OAUTH_ALLOWED_ROLES",
    }


def test_grafana_role_path_orders_by_role_strength_not_config_order(real_config):
    grafana = real_config.authentik.clients[0]
    reordered = grafana.model_copy(update={"groups": list(reversed(grafana.groups)), "default_role": None})
    assert grafana_role_path(reordered) == (
        "contains(groups[*], 'Grafana Admins') && 'Admin' || "
        "contains(groups[*], 'Grafana Editors') && 'Editor'"
    )
