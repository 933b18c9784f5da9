"""CrossGuard adapters (policy.validators).

Never import policy.__main__: it constructs the pack, which starts a server and blocks."""
