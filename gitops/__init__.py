"""GitOps mode (ADR 0019): render the stack into the Flux repository, every Secret SOPS-encrypted.

engine (the program in render mode), layout (folders and files), sops (encryption with the repo's rules),
review (the rendered diff through the review gate), render (`make render`, the driver).
"""
