"""Suite-wide set-up: headless Qt before anything imports it."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The log file of commands run in-process goes to a temporary folder, never the user's own.
import tempfile

os.environ.setdefault("ISODESK_LOG_FILE", os.path.join(tempfile.mkdtemp(prefix="isodesk-test-log-"), "isodesk.log"))
