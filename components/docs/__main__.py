"""`python -m components.docs [--check]`: write (or check) every generated doc and picture."""

import sys

from components.docs.generated import main

sys.exit(main(sys.argv[1:]))
