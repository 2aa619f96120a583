"""Benchmark: the real main window offscreen, N positions, the simulated feed at a tick rate.

    python benchmarks/gui.py --json [--positions 1000] [--hz 10] [--seconds 30] [--view cards|table]
                             [--scroll NOTCHES_PER_S] [--trace MS] [--switch-ms MS]

Prints ``{"positions", "tick_hz", "seconds", "view", "latency_ms": {"median", "p99"}, "desk_step_ms", "max_stall_ms",
"p99_stall_ms", "peak_rss_mb", ...}``. Latency runs from the start of the desk step that took a
tick (in the desk thread) to the end of the shown view's next paint that shows it (milliseconds).
A stall is how late a 10 ms GUI-thread timer fires (milliseconds); start-up (building the desk
over the book, the first snapshot and its first layout, and one second after it) is not counted:
``startup_ms`` says how long the first snapshot took to reach the screen, and ``seconds`` of
steady state are measured after it. ``gui_thread_cpu_pct`` is the GUI thread's CPU time over the
steady window (a figure that a busy machine inflates less than stalls), ``gc`` the cyclic
garbage collector's passes (count and longest, ms, per generation, any thread).
``model_resets`` counts the model's resets after the first snapshot (a liquidation, an import or
a filter change should insert, remove or change rows in place).

``--scroll N`` turns the mouse wheel over the shown view N notches a second while the ticks come
(a real ``QWheelEvent`` of one notch, 120 eighths of a degree, at the middle of the viewport; the
direction turns at either end of the list), so the stalls and latencies are those of a trader
scrolling the book as it updates; adds ``scroll``: the notches sent, how many moved the view and
the distance scrolled (px for the cards, rows for the table).

``--trace MS`` adds ``stall_causes``: for each stall over MS ms, the GUI-thread calls that overlapped
it (model apply/morph/adopt/order, chart, totals, count, venues, alerts, events, pulse frames,
viewport paints) and their durations, ms; and ``new_book_apply_cpu_ms``: GUI-thread CPU of each
``model.apply`` of a new book (a liquidation step: count, median, max). ``--switch-ms`` sets the
interpreter's thread switch interval for the run (to compare).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
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
        self.latencies: list[tuple[float, float]] = []  # (monotonic s at paint end, latency ms)
        self.desk_ms: list[tuple[float, float]] = []  # (paint end, the desk's share: step start -> published, ms)
        self._measured_version = -1
        self._busy = False
        self.trace: list[tuple[str, float, float]] | None = None  # (what, start, end) with --trace

    def eventFilter(self, obj, event):
        if event.type() != QEvent.Type.Paint or self._busy:
            return False
        self._busy = True
        began = time.monotonic()
        try:
            obj.removeEventFilter(self)
            QCoreApplication.sendEvent(obj, event)  # paint now, then time its end
        finally:
            obj.installEventFilter(self)
            self._busy = False
        if self.trace is not None:
            self.trace.append(("paint", began, time.monotonic()))
        snap = self.window.model.snapshot()
        if snap is not None and snap.version != self._measured_version and snap.feed.accepted:
            self._measured_version = snap.version
            now = time.monotonic()
            self.latencies.append((now, (now - snap.step_started_at) * 1000))
            self.desk_ms.append((now, (snap.taken_at - snap.step_started_at) * 1000))
        return True


def traced(trace: list[tuple[str, float, float]], owner: object, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper that appends (label, start, end) (monotonic s) to ``trace``."""
    inner = getattr(owner, name)

    def wrapper(*args, **kwargs):
        began = time.monotonic()
        try:
            return inner(*args, **kwargs)
        finally:
            trace.append((label, began, time.monotonic()))

    setattr(owner, name, wrapper)


def stall_causes(trace: list[tuple[str, float, float]], gaps: list[tuple[float, float]], over_ms: float) -> list[dict]:
    """For each heartbeat gap (start, end, monotonic s) longer than ``over_ms`` + 10 ms: the traced
    calls that overlapped it, with their durations (ms)."""
    out = []
    for start, end in gaps:
        if (end - start) * 1000 - 10.0 <= over_ms:
            continue
        hits: dict[str, float] = {}
        for label, b, e in trace:
            if e > start and b < end:
                hits[label] = round(hits.get(label, 0.0) + (e - b) * 1000, 1)
        out.append({"stall_ms": round((end - start) * 1000 - 10.0, 1), "calls_ms": hits})
    return out


