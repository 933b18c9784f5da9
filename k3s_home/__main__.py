import sys

from k3s_home.cli import main

sys.exit(main())
