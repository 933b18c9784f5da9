"""Placeholder: replaced by the storage section model."""

from .base import Model


class StorageConfig(Model):
    pass
