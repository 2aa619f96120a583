"""The application's identity on the desktop: name, icon and desktop-entry id (QT-PRACTICES §9).

The same three things appear in the window title bar, the task bar / dock, the notifications and
the applications menu: ``QGuiApplication.setApplicationDisplayName`` (shown in window titles),
``setWindowIcon`` (every window and the task bar), ``setDesktopFileName`` (Wayland's app id and
the match with ``isodesk.desktop`` written by ``isodesk install-desktop``). The icon is the
shipped ``resources/icons/isodesk.svg`` plus PNG renderings of it (16–256 px), loaded from bytes.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QGuiApplication, QIcon, QPixmap

from isodesk.paths import resource_path

APP_ID = "isodesk"  # desktop entry name, D-Bus/notification app name, X11 WM_CLASS class
DISPLAY_NAME = "isodesk"
ICON_SIZES = (16, 32, 48, 64, 128, 256)


def app_icon() -> QIcon:
    """The application icon: the SVG for any size, with the PNG renderings for exact small sizes."""
    icon = QIcon()
    for size in ICON_SIZES:
        pixmap = QPixmap()
        if pixmap.loadFromData(QByteArray(resource_path("icons", f"{APP_ID}-{size}.png").read_bytes()), "PNG"):
            icon.addPixmap(pixmap)
    svg = QPixmap()
    if svg.loadFromData(QByteArray(resource_path("icons", f"{APP_ID}.svg").read_bytes()), "SVG"):
        icon.addPixmap(svg)
    return icon


def icon_file() -> str:
    """The path of the largest shipped PNG icon (for services that take a file, e.g. notifications)."""
    return str(resource_path("icons", f"{APP_ID}-{ICON_SIZES[-1]}.png"))


def apply_identity(app: QGuiApplication) -> None:
    """Give the running application isodesk's display name, desktop-entry id and window icon, and
    tell the keyring layer that nobody can answer a terminal prompt from the app."""
    QGuiApplication.setApplicationDisplayName(DISPLAY_NAME)
    QGuiApplication.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    from isodesk.venues.keys import allow_terminal_prompts

    allow_terminal_prompts(False)
