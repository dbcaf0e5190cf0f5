"""``python -m cli <command>``: the same as the ``switchboard`` console script."""

import sys

from cli.main import main

sys.exit(main())
