"""Flux's ownership of the objects the directive changes, and minimal edits of Flux's own files (ADR 0029)."""
