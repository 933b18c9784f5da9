"""Create (or replace) every object in the given YAML files or directories; CRDs are awaited Established.

Usage: apply_manifests.py KUBECONFIG PATH [PATH...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml
from lightkube import Client, KubeConfig
from lightkube.codecs import from_dict
from lightkube.core.exceptions import ApiError
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

DEADLINE_SECONDS = 60


class _Loader(yaml.SafeLoader):
    """PyYAML reads a bare `=` (an enum value in the Prometheus CRDs) as the YAML 1.1 value tag."""


_Loader.add_constructor("tag:yaml.org,2002:value", _Loader.construct_yaml_str)


def _files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


def load_files(paths: list[str]) -> list[dict]:
    """Every object in the YAML files (or directories of them), in file order."""
    return [d for path in _files(paths) for d in yaml.load_all(path.read_text(), Loader=_Loader) if d]


def main(kubeconfig: str, *paths: str) -> int:
    client = Client(KubeConfig.from_file(kubeconfig), timeout=10)
    names = []
    for obj in map(from_dict, load_files(list(paths))):
        try:
            client.create(obj)
        except ApiError as err:
            if err.status.code != 409:
                raise
            ns = getattr(obj.metadata, "namespace", None)
            current = client.get(type(obj), obj.metadata.name, **({"namespace": ns} if ns else {}))
            obj.metadata.resourceVersion = current.metadata.resourceVersion
            client.replace(obj)
        if isinstance(obj, CustomResourceDefinition):
            names.append(obj.metadata.name)
    deadline = time.monotonic() + DEADLINE_SECONDS
    for name in names:
        while True:
            conds = client.get(CustomResourceDefinition, name).status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conds):
                break
            if time.monotonic() > deadline:
                print(
                    f"[cluster] ERROR: CRD {name} not Established within {DEADLINE_SECONDS}s", file=sys.stderr
                )
                return 1
            time.sleep(0.2)
    if names:
        print(f"[cluster] {len(names)} CustomResourceDefinitions established", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
