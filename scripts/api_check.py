"""Exit 0 when the kubeconfig's API server answers within a few seconds, else one clear line."""

from __future__ import annotations

import os
import sys

import httpx2 as httpx  # lightkube's HTTP client
from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace

TIMEOUT_SECONDS = float(os.environ.get("K3S_HOME_API_TIMEOUT", "5"))


def check(kubeconfig: str) -> str | None:
    """None when healthy, else the reason."""
    try:
        config = KubeConfig.from_file(kubeconfig.split(":")[0])
        server = config.get().cluster.server
    except Exception as err:  # unreadable kubeconfig is a user error, not a crash
        reason = " ".join(str(err).split()) or type(err).__name__  # YAML errors span lines
        return (
            f"cannot read kubeconfig {kubeconfig}: {reason}: fix or replace that file, or unset KUBECONFIG "
            "(K3S_HOME_TARGET=embedded uses the embedded control plane)"
        )
    try:
        client = Client(config, timeout=httpx.Timeout(TIMEOUT_SECONDS))
        next(iter(client.list(Namespace, chunk_size=1)), None)
    except ApiError as err:
        if err.status.code in (401, 403):
            return None  # answering; authorization is the stack's concern
        return f"the API server at {server} answered with an error: {err.status.message}"
    except (httpx.HTTPError, OSError) as err:
        return f"the API server at {server} is not answering ({type(err).__name__}: {err})"
    return None


if __name__ == "__main__":
    reason = check(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("KUBECONFIG", ""))
    if reason:
        print(f"[k3s-home] ERROR: {reason}", file=sys.stderr)
        sys.exit(1)
