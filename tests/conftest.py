"""Suite-wide set-up: headless Qt before anything imports it."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The log file of commands run in-process goes to a temporary folder, never the user's own, and the
# folder goes with the test process.
import atexit
import shutil
import tempfile

if "ISODESK_LOG_FILE" not in os.environ:
    _log_folder = tempfile.mkdtemp(prefix="isodesk-test-log-")
    atexit.register(shutil.rmtree, _log_folder, ignore_errors=True)
    os.environ["ISODESK_LOG_FILE"] = os.path.join(_log_folder, "isodesk.log")
