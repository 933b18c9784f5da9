"""Where each rendered object goes in the Flux repository, and the files that hold it (pure).

One folder per component, in the place the repo keeps that concern (infrastructure-runtime/NN-* for the
GPU framework, the directive's own path; apps/<namespace>/... for monitoring and authentik), a
`kustomization.yaml` per folder, and one Flux `Kustomization` per folder in a wiring folder beside the
repo's own orchestrator (clusters/k3s-home/workloads). The stack owns exactly these folders: the render
rewrites them and touches nothing else (ADR 0019).

Files are named the way the repo names them: one file per kind in plural kebab case
(`priority-classes.yaml`, `persistent-volume-claims.yaml`), and one `secret-<namespace>-<name>.yaml` per
Secret, which the repo's `.sops.yaml` rule (`.*secret.*\\.yaml$`) encrypts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

CLUSTER = "clusters/k3s-home"
# The first line of every kustomization.yaml the render writes: a folder without it is not the stack's.
MARKER = (
    "# Rendered by k3s-home `make render` (ADR 0019): the stack owns this folder; edit the stack, not it."
)
WIRING = f"{CLUSTER}/workloads/k3s-home-iac"
# The one line a person adds once to the repo's orchestrator; the render never edits files it does not own.
WIRING_PARENT = f"{CLUSTER}/workloads/kustomization.yaml"
WIRING_ENTRY = "./k3s-home-iac"
FLUX_KUSTOMIZE_API = "kustomize.toolkit.fluxcd.io/v1"
# Names the repo spells its own way (configmap.yaml, helmrelease.yaml).
PLURALS = {"ConfigMap": "configmaps", "HelmRelease": "helmreleases"}


@dataclass(frozen=True)
class Folder:
    path: str  # relative to the repository root
    flux_name: str  # the Flux Kustomization that applies it
    depends_on: tuple[str, ...]  # Flux Kustomizations that create its namespaces and CRDs


# Top-level component type -> its folder. Migrations are children of the storage component.
FOLDERS: dict[str, Folder] = {
    "k3s-home:gpu:GpuManagement": Folder(
        f"{CLUSTER}/infrastructure-runtime/06-gpu-management",
        "k3s-home-gpu-management",
        ("apps", "monitoring"),
    ),
    "k3s-home:storage:MonitoringStorage": Folder(
        f"{CLUSTER}/apps/monitoring/monitoring-storage", "k3s-home-monitoring-storage", ("monitoring",)
    ),
    "k3s-home:authentik:AuthentikSso": Folder(
        f"{CLUSTER}/apps/auth/authentik-sso", "k3s-home-authentik-sso", ("auth", "apps", "monitoring")
    ),
}


class LayoutError(ValueError):
    """An object the layout has no place for: fail closed rather than drop it."""


@dataclass(frozen=True)
class Rendered:
    """One object the provider rendered, with the resource that registered it."""

    obj: dict
    urn: str
    type: str  # the Pulumi type token, kubernetes:<group>/<version>:<Kind>

    @property
    def component(self) -> str:
        parts = self.urn.split("::", 3)
        return (parts[2] if len(parts) >= 3 else self.urn).split("$", 1)[0]

    @property
    def key(self) -> tuple[str, str, str]:
        return object_key(self.obj)


@dataclass(frozen=True)
class File:
    path: str  # relative to the repository root
    text: str  # plaintext; a Secret file is encrypted before it reaches the repository
    secret: bool = False


def object_key(obj: dict) -> tuple[str, str, str]:
    meta = obj.get("metadata") or {}
    return (str(obj.get("kind", "")), str(meta.get("namespace") or ""), str(meta.get("name", "")))


def owned_folders() -> list[str]:
    return sorted([f.path for f in FOLDERS.values()] + [WIRING])


def kebab_plural(kind: str) -> str:
    if kind in PLURALS:
        return PLURALS[kind]
    word = re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()
    if word.endswith("y"):
        return word[:-1] + "ies"
    if word.endswith(("s", "sh", "ch", "x")):
        return word + "es"
    return word + "s"


def file_name(obj: dict) -> str:
    kind, namespace, name = object_key(obj)
    if kind == "Secret":
        return f"secret-{namespace or 'cluster'}-{name}.yaml"
    return f"{kebab_plural(kind)}.yaml"


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Scripts, blueprints and configs stay readable in review: multi-line strings as literal blocks.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(docs: list[dict]) -> str:
    """Documents as YAML, keys sorted, so the same objects always give the same bytes."""
    return "".join(
        "---\n" + yaml.dump(doc, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=100)
        for doc in docs
    )


def kustomization(resources: list[str]) -> str:
    body = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return MARKER + "\n" + yaml.dump(body, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def flux_kustomization(folder: Folder, sops_namespace: str, age_secret: str) -> dict:
    """The Flux Kustomization of one owned folder, in the repo's own shape (cluster-sync.yaml)."""
    return {
        "apiVersion": FLUX_KUSTOMIZE_API,
        "kind": "Kustomization",
        "metadata": {"name": folder.flux_name, "namespace": sops_namespace},
        "spec": {
            "interval": "10m",
            "path": f"./{folder.path}",
            "prune": True,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
            "dependsOn": [{"name": name} for name in folder.depends_on],
            "decryption": {"provider": "sops", "secretRef": {"name": age_secret}},
        },
    }


def plan(objects: list[Rendered], sops_namespace: str, age_secret: str) -> list[File]:
    """Every file of every owned folder, sorted by path. Raises LayoutError for an object without a folder."""
    by_file: dict[str, list[dict]] = {}
    used: dict[str, Folder] = {}
    for item in objects:
        folder = FOLDERS.get(item.component)
        if folder is None:
            raise LayoutError(
                f"{item.type} {'/'.join(x for x in item.key[1:] if x)}: component {item.component} has no "
                "folder in the Flux repo (gitops/layout.py FOLDERS)"
            )
        used[folder.path] = folder
        by_file.setdefault(f"{folder.path}/{file_name(item.obj)}", []).append(item.obj)
    files: list[File] = []
    for path, docs in by_file.items():
        docs.sort(key=object_key)
        files.append(File(path, dump(docs), secret=docs[0]["kind"] == "Secret"))
    wiring: list[str] = []
    for folder in sorted(used.values(), key=lambda f: f.path):
        names = sorted(f.path.rsplit("/", 1)[1] for f in files if f.path.rsplit("/", 1)[0] == folder.path)
        files.append(File(f"{folder.path}/kustomization.yaml", kustomization(names)))
        flux_file = f"{folder.flux_name.removeprefix('k3s-home-')}-flux.yaml"
        files.append(
            File(f"{WIRING}/{flux_file}", dump([flux_kustomization(folder, sops_namespace, age_secret)]))
        )
        wiring.append(flux_file)
    if wiring:
        files.append(File(f"{WIRING}/kustomization.yaml", kustomization(sorted(wiring))))
    return sorted(files, key=lambda f: f.path)


def folder_of(path: str) -> str | None:
    """The owned folder a repository path lies in, if any."""
    for folder in owned_folders():
        if path == folder or path.startswith(folder + "/"):
            return folder
    return None


def component_of_folder(folder: str) -> str:
    for component, f in FOLDERS.items():
        if f.path == folder:
            return component
    return "k3s-home:gitops:Wiring"
