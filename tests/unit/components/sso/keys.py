"""Exactly the keys each app reads from its Secret (what the app-side tests expect)."""

GRAFANA_KEYS = {
    "GF_SERVER_ROOT_URL",
    "GF_AUTH_GENERIC_OAUTH_ENABLED",
    "GF_AUTH_GENERIC_OAUTH_NAME",
    "GF_AUTH_GENERIC_OAUTH_CLIENT_ID",
    "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
    "GF_AUTH_GENERIC_OAUTH_SCOPES",
    "GF_AUTH_GENERIC_OAUTH_AUTH_URL",
    "GF_AUTH_GENERIC_OAUTH_TOKEN_URL",
    "GF_AUTH_GENERIC_OAUTH_API_URL",
    "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH",
    "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT",
    "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP",
    "GF_AUTH_GENERIC_OAUTH_USE_PKCE",
}


OPEN_WEBUI_KEYS = {
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OPENID_PROVIDER_URL",
    "OAUTH_PROVIDER_NAME",
    "OAUTH_SCOPES",
    "OPENID_REDIRECT_URI",
    "ENABLE_OAUTH_SIGNUP",
    "ENABLE_OAUTH_ROLE_MANAGEMENT",
    "OAUTH_ROLES_CLAIM",
    "OAUTH_ADMIN_ROLES",
    "OAUTH_ALLOWED_ROLES",
    "OAUTH_MERGE_ACCOUNTS_BY_EMAIL",
    "DEFAULT_USER_ROLE",
}


# The OidConfig fields the stack owns, in the plugin's names (SSO-Auth/Config/PluginConfiguration.cs);
# CanonicalLinks (the users' links) is deliberately absent.
JELLYFIN_FIELDS = {
    "OidEndpoint",
    "OidClientId",
    "OidSecret",
    "Enabled",
    "EnableAuthorization",
    "EnableAllFolders",
    "EnabledFolders",
    "AdminRoles",
    "Roles",
    "EnableFolderRoles",
    "FolderRoleMapping",
    "RoleClaim",
    "OidScopes",
    "SchemeOverride",
    "NewPath",
    "DoNotValidateEndpoints",
}
