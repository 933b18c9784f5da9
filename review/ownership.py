"""Planned creates of objects that already exist in the target cluster (design.md §7, ADR 0003).

pulumi-kubernetes (>= 4.29) creates objects with a plain create, so an object the stack wants to create
that already lives in the cluster (say a Flux-owned PriorityClass) previews as a clean `+ create` and
fails `pulumi up` halfway with AlreadyExists. The gate asks the cluster about every create first.

- `object_ref(step)` / `creates(events)`: the Kubernetes objects of the preview's `create` steps (not
  `import`, not `create-replacement`), from `metadata.new.inputs` and the type token.
- `collisions(creates, exists)`: the pure core; `exists` answers one object, raising when it cannot.
- `ClusterLookup`: the live `exists`, a GET by apiVersion/kind/namespace/name with a short timeout,
  the scope taken from the API server's discovery. 404 is "absent"; anything else is "could not check".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rules.type_token import kubernetes_kind

# What the engine puts where a value is not known until apply.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
# Custom kubernetes:* types that are not one API object of that kind.
NOT_OBJECTS = {"kubernetes:helm.sh/v3:Release"}
TIMEOUT_SECONDS = float(os.environ.get("K3S_HOME_API_TIMEOUT", "5"))


@dataclass(frozen=True)
class ObjectRef:
    api_version: str  # "v1", "scheduling.k8s.io/v1"
    kind: str
    name: str
    namespace: str | None = None  # None: cluster-scoped, or the kubeconfig's default namespace
    urn: str = ""

    @property
    def known(self) -> bool:
        return UNKNOWN not in (self.name, self.namespace) and bool(self.name)

    def __str__(self) -> str:
        name = self.name if self.name != UNKNOWN else "(name unknown)"
        return f"{self.kind} {self.namespace}/{name}" if self.namespace else f"{self.kind} {name}"


@dataclass(frozen=True)
class Collision:
    ref: ObjectRef
    error: str = ""  # empty: the object exists; else why it could not be checked (advisory)

    @property
    def exists(self) -> bool:
        return not self.error


class CheckError(Exception):
    """The cluster could not say whether the object exists."""


# --- events -------------------------------------------------------------------------------------------


def _group_version_kind(typ: str) -> tuple[str, str] | None:
    """`kubernetes:scheduling.k8s.io/v1:PriorityClass` -> (`scheduling.k8s.io/v1`, `PriorityClass`)."""
    gvk = kubernetes_kind(typ)
    if gvk is None or typ in NOT_OBJECTS or gvk[1].endswith(("Patch", "List")):
        return None  # patches edit what exists; lists are not created
    return gvk


def object_ref(metadata: dict) -> ObjectRef | None:
    """The object a `resourcePreEvent`'s step creates, or None when the step is no plain k8s create."""
    if metadata.get("op") != "create":
        return None
    new = metadata.get("new")
    if not isinstance(new, dict):
        return None
    typ = str(metadata.get("type") or new.get("type") or "")
    gvk = _group_version_kind(typ)
    if gvk is None or new.get("custom") is False:  # components (yaml/v2, helm.sh/v4 Chart) hold no object
        return None
    inputs = new.get("inputs") if isinstance(new.get("inputs"), dict) else {}
    meta = inputs.get("metadata") if isinstance(inputs.get("metadata"), dict) else {}
    name = meta.get("name")
    namespace = meta.get("namespace")
    return ObjectRef(
        api_version=gvk[0],
        kind=gvk[1],
        # A secret or computed name cannot be looked up: it is reported as not checked.
        name=name if isinstance(name, str) else UNKNOWN,
        namespace=namespace if isinstance(namespace, str) and namespace else None,
        urn=str(metadata.get("urn", "")),
    )


def creates(events: Iterable[dict]) -> list[ObjectRef]:
    """The Kubernetes objects a preview's event log creates (engine events as dicts)."""
    refs = []
    for event in events:
        pre = event.get("resourcePreEvent") if isinstance(event, dict) else None
        if pre and (ref := object_ref(pre.get("metadata") or {})):
            refs.append(ref)
    return refs


