"""``python -m pathcost``: see ``pathcost.cli``."""

import sys

from .cli import main

sys.exit(main())
