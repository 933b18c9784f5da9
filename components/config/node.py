"""One node of the control-plane section: what the config says about it (`NodeIntent`: the values the
facts lack, its pinned paths, its captured config.yaml) and the node the plan works with (`Node`: the
intent joined with the cluster's facts, `facts/k3s-home.yaml`).

The captured file is checked against the node's own facts here (identity, pins, no secrets); the checks
across nodes and against the target live in components/config/live_configs.py, and the checks of the
intent against the facts in components/config/control_plane_facts.py.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from . import k3s_config_file as k3s
from .base import Model


class Resources(Model):
    cores: float = Field(ge=0)
    memory_gi_b: float = Field(ge=0, alias="memoryGiB")


class Workload(Resources):
    """Work that stays on a node after the change (requests we plan for, not limits)."""

    name: str


class Gpu(Model):
    model: str
    count: int = Field(default=1, ge=1)


class Disk(Model):
    # The disk that holds the k3s data-dir (and so the etcd WAL).
    class_: Literal["nvme", "ssd", "hdd", "emmc"] = Field(alias="class")
    # Measured with fio (fdatasync, 2300-byte writes, the etcd guide's recipe); None = not measured yet.
    wal_fsync_p99_ms: float | None = Field(default=None, gt=0)


class PinnedPath(Model):
    """A node path that must never change: `current` is what the node runs with today.

    `desired` exists only so that an attempted change is visible in config and refused: the June 2025
    kubelet root-dir change is what destroyed every Longhorn volume.
    """

    current: str = Field(pattern=r"^/")
    desired: str | None = None


class NodePaths(Model):
    data_dir: PinnedPath
    kubelet_root_dir: PinnedPath


NODE_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# The NIC that carries the node address, and so etcd peer traffic if the node becomes a server:
# `virtual` is a VM's bridged NIC (its host's physical NIC carries the traffic).
Nic = Literal["onboard", "usb", "virtual"]


class NodeIntent(Model):
    """A node's entry in the stack config: only what the facts lack (every value an assumption to confirm
    in plan step 1). Its address, today's role, hardware, GPUs and, where the repo gives them, cores and
    memory come from the facts; a key that restates or contradicts one is refused
    (components/config/control_plane_facts.py)."""

    name: str = Field(pattern=NODE_NAME)
    # Only where the facts give no size (the Flux repo sizes k3s-master1 and k3s3 only).
    cores: int | None = Field(default=None, gt=0)
    memory_gi_b: float | None = Field(default=None, gt=0, alias="memoryGiB")
    # A VM's size after the plan grows it (its host has room): only for a node the facts say is a VM.
    grow_to: Resources | None = None
    disk: Disk
    nic: Nic
    workloads: list[Workload] = Field(default_factory=list)
    paths: NodePaths
    live_config: str | None = None


class Node(Model):
    """A node as the plan sees it: the facts joined with the node's intent (`ControlPlaneConfig.nodes`)."""

    name: str = Field(pattern=NODE_NAME)
    address: str
    cores: int = Field(gt=0)
    memory_gi_b: float = Field(gt=0, alias="memoryGiB")
    disk: Disk
    nic: Nic
    gpus: list[Gpu] = Field(default_factory=list)
    role: Literal["server", "agent"]
    workloads: list[Workload] = Field(default_factory=list)
    paths: NodePaths
    # From the facts: what the machine is, the physical machine a VM runs on, and where each came from.
    hardware: str = ""
    vm_host: str | None = None
    source: str = ""  # file:line of the node's name, address and role in the Flux repo
    resources_source: str | None = None  # file:line of cores and memory; None = an assumption in config
    grow_to: Resources | None = None
    # The node's /etc/rancher/k3s/config.yaml as captured in plan step 1, secrets dropped
    # (`python -m components.control_plane.capture`). No config is rendered for a node without it.
    live_config: str | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"'{value}' is not an IP address") from None
        return value

    @field_validator("live_config")
    @classmethod
    def _live(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is None:
            return None
        name = info.data.get("name", "?")
        try:
            live = k3s.parse(text)
        except ValueError as err:
            raise ValueError(f"{name}'s config.yaml {err}") from None
        secrets = k3s.secret_keys(live)
        if secrets:
            raise ValueError(
                f"{name}'s config.yaml holds {', '.join(secrets)}: secrets never enter the stack config; "
                f"capture with `python -m components.control_plane.capture {name}`, which drops them"
            )
        for key, expected in (("node-name", name), ("node-ip", info.data.get("address"))):
            if key in live.values and str(live.values[key]) != expected:
                where = f" ({info.data['source']})" if info.data.get("source") else ""
                raise ValueError(
                    f"{name}'s config.yaml sets {key} {live.values[key]} but the facts say "
                    f"{expected}{where}; "
                    "capture this node's own file (a node's name and address never change here)"
                )
        paths: NodePaths | None = info.data.get("paths")
        if paths is not None:
            checks = (
                ("dataDir", "data-dir", k3s.data_dir(live.values), paths.data_dir.current),
                (
                    "kubeletRootDir",
                    "kubelet root-dir",
                    k3s.kubelet_root_dir(live.values),
                    paths.kubelet_root_dir.current,
                ),
            )
            for key, flag, runs, pin in checks:
                if runs != pin:
                    raise ValueError(
                        f"{name}'s config.yaml gives {flag} {runs} but paths.{key}.current pins {pin}; pin "
                        "what the node really uses (confirm it on the node, plan step 1): writing a config "
                        "over a wrong pin repeats the June 2025 data loss"
                    )
        return text

    @property
    def machine(self) -> str:
        """The physical machine that fails with this node: its VM host, or itself."""
        return self.vm_host or self.name

    @property
    def target_size(self) -> tuple[float, float]:
        """Cores and GiB once the plan has run (a VM it grows), else today's."""
        if self.grow_to is not None:
            return (self.grow_to.cores, self.grow_to.memory_gi_b)
        return (float(self.cores), self.memory_gi_b)

    @property
    def live(self) -> k3s.ConfigFile | None:
        return None if self.live_config is None else k3s.parse(self.live_config)

    @model_validator(mode="after")
    def _paths_pinned(self) -> Node:
        for key, flag in (("dataDir", "data-dir"), ("kubeletRootDir", "kubelet root-dir")):
            pin: PinnedPath = self.paths.data_dir if key == "dataDir" else self.paths.kubelet_root_dir
            if pin.desired is not None and pin.desired != pin.current:
                raise ValueError(
                    f"{self.name} paths.{key}: the {flag} would change from {pin.current} to {pin.desired}; "
                    "it is immutable (the June 2025 kubelet root-dir change destroyed every Longhorn "
                    "volume). "
                    "Drain the node, move its data off and reinstall it instead, or remove `desired`"
                )
        return self
