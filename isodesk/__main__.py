"""`python -m isodesk` runs the command line."""

import sys

from isodesk.cli import main

sys.exit(main())
