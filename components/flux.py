"""The chart part of a Flux HelmRelease (helm.toolkit.fluxcd.io/v2), for every component that writes one."""

from __future__ import annotations


def chart_source(chart: str, version: str, kind: str, name: str, namespace: str) -> dict:
    """`{"chart": ...}` or `{"chartRef": ...}`, to merge into the HelmRelease spec.

    v2's `chart.spec.sourceRef.kind` takes HelmRepository, GitRepository or Bucket only; an OCI chart is
    referenced through `chartRef` (kind OCIRepository), and the OCIRepository's `spec.ref` pins its
    version (helm-controller api/v2 helmrelease_types.go, reference_types.go).
    """
    ref = {"kind": kind, "name": name, "namespace": namespace}
    if kind == "OCIRepository":
        return {"chartRef": ref}
    return {"chart": {"spec": {"chart": chart, "version": version, "sourceRef": ref}}}
