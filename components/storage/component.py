"""`MonitoringStorage`: the StorageClass, the monitoring HelmReleases, the alerts and one `VolumeMigration`
per configured migration (directive Phase 1, Phase 5 pilot too)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.config import StackConfig
from components.config.storage import StorageConfig
from components.resources import adoption, register
from components.storage.alerts import prometheus_rule
from components.storage.migration import VolumeMigration
from components.storage.objects import helm_release, storage_class
from components.storage.phases import effective_class


def summary(storage: StorageConfig, migrations: dict[str, VolumeMigration]) -> dict[str, Any]:
    return {
        "storageClass": storage.storage_class.name,
        "approvedClasses": storage.approved,
        "targets": {
            key: dict(zip(("storageClass", "size"), effective_class(storage, key), strict=True))
            for key, _ in (storage.monitoring.items() if storage.monitoring else [])
        },
        "migrations": {name: mig.summary for name, mig in migrations.items()},
        "timings": {name: mig.summary["timings"] for name, mig in migrations.items()},
    }


class MonitoringStorage(pulumi.ComponentResource):
    def __init__(self, name: str, config: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("k3s-home:storage:MonitoringStorage", name, None, opts)
        storage, cluster = config.storage, config.cluster
        sc = storage_class(storage)
        self.storage_class = k8s.storage.v1.StorageClass(
            f"{name}-storage-class",
            metadata=sc["metadata"],
            provisioner=sc["provisioner"],
            parameters=sc["parameters"],
            reclaim_policy=sc["reclaimPolicy"],
            allow_volume_expansion=sc["allowVolumeExpansion"],
            volume_binding_mode=sc["volumeBindingMode"],
            # Parameters are immutable: a change replaces the class; claims and volumes keep their data.
            opts=pulumi.ResourceOptions(
                parent=self,
                delete_before_replace=True,
                **adoption(cluster.adopt_id("StorageClass", sc["metadata"]["name"])),
            ),
        )
        self.migrations: dict[str, VolumeMigration] = {
            m.name: VolumeMigration(
                f"{name}-{m.name}",
                config,
                m,
                storage_class=self.storage_class,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for m in storage.migrations
        }
        self.releases: dict[str, pulumi.CustomResource] = {}
        owning = set(storage.data_releases)
        for release in storage.releases:
            obj = helm_release(storage, release)
            self.releases[release.ref] = register(
                f"{name}-helmrelease-{release.namespace}-{release.name}",
                obj,
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.storage_class],
                    **adoption(cluster.adopt_id("HelmRelease", release.name, release.namespace)),
                    # Deleting a release that owns claims deletes them: the gate asks for the
                    # acknowledgement, and `destroy` unprotects only what was acknowledged.
                    protect=release.ref in owning,
                ),
            )
        self.rule = register(
            f"{name}-prometheus-rule", prometheus_rule(storage), pulumi.ResourceOptions(parent=self)
        )
        self.summary = summary(storage, self.migrations)
        self.register_outputs({"summary": self.summary})
