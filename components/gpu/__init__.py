"""GPU management (directive Phase 2, prohibition 5): one module per object family, the capacity proof and
the ComponentResource. Every builder is a pure function returning a plain Kubernetes dict, so the component,
the integration tests and the policy rules all see the same objects.
"""
