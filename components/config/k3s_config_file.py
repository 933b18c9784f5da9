"""A node's /etc/rancher/k3s/config.yaml as text: parse it into top-level blocks, read effective values,
and merge the keys the stack owns into it while every other block stays byte for byte.

Pure functions over strings; the config model validates captured files with them and the control-plane
component renders merged files with them. Facts and their sources: docs/upstream-facts.md ("k3s").
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import yaml

CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
HEADER_MARK = "# k3s-home:"  # first characters of every header line this module writes

# Secrets never enter the stack config: a captured file holding one is refused (capture drops them).
SECRET_KEYS = (
    "token",
    "agent-token",
    "vpn-auth",
    "etcd-s3-access-key",
    "etcd-s3-secret-key",
    "datastore-endpoint",
)

DEFAULT_DATA_DIR = "/var/lib/rancher/k3s"
# Rootful k3s passes no --root-dir, so the kubelet uses its upstream default (k3s >= v0.10.0).
DEFAULT_KUBELET_ROOT_DIR = "/var/lib/kubelet"

# Keys every server must share (k3s CriticalControlArgs) and their k3s defaults, plus disable-kube-proxy,
# which agents read from whichever server they reach. `disable` (servicelb) is compared as a set.
SHARED_SERVER_DEFAULTS: dict[str, Any] = {
    "cluster-cidr": "10.42.0.0/16",
    "service-cidr": "10.43.0.0/16",
    "cluster-dns": "10.43.0.10",
    "cluster-domain": "cluster.local",
    "disable-cloud-controller": False,
    "disable-helm-controller": False,
    "disable-network-policy": False,
    "secrets-encryption": False,
    "embedded-registry": False,
    "flannel-backend": "vxlan",
    "flannel-ipv6-masq": False,
    "flannel-external-ip": False,
    "egress-selector-mode": "agent",
    "disable-kube-proxy": False,
}


@dataclass(frozen=True)
class Block:
    """One top-level key with the comment lines directly above it, exactly as written."""

    key: str
    text: str


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config.yaml: `parts` in file order are Blocks or verbatim gap text (blank lines, loose
    comments); joined they give back the file."""

    parts: tuple[Block | str, ...]
    values: dict[str, Any]

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.parts if isinstance(p, Block)]


def parse(text: str) -> ConfigFile:
    """Split `text` into blocks; ValueError with the reason when it is not a plain top-level mapping."""
    if not text.strip():
        return ConfigFile(parts=(text,) if text else (), values={})
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"is not valid YAML ({str(err).splitlines()[0]})") from None
    if root is None:
        return ConfigFile(parts=(text,), values={})
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        raise ValueError("must be a block mapping of k3s flags (key: value per line)")
    keys = [k.value for k, _ in root.value]
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise ValueError(f"sets {key} twice; k3s would use only the last one")
        seen.add(key)
    lines = text.splitlines(keepends=True)
    starts = [k.start_mark.line for k, _ in root.value]
    for knode, _ in root.value:
        if knode.start_mark.column != 0:
            raise ValueError(f"key {knode.value} must start at column 0")
    # Each block starts at its key line, pulled up over the comment lines directly above it.
    block_starts = []
    for line in starts:
        first = line
        while first > 0 and lines[first - 1].lstrip().startswith("#") and lines[first - 1][0] == "#":
            first -= 1
        block_starts.append(first)
    parts: list[Block | str] = []
    cursor = 0
    for i, (key, first, key_line) in enumerate(zip(keys, block_starts, starts, strict=True)):
        first = max(first, cursor)
        if first > cursor:
            parts.append("".join(lines[cursor:first]))
        end = block_starts[i + 1] if i + 1 < len(keys) else len(lines)
        end = max(end, key_line + 1)
        # Trailing blank lines and loose comments belong to the gap, not to the block.
        body_end = end
        while body_end > key_line + 1 and _is_gap(lines[body_end - 1]):
            body_end -= 1
        parts.append(Block(key, "".join(lines[first:body_end])))
        if end > body_end:
            parts.append("".join(lines[body_end:end]))
        cursor = end
    if cursor < len(lines):
        parts.append("".join(lines[cursor:]))
    return ConfigFile(parts=tuple(parts), values=dict(values))


