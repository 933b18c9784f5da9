"""Pulumi type tokens (`kubernetes:apps/v1:Deployment`), read in one place: pack, gate and rules."""

from __future__ import annotations

# Groups whose kubernetes:* types are pulumi_kubernetes components (Chart, ConfigGroup, Directory) or a
# Helm release, not one API object of that kind.
COMPONENT_GROUPS = frozenset({"helm.sh", "yaml", "kustomize"})


def kubernetes_kind(token: str) -> tuple[str, str] | None:
    """(apiVersion, kind) of a `kubernetes:<group>/<version>:<Kind>` token, the core group dropped:
    ("apps/v1", "Deployment"), ("v1", "Secret"). None for other providers and unversioned modules."""
    parts = token.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes" or "/" not in parts[1]:
        return None
    return parts[1].removeprefix("core/"), parts[2]


def is_api_object(api_version: str, kind: str) -> bool:
    """False for List types and component groups: their children are the objects."""
    return not kind.endswith("List") and api_version.split("/")[0] not in COMPONENT_GROUPS


def kind_of(type_or_kind: str) -> str:
    """The kind a type token names (`PersistentVolumeClaim` for `kubernetes:core/v1:PersistentVolumeClaim`);
    a bare kind is returned as it is."""
    return type_or_kind.rsplit(":", 1)[-1]


def type_of_urn(urn: str) -> str:
    """The resource's own type token: the last link of the URN's type chain ("" when it has none)."""
    parts = urn.split("::", 3)
    return parts[2].rsplit("$", 1)[-1] if len(parts) >= 3 else ""
