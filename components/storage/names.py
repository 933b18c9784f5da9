"""Names and labels of a migration's objects, derived from the model (stable across phases)."""

from __future__ import annotations

import hashlib

from components.config.migration import MigratedClaim, Migration
from components.config.storage import StorageConfig, target_size

SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}  # only the acceptDataLoss claim: provisioned, not pre-bound


def _h(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def target_volume_name(m: Migration, c: MigratedClaim) -> str:
    """The new PV's name, equal to its Longhorn volume's name (Longhorn's static-provisioning convention)."""
    return m.volume_name(c)


def staging_claim_name(c: MigratedClaim) -> str:
    return f"{c.name}-migrated"  # = Migration.staging_claim (the data-loss rule acknowledges it by that)


def staging_pv_name(m: Migration, c: MigratedClaim) -> str:
    """A second PV object on the same Longhorn volume, bound to the staging claim while copying.

    Re-pointing one bound PV at cutover does not work: a merge patch keeps the staging claim's
    claimRef.uid, and the PV controller then refuses the new claim. The final PV is a fresh object.
    """
    return m.staging_volume(c)


def job_name(m: Migration, c: MigratedClaim, action: str) -> str:
    return f"{m.name}-{action}-{_h(c.key)}"


def script_config_map_name(m: Migration) -> str:
    return f"{m.name}-copy-verify"


def migration_labels(m: Migration) -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "pulumi", "k3s-home.fletcherlabs.net/migration": m.name}


def claim_size(storage: StorageConfig, c: MigratedClaim) -> str:
    return target_size(c, storage.monitoring)
