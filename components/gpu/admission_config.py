"""The kube-apiserver AdmissionConfiguration that limits GPU classes and resources by default (ADR 0017).

With it, a pod naming a GPU PriorityClass or requesting a GPU resource is admitted only where a quota
covers that scope or resource, and only the tenants hold such quotas (components.gpu.quotas). It is an
API server flag, not an object: toolchain/admission-config.yaml is this output, for the embedded control
plane and for the k3s servers (`kube-apiserver-arg: admission-control-config-file=...`).

    python -m components.gpu.admission_config > toolchain/admission-config.yaml
"""

from __future__ import annotations

import sys

import yaml

from components.config import clock, load_stack_file
from components.config.gpu import GpuConfig

HEADER = """\
# kube-apiserver --admission-control-config-file for the embedded control plane (scripts/cluster.sh) and,
# the same file, for the k3s servers (`kube-apiserver-arg: admission-control-config-file=...`).
# Kubernetes docs, "Resource Quotas" > "Limit Priority Class consumption by default": a pod naming a GPU
# PriorityClass or requesting a GPU resource is admitted only in a namespace holding a ResourceQuota that
# covers it, and only the GPU tenants hold one. ADR 0017.
# Generated from the stack config: python -m components.gpu.admission_config > toolchain/admission-config.yaml
"""


def admission_configuration(gpu: GpuConfig) -> dict:
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [
            {
                "name": "ResourceQuota",
                "configuration": {
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "ResourceQuotaConfiguration",
                    "limitedResources": [
                        {
                            "resource": "pods",
                            "matchScopes": [
                                {
                                    "scopeName": "PriorityClass",
                                    "operator": "In",
                                    "values": [pc.name for pc in gpu.priority_classes],
                                }
                            ],
                        },
                        # Pod usage names extended resources `requests.<name>` (the only quota key they have).
                        {"resource": "pods", "matchContains": [f"requests.{r}" for r in gpu.resources]},
                    ],
                },
            }
        ],
    }


def render(gpu: GpuConfig) -> str:
    return HEADER + yaml.safe_dump(admission_configuration(gpu), sort_keys=False)


def main(argv: list[str]) -> int:
    stack_file = argv[1] if len(argv) > 1 else "Pulumi.k3s-home.yaml"
    sys.stdout.write(render(load_stack_file(stack_file, today=clock.today()).gpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
