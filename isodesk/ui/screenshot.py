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
           theme: str = "light", view: str = "cards", workspace: str = "live",
           shock_pct: float | None = None) -> tuple[int, int]:
    """Run the app offscreen for ``after_s`` seconds of feed, then save the window as PNG; returns its size.

    ``workspace``: ``live`` or ``whatif`` (the What-if page, once it shows the desk's outcome);
    ``shock_pct``: a market shock (percent) set on the What-if page before the picture.
    """
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
            if workspace == "whatif":
                _show_whatif(window, shock_pct)
            image = window.grab().toImage()
            if not image.save(str(out), "PNG"):
                raise RuntimeError(f"{out}: could not write the PNG")
            return image.width(), image.height()
        finally:
            window.close()


def _show_whatif(window: MainWindow, shock_pct: float | None) -> None:
    """Switch to the What-if page and wait (10 s at most) until it shows the outcome of its scenario."""
    page = window.whatif
    window.set_workspace("whatif")

    def settled() -> bool:
        return (not page.busy and page.outcome is not None and page.outcome.scenario == page.scenario())

    for step in range(2):
        if step == 1 and shock_pct is not None:
            page.market_spin.setValue(float(shock_pct))
        waited = 0
        while not settled() and waited < 10_000:
            _wait(50)
            waited += 50
        if not settled():
            raise RuntimeError("the What-if page showed no outcome within 10 s; see the log")
    _wait(100)  # one more paint
