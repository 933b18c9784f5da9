"""The k3s-home driver: `python -m k3s_home preview|up|destroy|recover|cancel|audit` on the Automation API.

It replaces scripts/stack.sh. One module per job: `target` (which cluster), `backend` (state, passphrase and
the stack file the engine reads), `locks` (stale locks of killed updates), `engine` (the Automation API
stack), `commands` (what each subcommand does, the review gate fed with the engine's events in process),
`recover` (settling an interrupted update), `cli` (arguments and exit codes). ADR 0018.
"""
