"""Headless rendering of the main window for ``isodesk screenshot`` (QT-PRACTICES §8.6)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer

from isodesk.desk.session import DeskConfig
from isodesk.ui.app import make_app
from isodesk.ui.mainwindow import MainWindow, ui_settings


def _wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def render(config: DeskConfig, out: str | Path, *, size: tuple[int, int] = (1440, 900), after_s: float = 3.0,
           theme: str = "light", view: str = "cards") -> tuple[int, int]:
    """Run the app offscreen for ``after_s`` seconds of feed, then save the window as PNG; returns its size."""
    make_app()
    with tempfile.TemporaryDirectory(prefix="isodesk-shot-") as tmp:
        window = MainWindow(config, settings=ui_settings(Path(tmp) / "ui.ini"), theme=theme)
        try:
            window.resize(*size)
            window.set_view(view)
            window.show()
            window.start()
            deadline = max(after_s, 0.0) * 1000
            waited = 0
            while window.model.snapshot() is None and waited < 10_000:  # the first snapshot, whatever --after says
                _wait(50)
                waited += 50
            if window.model.snapshot() is None:
                raise RuntimeError("the desk published nothing within 10 s; see the log")
            _wait(int(deadline))
            image = window.grab().toImage()
            if not image.save(str(out), "PNG"):
                raise RuntimeError(f"{out}: could not write the PNG")
            return image.width(), image.height()
        finally:
            window.close()
