"""Reading an object that may be gone: the integration tests' one place for "404 means None"."""

from __future__ import annotations

from typing import Any

from lightkube import Client
from lightkube.core.exceptions import ApiError


def get_or_none(kube: Client, res: type, name: str, namespace: str | None = None) -> Any | None:
    """The object, or None when the API server answers 404; any other error is raised."""
    try:
        return kube.get(res, name, namespace=namespace) if namespace else kube.get(res, name)
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise
