"""Record what only the live cluster knows about each migrated claim into the stack file.

Usage: record_sources.py KUBECONFIG STACK_FILE

For every claim declared under `k3s-home:storage.migrations[*].pvcs`, read the target cluster: the PV
the claim is bound to, its reclaim policy, node, host path and the claimRef uid. Write them into that
claim's `source` field, keeping every comment and the file's layout (a round-trip YAML edit), so the
values are never copied by hand. A claim that is missing or unbound is one clear error and nothing is
written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import PersistentVolume, PersistentVolumeClaim
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap


def source_of(claim: PersistentVolumeClaim, pv: PersistentVolume) -> dict:
    """The `source` fields of a bound claim, from its claim and volume: a local-path volume (its node and
    directory) or a static NFS volume (its export)."""
    spec = pv.spec
    where = f"{claim.metadata.namespace}/{claim.metadata.name}"
    common = {"volume": pv.metadata.name, "reclaimPolicy": spec.persistentVolumeReclaimPolicy}
    if spec.nfs:
        return {
            **common,
            "nfs": {"server": spec.nfs.server, "path": spec.nfs.path},
            "claimUid": claim.metadata.uid,
        }
    path = (spec.hostPath and spec.hostPath.path) or (spec.local and spec.local.path)
    nodes = [
        value
        for term in (spec.nodeAffinity.required.nodeSelectorTerms if spec.nodeAffinity else [])
        for expr in term.matchExpressions or []
        if expr.key == "kubernetes.io/hostname"
        for value in expr.values or []
    ]
    if not path or len(nodes) != 1:
        raise LookupError(f"{where}: volume {pv.metadata.name} has no single node and host path")
    return {
        **common,
        "hostPath": path,
        "volumeType": "local" if spec.local else "hostPath",
        "node": nodes[0],
        "claimUid": claim.metadata.uid,
    }


def record(client: Client, stack_file: Path) -> list[str]:
    """Fill every declared claim's `source`; returns one line per claim recorded."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    doc = yaml.load(stack_file.read_text())
    storage = doc["config"]["k3s-home:storage"]
    lines = []
    for i, m in enumerate(storage.get("migrations", [])):
        for j, c in enumerate(m.get("pvcs", [])):
            key = f"k3s-home:storage.migrations[{i}].pvcs[{j}]"
            try:
                claim = client.get(PersistentVolumeClaim, c["name"], namespace=c["namespace"])
            except ApiError as err:
                raise LookupError(
                    f"{key}: claim {c['namespace']}/{c['name']} not found ({err.status.code})"
                ) from None
            if claim.status.phase != "Bound" or not claim.spec.volumeName:
                raise LookupError(
                    f"{key}: claim {c['namespace']}/{c['name']} is {claim.status.phase}, not Bound"
                )
            found = source_of(claim, client.get(PersistentVolume, claim.spec.volumeName))
            source = c.get("source")
            if not isinstance(source, CommentedMap):
                source = c["source"] = CommentedMap()
            for stale in [k for k in source if k not in found]:  # e.g. hostPath of a stand-in, now nfs
                del source[stale]
            source.update(found)
            lines.append(f"{c['namespace']}/{c['name']} -> {found['volume']}")
    with stack_file.open("w") as out:
        yaml.dump(doc, out)
    return lines


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: record_sources.py KUBECONFIG STACK_FILE", file=sys.stderr)
        return 2
    client = Client(KubeConfig.from_file(argv[0]), timeout=10)
    try:
        lines = record(client, Path(argv[1]))
    except LookupError as err:
        print(f"record-migration-sources: {err}", file=sys.stderr)
        return 1
    for line in lines:
        print(f"[record] {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
