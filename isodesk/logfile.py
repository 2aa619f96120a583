"""The log file: a rotating file in the user log directory, named in Help → About and the README.

``start_logging()`` sends the ``isodesk`` loggers (desk, store, feed, ui, venues) at INFO and
above to ``<user log dir>/isodesk.log`` (rotated at 1 MB, 5 files kept), once per process. A
folder that cannot be written leaves logging to stderr and says so on stderr once.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

import platformdirs

from isodesk.paths import APP_NAME

MAX_BYTES = 1_000_000
BACKUPS = 5
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
_started: Path | None = None


def log_path() -> Path:
    """Where the log file is written: ``$ISODESK_LOG_FILE`` when set (tests), else ``isodesk.log`` in
    the per-user log directory."""
    chosen = os.environ.get("ISODESK_LOG_FILE")
    if chosen:
        return Path(chosen)
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)) / "isodesk.log"


def start_logging(path: Path | None = None) -> Path | None:
    """Attach the rotating log file to the ``isodesk`` logger (idempotent); the file's path, or None
    when it cannot be written."""
    global _started
    if _started is not None:
        return _started
    target = path or log_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8", delay=True)
    except OSError as exc:
        print(f"isodesk: cannot write the log file {target}: {exc.strerror or exc}; logging to stderr",
              file=sys.stderr)
        return None
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(logging.INFO)
    root = logging.getLogger("isodesk")
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    _started = target
    return target
