import sys

try:
    from k3s_home.cli import main
except ModuleNotFoundError as err:  # an interpreter without the project's packages: one line, no traceback
    print(
        f"[k3s-home] the Python package '{err.name}' is not installed for {sys.executable}: run "
        "`make toolchain`, then `source .work/env.sh` (its .venv python runs the driver)",
        file=sys.stderr,
    )
    sys.exit(2)

sys.exit(main())
