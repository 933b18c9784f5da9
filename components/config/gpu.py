"""Placeholder: replaced by the gpu section model."""

from .base import Model


class GpuConfig(Model):
    pass
