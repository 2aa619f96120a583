"""Start-up of the desktop app: environment checks, QApplication identity, logging, the window.

Order matters (QT-PRACTICES §12): faulthandler first; refuse politely when there is no display
(Qt would abort, which Python cannot catch); the QApplication is the first QObject made and the
last one destroyed.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import sys
import threading
from collections.abc import Sequence

from isodesk import __version__

log = logging.getLogger("isodesk.ui")

NO_DISPLAY = """isodesk: no display found (DISPLAY, WAYLAND_DISPLAY and QT_QPA_PLATFORM are unset).
  - on a desktop, start isodesk from a graphical session;
  - on a server, run it under a virtual screen: xvfb-run isodesk
  - or render a picture without a screen: isodesk screenshot OUT.png"""


MISSING_XCB = """isodesk: Qt's X11 platform plugin needs system libraries that are missing: {missing}.
  On Debian/Ubuntu: sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0
  (or render without a screen: isodesk screenshot OUT.png)"""

XCB_LIBRARIES = ("xcb-cursor", "xcb-icccm", "xcb-keysyms", "xkbcommon-x11")


def display_problem() -> str | None:
    """Why a window cannot open here, or None if it can (Linux only: no display, or X11 libraries missing).

    Qt aborts the process when its platform plugin cannot load, which Python cannot catch, so
    this is checked before Qt starts.
    """
    if not sys.platform.startswith("linux"):
        return None
    if os.environ.get("QT_QPA_PLATFORM") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    if not os.environ.get("DISPLAY"):
        return NO_DISPLAY
    import ctypes.util

    missing = [f"lib{name}" for name in XCB_LIBRARIES if ctypes.util.find_library(name) is None]
    return MISSING_XCB.format(missing=", ".join(missing)) if missing else None


def make_app(argv: Sequence[str] | None = None):  # -> QApplication (Qt imported lazily)
    """The QApplication with isodesk's identity, style and Qt message routing (one per process)."""
    faulthandler.enable()
    from PySide6.QtCore import QCoreApplication, QtMsgType, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(list(argv or [sys.argv[0]]))
    QCoreApplication.setOrganizationName("isodesk")
    QCoreApplication.setApplicationName("isodesk")
    QCoreApplication.setApplicationVersion(__version__)
    from isodesk.ui.identity import apply_identity

    apply_identity(app)  # display name, desktop-entry id, window icon (isodesk.ui.identity)
    app.setStyle("Fusion")
    qt_log = logging.getLogger("isodesk.qt")
    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}

    def route(kind, context, message):
        qt_log.log(levels.get(kind, logging.WARNING), "%s", message)

    if "PYTEST_CURRENT_TEST" not in os.environ:  # under pytest-qt, its own handler must see Qt messages
        qInstallMessageHandler(route)
    return app


def install_error_hooks(show) -> None:
    """Route uncaught exceptions of any thread to the log and to ``show`` (an error dialog)."""

    def hook(exc_type, exc, tb):
        log.error("uncaught exception", exc_info=(exc_type, exc, tb))
        show(f"{exc_type.__name__}: {exc}")

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
