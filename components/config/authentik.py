"""Placeholder: replaced by the authentik section model."""

from .base import Model


class AuthentikConfig(Model):
    pass
