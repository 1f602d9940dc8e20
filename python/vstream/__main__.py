"""`python -m vstream run CONFIG ...`: see vstream.cli."""

import sys

from .cli import main

sys.exit(main())