def _is_gap(line: str) -> bool:
    return not line.strip() or line.startswith("#")


def secret_keys(cfg: ConfigFile) -> list[str]:
    return [k for k in cfg.keys if k.rstrip("+") in SECRET_KEYS]


# --- effective values ------------------------------------------------------------------------------


def as_list(value: Any) -> list[str]:
    """A k3s list flag as written: a YAML list or one comma-separated string."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def normalized(key: str, value: Any) -> Any:
    """Comparable form of a shared server key's value (bools from strings, CIDR lists canonical)."""
    default = SHARED_SERVER_DEFAULTS.get(key)
    if isinstance(default, bool):
        return str(value).strip().lower() == "true" if not isinstance(value, bool) else value
    if key in ("cluster-cidr", "service-cidr", "cluster-dns"):
        items = as_list(value)
        try:
            return ",".join(str(ipaddress.ip_network(v, strict=False)) if "/" in v else v for v in items)
        except ValueError:
            return ",".join(items)
    return str(value).strip()


def effective(values: dict[str, Any], key: str) -> Any:
    """The value k3s runs with for a shared server key: the file's, else the k3s default."""
    if key in values:
        return normalized(key, values[key])
    return SHARED_SERVER_DEFAULTS[key]


def kubelet_args(values: dict[str, Any]) -> list[str]:
    return as_list(values.get("kubelet-arg")) + as_list(values.get("kubelet-arg+"))


def kubelet_root_dir(values: dict[str, Any]) -> str:
    """The kubelet root dir this file gives: the last root-dir kubelet-arg, else the k3s default."""
    found = [a.split("=", 1)[1] for a in kubelet_args(values) if a.lstrip("-").startswith("root-dir=")]
    if found:
        return found[-1]
    if str(values.get("rootless", "")).lower() == "true":
        return f"{data_dir(values)}/agent/kubelet"
    return DEFAULT_KUBELET_ROOT_DIR


def data_dir(values: dict[str, Any]) -> str:
    return str(values.get("data-dir") or DEFAULT_DATA_DIR)


# --- merge -----------------------------------------------------------------------------------------


def render_value(key: str, value: Any) -> str:
    return yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=200)


def merge(live: ConfigFile, owned_keys: tuple[str, ...], values: dict[str, Any], header: list[str]) -> str:
    """`live` with the stack's keys applied: each key in `owned_keys` is written with its value from
    `values` (in place when the file has it, appended otherwise) or removed when `values` lacks it;
    every other block and gap is kept byte for byte. `header` lines replace an earlier k3s-home header."""
    out = [f"{HEADER_MARK} {line}\n" if line else f"{HEADER_MARK}\n" for line in header]
    if out:
        out.append("\n")  # keeps the header a gap of its own, so a re-merge replaces it
    written: set[str] = set()
    for index, part in enumerate(live.parts):
        text = part if isinstance(part, str) else part.text
        if index == 0 or (index == 1 and isinstance(live.parts[0], str)):
            text = _without_header(text)
        if isinstance(part, str):
            out.append(text)
            continue
        base = part.key.rstrip("+")
        if base not in owned_keys or (
            part.key == base
            and base in values
            and base not in written
            and live.values.get(base) == values[base]
        ):
            # The node's own key, or an owned key that already has its value: kept as written.
            out.append(text if text.endswith("\n") else text + "\n")
            written.add(base)
        elif base in values and base not in written:
            # Replaced in place; the comment lines above it are the node owner's and stay.
            out.append(_leading_comments(text) + render_value(base, values[base]))
            written.add(base)
    for key in owned_keys:
        if key in values and key not in written:
            out.append(render_value(key, values[key]))
    return "".join(out)


def _without_header(text: str) -> str:
    """`text` without a k3s-home header (and the blank line after it) written by an earlier merge."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].startswith(HEADER_MARK):
        return text
    rest = 0
    while rest < len(lines) and lines[rest].startswith(HEADER_MARK):
        rest += 1
    if rest < len(lines) and not lines[rest].strip():
        rest += 1
    return "".join(lines[rest:])


def _leading_comments(text: str) -> str:
    lines = text.splitlines(keepends=True)
    count = 0
    while count < len(lines) and lines[count].startswith("#"):
        count += 1
    return "".join(lines[:count])
