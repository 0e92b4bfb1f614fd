"""``python -m forkpoint``: the command line (same as the ``forkpoint`` entry point)."""

import sys

from .cli import main

sys.exit(main())
