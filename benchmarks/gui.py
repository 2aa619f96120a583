"""Benchmark: the real main window offscreen, N positions, the simulated feed at a tick rate.

    python benchmarks/gui.py --json [--positions 1000] [--hz 10] [--seconds 30]

Prints ``{"positions", "tick_hz", "seconds", "latency_ms": {"median", "p99"}, "max_stall_ms",
"peak_rss_mb", ...}``. Latency runs from the start of the desk step that took a tick (in the desk
thread) to the end of the card view's next paint that shows it. A stall is how late a 10 ms
GUI-thread timer fires; the first second (start-up, first layout) is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bookgen import SYMBOLS, make_book
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

from isodesk.desk.session import DeskConfig
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.runtime import tune_allocator
from isodesk.ui.app import make_app
from isodesk.ui.mainwindow import MainWindow, ui_settings


class PaintProbe(QObject):
    """Times the end of each paint of a viewport and pairs it with the snapshot on screen."""

    def __init__(self, window: MainWindow):
        super().__init__()
        self.window = window
        self.latencies: list[float] = []
        self._measured_version = -1
        self._busy = False

    def eventFilter(self, obj, event):
        if event.type() != QEvent.Type.Paint or self._busy:
            return False
        self._busy = True
        try:
            obj.removeEventFilter(self)
            QCoreApplication.sendEvent(obj, event)  # paint now, then time its end
        finally:
            obj.installEventFilter(self)
            self._busy = False
        snap = self.window.model.snapshot()
        if snap is not None and snap.version != self._measured_version and snap.feed.accepted:
            self._measured_version = snap.version
            self.latencies.append((time.monotonic() - snap.step_started_at) * 1000)
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    tune_allocator()
    app = make_app()
    with tempfile.TemporaryDirectory(prefix="isodesk-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        make_book(db, args.positions)
        interval = 1.0 / args.hz
        config = DeskConfig(db=str(db), step_ms=max(1, round(interval * 1000)),
                            feed_factory=lambda store: SimulatedFeed(SYMBOLS, seed=3, interval_s=interval))
        window = MainWindow(config, settings=ui_settings(Path(tmp) / "ui.ini"), theme="light")
        window.resize(1440, 900)
        window.show()
        probe = PaintProbe(window)
        window.cards.viewport().installEventFilter(probe)
        stalls: list[float] = []
        last = [time.monotonic()]
        started = time.monotonic()

        def beat() -> None:
            now = time.monotonic()
            if now - started > 1.0:
                stalls.append(max(0.0, (now - last[0]) * 1000 - 10.0))
            last[0] = now

        heartbeat = QTimer()
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(beat)
        heartbeat.start()
        window.start()
        QTimer.singleShot(int(args.seconds * 1000), app.quit)
        app.exec()
        heartbeat.stop()
        snap = window.model.snapshot()
        dropped = window.controller.dropped_snapshots
        window.close()
    lat = sorted(probe.latencies)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] if lat else None
    doc = {
        "positions": args.positions, "tick_hz": args.hz, "seconds": args.seconds,
        "latency_ms": {"median": round(statistics.median(lat), 2) if lat else None,
                       "p99": round(p99, 2) if p99 is not None else None, "samples": len(lat)},
        "max_stall_ms": round(max(stalls), 2) if stalls else None,
        "p99_stall_ms": round(sorted(stalls)[int(0.99 * (len(stalls) - 1))], 2) if stalls else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "snapshots_dropped": dropped, "last_version": snap.version if snap else None,
        "ticks_accepted": snap.feed.accepted if snap else None,
    }
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
