"""Python's cyclic garbage collector, run in the GUI thread only.

Python collects reference cycles in whichever thread happens to allocate when a generation's
threshold is passed. Once the desk runs in its own thread, that can be the desk thread: a cycle
holding a Qt widget (a closed dialog, a window being replaced) is then destroyed there, and a
``QWidget`` destroyed outside the GUI thread brings the process down later (a segmentation fault in
the GUI thread's event loop, seen in the GUI tests while a desk thread was starting). pyqtgraph
does the same for the same reason (``pyqtgraph/util/garbage_collector.py``): switch automatic
collection off and collect from a GUI-thread timer, generation by generation, with the thresholds
the interpreter had. Reference counting still frees everything that is not in a cycle at once.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """Collects cycles every :data:`INTERVAL_MS` ms, in the GUI thread, when the counts call for it
    (the interpreter's own thresholds); automatic collection is off while it lives."""

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.setObjectName("gui-thread-gc")
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start()
        self.destroyed.connect(gc.enable)

    def check(self) -> int:
        """Collect the generations whose allocation count passed the threshold; objects freed."""
        count0, count1, count2 = gc.get_count()
        t0, t1, t2 = self.thresholds
        if count0 <= t0:
            return 0
        generation = 2 if (count1 > t1 and count2 > t2) else 1 if count1 > t1 else 0
        return gc.collect(generation)


def install_gui_collector() -> GuiThreadCollector | None:
    """The application's collector, created once (call from the GUI thread before a desk thread
    starts); None without a QCoreApplication."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    assert QThread.currentThread() is app.thread(), "the collector belongs to the GUI thread"
    found = app.findChild(GuiThreadCollector)
    return found if found is not None else GuiThreadCollector(app)