# --- the pure core ------------------------------------------------------------------------------------


def collisions(creates: list[ObjectRef], exists: Callable[[ObjectRef], bool]) -> list[Collision]:
    """Every planned create whose object already exists, and every one that could not be checked."""
    found: list[Collision] = []
    for ref in dict.fromkeys(creates):
        if not ref.known:
            found.append(Collision(ref, "name not known until apply"))
            continue
        try:
            if exists(ref):
                found.append(Collision(ref))
        except Exception as err:  # never silent: the reviewer sees what was not checked, and why
            found.append(Collision(ref, str(err) or type(err).__name__))
    return found


# --- the live lookup ----------------------------------------------------------------------------------


class ClusterLookup:
    """`exists` against the cluster of a kubeconfig, through lightkube's configured HTTP client.

    Discovery (`/api/v1`, `/apis/<group>/<version>`) gives each kind's plural and scope; a group/version
    or kind the server does not serve holds no objects. After the first connection failure the rest
    fail fast with the same reason instead of waiting out one timeout each.
    """

    def __init__(
        self, kubeconfig: str, timeout: float = TIMEOUT_SECONDS, http: Any = None, namespace: str = "default"
    ) -> None:
        """`http`: an already configured httpx client (tests); else one is built from `kubeconfig`."""
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self._http = http
        self._namespace = namespace
        self._server = str(getattr(http, "base_url", "")) if http is not None else ""
        self._setup_error = ""
        self._down = ""
        self._discovery: dict[str, dict[str, dict] | None] = {}

    def _client(self) -> Any:
        if self._http is None and not self._setup_error:
            import httpx2 as httpx  # lightkube's HTTP client
            from lightkube import KubeConfig
            from lightkube.config import client_adapter

            try:
                config = KubeConfig.from_file(self.kubeconfig.split(os.pathsep)[0]).get()
                self._namespace = config.namespace
                self._server = config.cluster.server
                params = client_adapter.ConnectionParams(timeout=httpx.Timeout(self.timeout))
                self._http = client_adapter.Client(config, params)
            except Exception as err:  # an unreadable kubeconfig is reported per object, not a crash
                self._setup_error = f"cannot read kubeconfig {self.kubeconfig}: {err}"
        if self._setup_error:
            raise CheckError(self._setup_error)
        return self._http

    def _get(self, path: str) -> Any:
        import httpx2 as httpx

        if self._down:
            raise CheckError(self._down)
        try:
            return self._client().get(path)
        except httpx.TransportError as err:
            self._down = f"the API server at {self._server} is not answering ({type(err).__name__})"
            raise CheckError(self._down) from err

    def _resources(self, api_version: str) -> dict[str, dict] | None:
        """kind -> discovery entry for one group/version, None when the server does not serve it."""
        if api_version not in self._discovery:
            path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            response = self._get(path)
            if response.status_code == 404:
                self._discovery[api_version] = None
            elif response.status_code != 200:
                raise CheckError(f"discovery of {api_version} answered HTTP {response.status_code}")
            else:
                self._discovery[api_version] = {
                    r["kind"]: r for r in response.json().get("resources", []) if "/" not in r["name"]
                }
        return self._discovery[api_version]

    def exists(self, ref: ObjectRef) -> bool:
        resources = self._resources(ref.api_version)
        resource = (resources or {}).get(ref.kind)
        if resource is None:
            return False  # not served (yet): nothing of this kind can exist
        base = "/api/v1" if ref.api_version == "v1" else f"/apis/{ref.api_version}"
        if resource.get("namespaced"):
            base += f"/namespaces/{ref.namespace or self._namespace}"
        response = self._get(f"{base}/{resource['name']}/{ref.name}")
        if response.status_code == 200:
            return True
        if response.status_code == 404:
            return False
        reason = ""
        with contextlib.suppress(ValueError, AttributeError):
            reason = str(response.json().get("message", ""))
        raise CheckError(f"HTTP {response.status_code}{': ' + reason if reason else ''}")

    __call__ = exists

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
