"""The bundle's entry point: ``isodesk`` with no subcommand opens the app, any subcommand runs it.

PyInstaller freezes this script (``packaging/isodesk.spec``); it is the same ``isodesk.cli.main``
the wheel's ``isodesk`` and ``isodesk-gui`` scripts call.
"""

import sys

from isodesk.cli import main

if __name__ == "__main__":
    sys.exit(main())
