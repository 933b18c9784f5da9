"""Placeholder: replaced by the control_plane section model."""

from .base import Model


class ControlPlaneConfig(Model):
    pass
