"""Prohibited actions 2 and 3: nothing touches SOPS, nothing touches the USB NIC monitoring.

Both are ownership rules: the objects exist and work, and they belong to Flux (and to whoever holds the
age key). Any object this program manages that is, or reaches into, one of them is a violation.
"""

from __future__ import annotations

from . import Config, Finding, object_name
from .walk import dig

SOPS_RULE = "sops-untouchable"
USB_NIC_RULE = "usb-nic-monitoring"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io/"


def _meta(obj: dict) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def sops_untouchable(obj: dict, cfg: Config) -> list[Finding]:
    sops = cfg.cluster.sops
    meta = _meta(obj)
    kind = obj.get("kind")
    if kind == "Secret" and meta.get("namespace") == sops.namespace and meta.get("name") == sops.age_secret:
        return [
            Finding(
                SOPS_RULE,
                f"{object_name(obj)} is the SOPS age key; it is created by hand and must never be managed",
                path="metadata.name",
            )
        ]
    is_flux_kustomization = kind == "Kustomization" and str(obj.get("apiVersion", "")).startswith(
        FLUX_KUSTOMIZE_GROUP
    )
    if is_flux_kustomization and dig(obj, "spec", "decryption") is not None:
        return [
            Finding(
                SOPS_RULE,
                f"{object_name(obj)} sets spec.decryption; SOPS decryption settings stay with Flux",
                path="spec.decryption",
            )
        ]
    return []


def _matches(labels: object, wanted: dict[str, str]) -> bool:
    return isinstance(labels, dict) and all(labels.get(k) == v for k, v in wanted.items())


def _selects(selector: object, wanted: dict[str, str]) -> bool:
    """True when a label selector certainly selects pods carrying `wanted` (an empty selector selects all)."""
    if not isinstance(selector, dict) or selector.get("matchExpressions"):
        return False
    match = selector.get("matchLabels") or {}
    return isinstance(match, dict) and all(wanted.get(k) == v for k, v in match.items())


def usb_nic_monitoring(obj: dict, cfg: Config) -> list[Finding]:
    usb = cfg.cluster.usb_nic_monitoring
    if _meta(obj).get("namespace") != usb.namespace:
        return []
    wanted = usb.match_labels
    where = None
    if _matches(_meta(obj).get("labels"), wanted):
        where = "metadata.labels"
    elif _matches(dig(obj, "spec", "template", "metadata", "labels"), wanted):
        where = "spec.template.metadata.labels"
    elif obj.get("kind") == "NetworkPolicy" and _selects(dig(obj, "spec", "podSelector"), wanted):
        # A network policy that selects the monitor changes what it can reach.
        where = "spec.podSelector"
    if where is None:
        return []
    selector = ",".join(f"{k}={v}" for k, v in wanted.items())
    return [
        Finding(
            USB_NIC_RULE,
            f"{object_name(obj)} reaches the USB NIC monitoring ({usb.namespace}, {selector}); "
            "leave it to Flux",
            path=where,
        )
    ]
