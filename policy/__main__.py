"""The k3s-home CrossGuard pack. Constructing the PolicyPack starts a gRPC server and blocks forever,
so this is the only module that does it and nothing may import it (tests import policy.validators)."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

try:
    import pulumi_policy  # noqa: F401
except ModuleNotFoundError:
    # Older Python language hosts run the pack as `python <pack dir>` with the system interpreter and
    # ignore PulumiPolicy.yaml's virtualenv; hand over to the project's venv, same arguments and stdio.
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve().parent), *sys.argv[1:]])
    raise

# The analyzer runs this file by path; the rules and the config model live in the project root.
sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.validators import (  # noqa: E402
    PACK_NAME,
    install_secret_markers,
    install_shared_evaluation,
    policies,
    warm_up,
)

install_secret_markers()
install_shared_evaluation()
warm_up()
PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies())
