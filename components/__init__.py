"""Pulumi components for the k3s-home cluster, one module per concern, each over the typed config model."""