class WheelScroller:
    """Turns the mouse wheel one notch at a time over a view's viewport, down until the end of the
    list, then up until its start, and so on; counts the notches and how far the view moved."""

    def __init__(self, view):
        self.view = view
        self.direction = -1  # angleDelta y < 0: towards the end of the list
        self.sent = 0
        self.moved = 0
        self.distance = 0

    def turn(self) -> None:
        from PySide6.QtCore import QPoint, QPointF, Qt
        from PySide6.QtGui import QWheelEvent

        bar = self.view.verticalScrollBar()
        if bar.value() >= bar.maximum() and self.direction < 0:
            self.direction = 1
        elif bar.value() <= bar.minimum() and self.direction > 0:
            self.direction = -1
        viewport = self.view.viewport()
        centre = QPointF(viewport.width() / 2, viewport.height() / 2)
        event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                            QPoint(0, 120 * self.direction), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        before = bar.value()
        QCoreApplication.sendEvent(viewport, event)
        self.sent += 1
        if bar.value() != before:
            self.moved += 1
            self.distance += abs(bar.value() - before)

    def summary(self) -> dict:
        return {"notches": self.sent, "moved": self.moved, "distance": self.distance}


class GcWatch:
    """Durations of the cyclic garbage collector's passes (ms, per generation), in any thread."""

    def __init__(self):
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append((time.perf_counter() - self._started) * 1000)

    def summary(self) -> dict:
        return {f"gen{g}": {"count": len(p), "max_ms": round(max(p), 2) if p else None}
                for g, p in self.pauses.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--view", choices=("cards", "table"), default="cards")
    parser.add_argument("--trace", type=float, default=None, metavar="MS",
                        help="list the stalls over MS ms with the traced calls (model, chart, totals, alerts, "
                             "paint) that overlapped each")
    parser.add_argument("--switch-ms", type=float, default=None,
                        help="set the interpreter's thread switch interval for the run (ms; CPython's default 5)")
    parser.add_argument("--scroll", type=float, default=None, metavar="NOTCHES_PER_S",
                        help="turn the mouse wheel over the shown view this many notches a second")
    args = parser.parse_args(argv)
    tune_allocator()
    app = make_app()
    if args.switch_ms is not None:
        sys.setswitchinterval(args.switch_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="isodesk-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        make_book(db, args.positions)
        interval = 1.0 / args.hz
        config = DeskConfig(db=str(db), step_ms=max(1, round(interval * 1000)),
                            feed_factory=lambda store: SimulatedFeed(SYMBOLS, seed=3, interval_s=interval))
        trace: list[tuple[str, float, float]] = []
        if args.trace is not None:  # slots connected at construction: wrapped on the class before it
            from isodesk.ui.models import PositionsModel

            traced(trace, MainWindow, "on_events", "on_events")
            traced(trace, MainWindow, "apply_snapshot", "apply_snapshot")
            traced(trace, PositionsModel, "_advance_pulses", "pulses")
        window = MainWindow(config, settings=ui_settings(Path(tmp) / "ui.ini"), theme="light")
        window.set_view(args.view)
        window.resize(1440, 900)
        window.show()
        probe = PaintProbe(window)
        view = window.cards if args.view == "cards" else window.table
        view.viewport().installEventFilter(probe)
        gaps: list[tuple[float, float]] = []
        new_book_cpu: list[float] = []  # ms of GUI-thread CPU per apply of a new book (--trace)
        if args.trace is not None:
            probe.trace = trace
            traced(trace, window.model, "apply", "model.apply")
            inner_apply = window.model.apply

            def apply_timed(snapshot, inner=inner_apply):  # GUI-thread CPU of a new book's apply
                old = window.model.snapshot()
                c0 = time.thread_time()
                inner(snapshot)
                if old is not None and old.book is not snapshot.book:
                    new_book_cpu.append((time.thread_time() - c0) * 1000)

            window.model.apply = apply_timed
            traced(trace, window.model, "_morph", "model._morph")
            traced(trace, window.model, "_adopt", "model._adopt")
            traced(trace, window.model, "_compute_order", "model._compute_order")
            traced(trace, window.chart, "apply", "chart.apply")
            traced(trace, window, "_refresh_totals", "totals")
            traced(trace, window, "_update_count", "count")
            traced(trace, window, "_refresh_venues", "venues")
            traced(trace, window.alerts, "add_events", "alerts.add_events")
        resets = [0]
        window.model.modelAboutToBeReset.connect(
            lambda: resets.__setitem__(0, resets[0] + (window.model.snapshot() is not None)))
        stalls: list[float] = []
        last = [time.monotonic()]
        launched = time.monotonic()
        first_applied: list[float] = []

        cpu: list[float] = []  # GUI-thread CPU seconds at the start and the end of the steady window

        def on_first(_version: int) -> None:
            if not first_applied:
                first_applied.append(time.monotonic())
                QTimer.singleShot(1000, lambda: cpu.append(time.thread_time()))
                QTimer.singleShot(int((args.seconds + 1.0) * 1000), app.quit)

        window.snapshot_applied.connect(on_first)

        def beat() -> None:
            now = time.monotonic()
            if first_applied and now - first_applied[0] > 1.0:
                stalls.append(max(0.0, (now - last[0]) * 1000 - 10.0))
                if args.trace is not None:
                    gaps.append((last[0], now))
            last[0] = now

        gc_watch = GcWatch()
        gc.callbacks.append(gc_watch)
        heartbeat = QTimer()
        heartbeat.setInterval(10)
        heartbeat.timeout.connect(beat)
        heartbeat.start()
        wheel = WheelScroller(view) if args.scroll else None
        wheel_timer = QTimer()
        if wheel is not None:
            wheel_timer.setInterval(max(1, round(1000 / args.scroll)))
            wheel_timer.timeout.connect(lambda: wheel.turn() if first_applied else None)
            wheel_timer.start()
        window.start()
        QTimer.singleShot(int((args.seconds + 600) * 1000), app.quit)  # a desk that never starts
        app.exec()
        cpu.append(time.thread_time())
        heartbeat.stop()
        wheel_timer.stop()
        gc.callbacks.remove(gc_watch)
        snap = window.model.snapshot()
        dropped = window.controller.dropped_snapshots
        window.close()
    steady = first_applied[0] + 1.0 if first_applied else math.inf
    lat = sorted(ms for at, ms in probe.latencies if at > steady)
    desk = sorted(ms for at, ms in probe.desk_ms if at > steady)
    p99 = lat[min(len(lat) - 1, round(0.99 * (len(lat) - 1)))] if lat else None
    doc = {
        "positions": args.positions, "tick_hz": args.hz, "seconds": args.seconds, "view": args.view,
        "latency_ms": {"median": round(statistics.median(lat), 2) if lat else None,
                       "p99": round(p99, 2) if p99 is not None else None, "samples": len(lat)},
        # the desk thread's part of that latency (its step, from start to the snapshot published)
        "desk_step_ms": {"median": round(statistics.median(desk), 2) if desk else None,
                         "p99": round(desk[min(len(desk) - 1, round(0.99 * (len(desk) - 1)))], 2) if desk else None},
        "switch_interval_ms": round(sys.getswitchinterval() * 1000, 3),
        "max_stall_ms": round(max(stalls), 2) if stalls else None,
        "p99_stall_ms": round(sorted(stalls)[int(0.99 * (len(stalls) - 1))], 2) if stalls else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "snapshots_dropped": dropped, "last_version": snap.version if snap else None,
        "ticks_accepted": snap.feed.accepted if snap else None, "model_resets": resets[0],
        "gc": gc_watch.summary(),
        "gui_thread_cpu_pct": round(100 * (cpu[-1] - cpu[0]) / args.seconds, 1) if len(cpu) == 2 else None,
        "startup_ms": round((first_applied[0] - launched) * 1000, 1) if first_applied else None,
    }
    if wheel is not None:
        doc["scroll"] = {"notches_per_s": args.scroll, **wheel.summary()}
    if args.trace is not None:
        doc["stall_causes"] = stall_causes(trace, gaps, args.trace)
        doc["new_book_apply_cpu_ms"] = {"count": len(new_book_cpu),
                                        "median": round(statistics.median(new_book_cpu), 2) if new_book_cpu else None,
                                        "max": round(max(new_book_cpu), 2) if new_book_cpu else None}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
