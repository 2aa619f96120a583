"""The price chart of the selected position: mark history with entry, liquidation and bankruptcy lines.

One pyqtgraph ``PlotWidget`` whose items are created once (QT-PRACTICES §6). The GUI keeps a
fixed-size ring buffer of marks per price series ``(venue, market)``, filled from snapshots (a
series' mark is appended when its ``mark_ts`` advances); the curve is fed views of the selected
position's series, so a Hyperliquid position's curve never steps to Binance's marks. The zone
past the liquidation price (towards and beyond bankruptcy) is shaded.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

from isodesk.desk.snapshot import Snapshot
from isodesk.margin.markets import PriceKey, series_of
from isodesk.ui.columns import fmt_price
from isodesk.ui.theme import Theme, light_theme

RING_SIZE = 20_000
REFRESH_MS = 250
MIN_SPAN_S = 30.0


class RingBuffer:
    """The last ``capacity`` (ts, price) points, readable as one contiguous view without copying.

    Every point is written twice (at ``i`` and ``i + capacity``), so the newest ``n`` points are
    always the contiguous slice ``[i + capacity − n, i + capacity)``.
    """

    def __init__(self, capacity: int = RING_SIZE):
        self.capacity = capacity
        self._ts = np.zeros(2 * capacity, dtype=np.float64)
        self._price = np.zeros(2 * capacity, dtype=np.float64)
        self._next = 0
        self.count = 0
        self.last_ts = -math.inf

    def append(self, ts: float, price: float) -> None:
        """Add one point (callers append in time order)."""
        i = self._next
        self._ts[i] = self._ts[i + self.capacity] = ts
        self._price[i] = self._price[i + self.capacity] = price
        self._next = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        self.last_ts = ts

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """Read-only views (ts, price) of the points held, oldest first."""
        end = self._next + self.capacity
        ts, price = self._ts[end - self.count:end], self._price[end - self.count:end]
        ts.flags.writeable = False
        price.flags.writeable = False
        return ts, price


class ChartWidget(QWidget):
    """Mark price of the selected position's market with its entry, liquidation and bankruptcy lines.

    Updates are coalesced: :meth:`apply` marks the chart dirty and a single-shot timer redraws at
    most every ``REFRESH_MS`` (only while visible); :meth:`refresh` redraws at once.
    """

    def __init__(self, parent=None, theme: Theme | None = None, *, capacity: int = RING_SIZE):
        super().__init__(parent)
        self.setObjectName("chart")
        self._capacity = capacity
        self._theme = theme or light_theme()
        self._buffers: dict[PriceKey, RingBuffer] = {}
        self._markets: tuple[str, ...] = ()
        self._market_rows: dict[PriceKey, np.ndarray] = {}
        self._indexed: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # (venues, symbols) indexed
        self._book = None
        self._snap: Snapshot | None = None
        self._position_id: int | None = None
        self._dirty = False
        self._title = ""
        self.plot = pg.PlotWidget(self, axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setObjectName("chart-plot")
        self.plot.setMenuEnabled(False)
        # no grid: pyqtgraph paints it through the axes picture, ~50 ms a frame at 1400 px (measured)
        self.plot.showGrid(x=False, y=False)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setLabel("left", "price")
        item.getAxis("left").enableAutoSIPrefix(False)  # plain prices, never "price (x0.001)"
        self.curve = self.plot.plot([], [], name="mark")
        self.curve.setClipToView(True)
        self.curve.setDownsampling(auto=True, method="peak")
        self.zone = pg.LinearRegionItem(values=(0, 1), orientation="horizontal", movable=False)
        self.zone.setZValue(-10)
        for line in self.zone.lines:
            line.setPen(pg.mkPen(None))
        self.plot.addItem(self.zone, ignoreBounds=True)
        self.lines: dict[str, pg.InfiniteLine] = {}
        for key, label in (("entry", "entry {value:,.6g}"), ("liquidation", "liq {value:,.6g}"),
                           ("bankruptcy", "bankruptcy {value:,.6g}")):
            where = {"entry": 0.94, "liquidation": 0.04, "bankruptcy": 0.22}[key]
            ax = {"entry": 1, "liquidation": 0, "bankruptcy": 0}[key]
            # pyqtgraph picks the first anchor for a line above the view's centre (label hangs below
            # it), the second for one below (label sits on it): a label never leaves the plot
            line = pg.InfiniteLine(pos=0, angle=0, movable=False, label=label,
                                   labelOpts={"position": where, "anchors": [(ax, 0), (ax, 1)]})
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
            self.lines[key] = line
        self.zone.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setObjectName("chart-refresh")
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.timeout.connect(self.refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.set_theme(self._theme)

    # -- public ----------------------------------------------------------------------------------------

    def position_id(self) -> int | None:
        """The position shown, or None."""
        return self._position_id

    def market(self) -> str | None:
        """The market (``BASEUSDT``) of the position shown, or None."""
        key = self.series()
        return None if key is None else key[1]

    def series(self) -> PriceKey | None:
        """The price series ``(venue, market)`` of the position shown, or None: the chart draws the
        marks of that position's venue, never another venue's of the same market."""
        snap, pid = self._snap, self._position_id
        if snap is None or pid is None:
            return None
        row = snap.book.row_of(pid)
        return None if row is None else series_of(snap.book.venues[row], snap.book.symbols[row])

    def buffer(self, market: str | PriceKey) -> RingBuffer | None:
        """The ring buffer of a series ``(venue, market)`` (a bare market name: the only series of it,
        if just one), or None if no mark was seen for it."""
        if isinstance(market, tuple):
            return self._buffers.get(market)
        found = [b for (_, m), b in self._buffers.items() if m == market]
        return found[0] if len(found) == 1 else None

    def apply(self, snapshot: Snapshot) -> None:
        """Append each market's mark whose timestamp advanced; schedule a redraw."""
        if snapshot.book is not self._book:
            self._book = snapshot.book
            self._index_markets(snapshot)
        self._snap = snapshot
        mark, mark_ts = snapshot.cols["mark"], snapshot.cols["mark_ts"]
        for market, rows in self._market_rows.items():
            ts = mark_ts[rows]
            if not ts.size or np.all(np.isnan(ts)):
                continue
            j = int(np.nanargmax(ts))
            t, price = float(ts[j]), float(mark[rows[j]])
            buf = self._buffers.get(market)
            if buf is None:
                buf = self._buffers[market] = RingBuffer(self._capacity)
            if t > buf.last_ts and math.isfinite(price):
                buf.append(t, price)
        self._dirty = True
        if not self._timer.isActive() and self.isVisible():  # a hidden chart redraws when shown
            self._timer.start()

    def show_position(self, position_id: int | None) -> None:
        """Show a position's market and its price lines (None clears the chart)."""
        self._position_id = position_id
        self.refresh()

    def refresh(self) -> None:
        """Redraw now from the latest snapshot."""
        self._dirty = False
        snap, pid = self._snap, self._position_id
        row = snap.book.row_of(pid) if snap is not None and pid is not None else None
        if row is None:
            self.curve.setData([], [])
            for line in self.lines.values():
                line.setVisible(False)
            self.zone.setVisible(False)
            self.plot.setTitle("")
            self._title = ""
            return
        buf = self._buffers.get(series_of(snap.book.venues[row], snap.book.symbols[row]))
        ts, price = buf.view() if buf is not None else (np.zeros(0), np.zeros(0))
        self.curve.setData(ts, price, skipFiniteCheck=True)
        cols = snap.cols
        values = {"entry": float(cols["entry_price"][row]), "liquidation": float(cols["liquidation_price"][row]),
                  "bankruptcy": float(cols["bankruptcy_price"][row])}
        for key, value in values.items():
            line = self.lines[key]
            if math.isfinite(value):
                line.setVisible(True)  # first: a hidden line's label ignores value changes
                line.setValue(value)
                line.label.valueChanged()
            else:
                line.setVisible(False)
        self._set_range(ts, price, values, float(cols["mark"][row]))
        self._set_zone(values)
        t = self._theme
        side = snap.book.sides[row].upper()
        title = (f"<b>{snap.book.labels[row]}</b> · {snap.book.symbols[row]} · {snap.book.venues[row]} · "
                 f"{side} · mark {fmt_price(float(cols['mark'][row]))}")
        if title != self._title:  # a title change re-lays out the whole plot item
            self._title = title
            self.plot.setTitle(title, color=t.chart_fg.name(), size="9pt")

    def showEvent(self, event) -> None:
        """Catch up on what arrived while hidden."""
        super().showEvent(event)
        if self._dirty:
            self._timer.start()

    def set_theme(self, theme: Theme) -> None:
        """Colours of the background, axes, curve, lines and zone."""
        self._title = ""
        self._theme = t = theme
        self.plot.setBackground(t.chart_bg)
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(t.pen("axis"))
            axis.setTextPen(t.pen("axis"))
        self.curve.setPen(t.pen("mark", 1.5))
        styles = {"entry": (t.pen("entry", 1, Qt.PenStyle.DashLine), t.entry_line),
                  "liquidation": (t.pen("liquidation", 1.5), t.danger),
                  "bankruptcy": (t.pen("bankruptcy", 1, Qt.PenStyle.DotLine), t.stamp)}
        for key, (pen, colour) in styles.items():
            line = self.lines[key]
            line.setPen(pen)
            line.label.setColor(colour)
        fill = pg.mkColor(t.danger)
        fill.setAlpha(40 if not t.dark else 55)
        self.zone.setBrush(pg.mkBrush(fill))
        if self._snap is not None:
            self.refresh()

    # -- internals --------------------------------------------------------------------------------------

    def _index_markets(self, snap: Snapshot) -> None:
        """The rows of each price series of a new book. A liquidation makes a new book with the same
        venues and symbols: then the index stands (at 10,000 positions, remaking it cost ~100 ms
        of the GUI thread per liquidation)."""
        book = snap.book
        if self._indexed == (book.venues, book.symbols):
            return
        self._indexed = (book.venues, book.symbols)
        keys: dict[tuple[str, str], PriceKey] = {}  # series_of once per (venue, symbol), not per position
        rows: dict[PriceKey, list[int]] = {}
        for i, pair in enumerate(zip(book.venues, book.symbols, strict=True)):
            key = keys.get(pair)
            if key is None:
                key = keys[pair] = series_of(*pair)
            rows.setdefault(key, []).append(i)
        self._market_rows = {key: np.asarray(r, dtype=np.intp) for key, r in rows.items()}

    def _set_range(self, ts: np.ndarray, price: np.ndarray, values: dict[str, float], mark: float) -> None:
        ys = [v for v in (*values.values(), mark) if math.isfinite(v)]
        if price.size:
            ys += [float(np.min(price)), float(np.max(price))]
        if not ys:
            return
        lo, hi = min(ys), max(ys)
        if hi - lo < 1e-12:
            pad = abs(hi) * 0.01 or 1.0
            lo, hi = lo - pad, hi + pad
        self.plot.setYRange(lo, hi, padding=0.08)
        if ts.size > 1:
            # at least 30 s wide: the time axis then reads HH:MM:SS, not seconds and milliseconds
            start = min(float(ts[0]), float(ts[-1]) - MIN_SPAN_S)
            self.plot.setXRange(start, float(ts[-1]), padding=0.02)

    def _set_zone(self, values: dict[str, float]) -> None:
        liq, bk = values["liquidation"], values["bankruptcy"]
        if not (math.isfinite(liq) and math.isfinite(bk)) or liq == bk:
            self.zone.setVisible(False)
            return
        beyond = bk + (bk - liq) * 1e4  # shade past bankruptcy as well: the item is clipped to the view
        self.zone.setRegion((min(liq, beyond), max(liq, beyond)))
        self.zone.setVisible(True)
