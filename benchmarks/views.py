"""View benchmark: ``PositionsModel.apply`` and a card-grid / table repaint per snapshot, at N positions.

Runs offscreen on a synthetic book (benchmarks/bookgen.py) driven by a real Desk with scripted
ticks; prints JSON: per N, median and p95 milliseconds of apply alone and of apply + repaint, of a
reorder (apply of a snapshot whose risk order moved, until the card grid's next paint ends), and
the cost of painting one card (``CardDelegate.paint`` onto an image, averaged over 200 rows).

    python benchmarks/views.py --positions 1000 10000 --frames 60
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bookgen import SYMBOLS, make_book
from isodesk.desk import Desk
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedHealth, Tick
from isodesk.store import Store


class _Feed:
    clock_from_ticks = False
    writes_prices_table = True
    name = "bench"

    def __init__(self):
        self.pending: list[Tick] = []

    def poll(self, now):
        ticks, self.pending = self.pending, []
        return ticks

    def health(self, now):
        return FeedHealth(source="bench", connected=True, last_tick_ts=None, last_tick_age_s=None, accepted=0,
                          rejected=0, rejected_by_reason={}, last_error=None, finished=False)

    def close(self):
        pass


def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    p95 = xs[int(0.95 * (len(xs) - 1))]
    return {"median_ms": round(statistics.median(xs) * 1000, 3), "p95_ms": round(p95 * 1000, 3)}


def run(n: int, frames: int, app) -> dict:
    from isodesk.ui.models import PositionsModel
    from isodesk.ui.theme import apply_theme
    from isodesk.ui.views import CardView, PositionsTable

    theme = apply_theme(app, "light")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        make_book(path, n)
        feed = _Feed()
        desk = Desk(Store.open(path), feed, catalog=shipped_catalog())
        model = PositionsModel()
        cards, table = CardView(model, theme=theme), PositionsTable(model, theme=theme)
        for view in (cards, table):
            view.resize(1060, 900)
            view.show()
        t0 = time.perf_counter()
        model.apply(desk.snapshot)
        app.processEvents()
        build = time.perf_counter() - t0
        apply_times, card_times, table_times = [], [], []
        cpu_apply, cpu_card, cpu_table = [], [], []
        for i in range(frames):
            now = time.time()
            for j, (symbol, price) in enumerate(SYMBOLS.items()):
                feed.pending.append(Tick(symbol=symbol, ts=now, price=price * (1 + 0.002 * ((i + j) % 7 - 3))))
            snap = desk.step(now)
            t0, c0 = time.perf_counter(), time.thread_time()
            model.apply(snap)
            t1, c1 = time.perf_counter(), time.thread_time()
            cards.viewport().repaint()
            t2, c2 = time.perf_counter(), time.thread_time()
            table.viewport().repaint()
            t3, c3 = time.perf_counter(), time.thread_time()
            app.processEvents()
            apply_times.append(t1 - t0)
            card_times.append(t2 - t0)
            table_times.append(t3 - t2 + (t1 - t0))
            cpu_apply.append(c1 - c0)
            cpu_card.append(c2 - c0)
            cpu_table.append(c3 - c2 + (c1 - c0))
        transitions = _transitions(app, model, cards, table, desk, feed)
        table.hide()
        reorder_times = _reorders(app, model, cards, desk.snapshot, frames)
        card_paint = _card_paint(cards, model)
        desk.close()
        cards.close()
        table.close()
    return {"positions": n, "frames": frames, "build_ms": round(build * 1000, 3), "apply": _stats(apply_times),
            "apply_and_card_repaint": _stats(card_times), "apply_and_table_repaint": _stats(table_times),
            "cpu_apply": _stats(cpu_apply), "cpu_apply_and_card_repaint": _stats(cpu_card),
            "cpu_apply_and_table_repaint": _stats(cpu_table), "transitions_cpu_ms": transitions,
            "reorder_to_card_paint": _stats(reorder_times), "card_paint": _stats(card_paint)}


def _transitions(app, model, cards, table, desk, feed) -> dict[str, float]:
    """GUI-thread CPU ms (``time.thread_time``) of a book change (a position closed: a new book
    with one row fewer shown) and of a text filter on and off, each until both views have
    repainted and the events they posted (layouts) are processed; and whether the model reset."""
    from decimal import Decimal

    from isodesk.desk.commands import ClosePosition

    resets = []
    model.modelAboutToBeReset.connect(lambda: resets.append(1))

    def timed(fn) -> float:
        c0 = time.thread_time()
        fn()
        cards.viewport().repaint()
        table.viewport().repaint()
        for _ in range(20):
            app.processEvents()
        return round((time.thread_time() - c0) * 1000, 2)

    out: dict[str, float] = {}
    pid = int(desk.snapshot.book.position_ids[len(desk.snapshot) // 2])
    result = desk.apply(ClosePosition(pid, price=Decimal(repr(float(desk.snapshot.cols["entry_price"][
        len(desk.snapshot) // 2])))))
    out["close_one_ms"] = timed(lambda: model.apply(desk.snapshot)) if result.accepted else float("nan")
    out["filter_on_ms"] = timed(lambda: model.set_filter(text="btc"))
    out["filter_off_ms"] = timed(lambda: model.set_filter())
    out["resets"] = float(len(resets))
    return out


def _reorders(app, model, cards, snap, frames: int) -> list[float]:
    """Seconds from ``apply`` of a snapshot whose risk order moved to the end of the cards' next paint."""
    import numpy as np
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        painted = 0

        def eventFilter(self, obj, event):
            if event.type() == QEvent.Type.Paint:
                self.painted += 1
            return False

    counter = PaintCounter()
    cards.viewport().installEventFilter(counter)
    order = np.asarray(snap.order_by_risk)
    times = []
    for i in range(frames):
        moved = dataclasses.replace(snap, order_by_risk=np.roll(order, 7 * (i + 1)), version=snap.version + i + 1)
        app.processEvents()
        seen = counter.painted
        model._last_reorder_ms = -(10**9)  # reorders are rate-limited by reorder_ms; not here
        t0 = time.perf_counter()
        model.apply(moved)
        while counter.painted == seen and time.perf_counter() - t0 < 2.0:
            app.processEvents()
        times.append(time.perf_counter() - t0)
    cards.viewport().removeEventFilter(counter)
    return times


def _card_paint(cards, model, rows: int = 200, repeats: int = 5) -> list[float]:
    """Seconds per card of ``CardDelegate.paint`` onto an image (one sample per pass over ``rows`` cards)."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

    from isodesk.ui.delegates import CARD_SIZE

    w, h = CARD_SIZE.width(), CARD_SIZE.height()
    image = QImage(w * 4, h * 4, QImage.Format.Format_ARGB32_Premultiplied)
    option = QStyleOptionViewItem()
    option.widget = cards
    option.palette = cards.palette()
    option.state = QStyle.StateFlag.State_Enabled
    rows = min(rows, model.rowCount())
    samples = []
    for _ in range(repeats):
        painter = QPainter(image)
        t0 = time.perf_counter()
        for r in range(rows):
            option.rect = QRect((r % 4) * w, (r // 4 % 4) * h, w, h)
            cards.delegate.paint(painter, option, model.index(r, 0))
        samples.append((time.perf_counter() - t0) / max(rows, 1))
        painter.end()
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    results = [run(n, args.frames, app) for n in args.positions]
    print(json.dumps({"benchmark": "views", "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
