"""A test-only reverse proxy to the embedded kube-apiserver that HOLDS one chosen request.

It forwards every request (watches and chunked responses streamed as they come), over TLS with the client
certificate of the embedded kubeconfig, and serves plain http on loopback to the stack's kubeconfig. The
first request a `Hold` matches is not forwarded: the proxy sets `reached` and waits for `release`. A test
waits on `reached`, kills the update's process group, then releases: the held request is forwarded then
(`forward=True`: the operation happens after all, as when a kill lands just after a request was sent) or
dropped, and `done` is set. So a kill lands inside a chosen engine step, with no sleep and no race.
"""

from __future__ import annotations

import http.client
import re
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import yaml

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host"}
HOLD_SECONDS = 300  # bounded: a test that never releases fails instead of hanging the proxy thread


@dataclass
class Hold:
    method: str  # a regular expression the method must match in full
    path: str  # a regular expression searched in the request path (query included)
    forward: bool = True
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    request: str = ""

    def matches(self, method: str, path: str) -> bool:
        return re.fullmatch(self.method, method) is not None and re.search(self.path, path) is not None


def _file(cluster_or_user: dict, key: str, tmp: Path) -> str | None:
    """A kubeconfig's `<key>` file path, or its `<key>-data` written to a file."""
    if cluster_or_user.get(key):
        return cluster_or_user[key]
    if data := cluster_or_user.get(f"{key}-data"):
        import base64

        path = tmp / key
        path.write_bytes(base64.b64decode(data))
        return str(path)
    return None


class HoldingProxy:
    def __init__(self, upstream_kubeconfig: str) -> None:
        config = yaml.safe_load(Path(upstream_kubeconfig).read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self._tmp = tempfile.TemporaryDirectory()
        tmp = Path(self._tmp.name)
        self.upstream = urlparse(cluster["server"])
        self.context = ssl.create_default_context(cafile=_file(cluster, "certificate-authority", tmp))
        self.context.load_cert_chain(_file(user, "client-certificate", tmp), _file(user, "client-key", tmp))
        self.requests: list[str] = []  # "METHOD path" of every request, in arrival order
        self._holds: list[Hold] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def write_kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
                    "users": [{"name": "proxy", "user": {}}],
                    "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
                    "current-context": "proxy",
                }
            )
        )
        return path

    def hold(self, hold: Hold) -> Hold:
        with self._lock:
            self._holds.append(hold)
        return hold

    def disarm(self) -> None:
        """Forget the holds that never fired (the later commands must not trip over them)."""
        with self._lock:
            self._holds.clear()

    def take(self, method: str, path: str) -> Hold | None:
        """The armed hold this request matches (each holds one request only)."""
        with self._lock:
            self.requests.append(f"{method} {path}")
            for hold in self._holds:
                if hold.matches(method, path):
                    self._holds.remove(hold)
                    hold.request = f"{method} {path}"
                    return hold
        return None

    def connection(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.upstream.hostname, self.upstream.port or 443, context=self.context, timeout=None
        )

    def close(self) -> None:
        with self._lock:
            for hold in self._holds:
                hold.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._tmp.cleanup()


def _handler(proxy: HoldingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the request log is proxy.requests
            pass

        def _forward(self) -> tuple[http.client.HTTPSConnection, http.client.HTTPResponse]:
            conn = proxy.connection()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(self.command, self.path, body=self._body or None, headers=headers)
            return conn, conn.getresponse()

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
            hold = proxy.take(self.command, self.path)
            if hold is not None:
                hold.reached.set()
                hold.release.wait(HOLD_SECONDS)
                try:
                    if hold.forward:
                        conn, resp = self._forward()
                        resp.read()
                        conn.close()
                finally:
                    hold.done.set()
                    self.close_connection = True
                return
            conn, resp = self._forward()
            try:
                self.send_response_only(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                sized = resp.getheader("Content-Length")
                if sized is not None:
                    body = resp.read()
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                # Unsized (a watch, a chunked list): streamed as it comes, then the connection closes.
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                while chunk := resp.read1(65536):
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, http.client.IncompleteRead):
                self.close_connection = True  # either side went away (a killed client, a stopped server)
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    return Handler
