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


# OidConfig's properties (SSO-Auth/Config/PluginConfiguration.cs): anything else is dropped on POST.
OID_FIELDS = [
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
    "EnableLiveTvRoles",
    "EnableLiveTv",
    "EnableLiveTvManagement",
    "LiveTvRoles",
    "LiveTvManagementRoles",
    "FolderRoleMapping",
    "RoleClaim",
    "OidScopes",
    "DefaultProvider",
    "SchemeOverride",
    "PortOverride",
    "NewPath",
    "CanonicalLinks",
    "DefaultUsernameClaim",
    "AvatarUrlFormat",
    "DisableHttps",
    "DisablePushedAuthorization",
    "DoNotValidateEndpoints",
    "DoNotValidateIssuerName",
    "DoNotLoadProfile",
]
# The OidConfig fields the stack owns: all but the users' links (CanonicalLinks), which are never touched,
# and the plugin's options the stack leaves at their defaults.
NOT_OWNED = {
    "CanonicalLinks",
    "EnableLiveTvRoles",
    "EnableLiveTv",
    "EnableLiveTvManagement",
    "LiveTvRoles",
    "LiveTvManagementRoles",
    "DefaultProvider",
    "PortOverride",
    "DefaultUsernameClaim",
    "AvatarUrlFormat",
    "DisableHttps",
    "DisablePushedAuthorization",
    "DoNotValidateIssuerName",
    "DoNotLoadProfile",
}
JELLYFIN_FIELDS = set(OID_FIELDS) - NOT_OWNED
