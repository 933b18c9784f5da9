"""etcd quorum arithmetic: members that must agree, servers that may fail."""

from __future__ import annotations


def quorum(servers: int) -> int:
    """Members etcd needs to agree: a strict majority."""
    if servers < 1:
        raise ValueError("a control plane needs at least one server")
    return servers // 2 + 1


def failure_tolerance(servers: int) -> int:
    """Servers that may fail while the API keeps answering."""
    return servers - quorum(servers)
