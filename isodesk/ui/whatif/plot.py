"""The equity-versus-shock plot of the What-if page.

It draws the desk's :class:`~isodesk.margin.scenario.GridOutcome`: account equity against a uniform
shock of every market (times its beta), isolated (solid) and cross (dashed), one curve per account
and mode, created once and fed with ``setData`` (QT-PRACTICES §6); an × where each position is
liquidated under isolated margin; a vertical line at the current market shock. Units: percent of
each account's equity now (accounts in different currencies share the axis), or money in one
chosen currency. Colours follow the theme the window passes (:meth:`EquityPlot.set_theme`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from isodesk.margin.scenario import GridOutcome, Outcome, ScenarioBook
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import MARKET_RANGE, account_colour, muted_style

PCT_UNIT = "pct"
MODES = ("isolated", "cross")


class EquityPlot(QWidget):
    """Caption, unit chooser and the pyqtgraph plot.

    Signals:
        unit_changed(str): the trader chose another unit (``pct`` or a currency).
    """

    unit_changed = Signal(str)

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("whatif-plot")
        self.theme = theme
        self.curves: dict[tuple[str, str], pg.PlotCurveItem] = {}
        self.book: ScenarioBook | None = None
        self._last: tuple[Outcome, GridOutcome] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        head = QHBoxLayout()
        self.caption = QLabel("Equity vs a uniform shock of every market (× beta): solid isolated, dashed cross; "
                              "× a position liquidated", self)
        self.caption.setWordWrap(True)
        head.addWidget(self.caption, 1)
        self.unit_combo = QComboBox(self)
        self.unit_combo.setObjectName("plot-unit")
        self.unit_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.unit_combo.addItem("% of equity now", PCT_UNIT)
        self.unit_combo.currentIndexChanged.connect(self._unit_chosen)
        head.addWidget(self.unit_combo)
        layout.addLayout(head)
        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName("equity-plot")
        self.plot.setMinimumSize(240, 160)
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "uniform shock", units="%")
        item.setLabel("left", "equity, % of now")
        item.setXRange(-MARKET_RANGE, MARKET_RANGE, padding=0.02)
        item.setMouseEnabled(x=False, y=True)
        self.zero_line = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.plot.addItem(self.zero_line, ignoreBounds=True)
        self.shock_line = pg.InfiniteLine(pos=0, angle=90, movable=False, label="market {value:+.1f} %",
                                          labelOpts={"position": 0.92, "anchors": [(0, 0.5), (0, 0.5)]})
        self.plot.addItem(self.shock_line, ignoreBounds=True)
        self.markers = pg.ScatterPlotItem(size=11, symbol="x")
        self.markers.setZValue(10)
        self.plot.addItem(self.markers)
        layout.addWidget(self.plot, 1)
        self.set_theme(theme)

    # -- theme ------------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        """Background, axes, lines, markers and curves in ``theme``'s colours."""
        self.theme = t = theme
        self.plot.setBackground(t.chart_bg)
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(t.pen("axis"))
            axis.setTextPen(pg.mkPen(t.text))
        self.zero_line.setPen(pg.mkPen(t.chart_fg, width=1, style=Qt.PenStyle.DotLine))
        self.shock_line.setPen(t.pen("mark", 1.5))
        self.shock_line.label.setColor(t.mark_line)
        self.markers.setPen(pg.mkPen(t.danger, width=2))
        self.markers.setBrush(pg.mkBrush(t.danger))
        self.caption.setStyleSheet(muted_style(t))
        for (name, mode), curve in self.curves.items():
            assert self.book is not None
            curve.setPen(self._pen(self.book.accounts.index(name), mode))

    def _pen(self, a: int, mode: str) -> pg.QtGui.QPen:
        style = Qt.PenStyle.SolidLine if mode == "isolated" else Qt.PenStyle.DashLine
        return pg.mkPen(account_colour(self.theme, a), width=2, style=style)

    # -- data -------------------------------------------------------------------------------------

    def set_book(self, book: ScenarioBook) -> None:
        """One curve per account and mode (kept while the accounts stay); a unit per currency."""
        self.book = book
        wanted = [(name, mode) for name in book.accounts for mode in MODES]
        if list(self.curves) != wanted:
            for curve in self.curves.values():
                self.plot.removeItem(curve)
            self.curves = {}
            for a, name in enumerate(book.accounts):
                for mode in MODES:
                    curve = pg.PlotCurveItem(pen=self._pen(a, mode), name=f"{name} {mode}")
                    self.plot.addItem(curve)
                    self.curves[(name, mode)] = curve
        unit = self.unit()
        self.unit_combo.blockSignals(True)
        self.unit_combo.clear()
        self.unit_combo.addItem("% of equity now", PCT_UNIT)
        for c in dict.fromkeys(book.currencies):
            self.unit_combo.addItem(c, c)
        self.unit_combo.setCurrentIndex(max(0, self.unit_combo.findData(unit)))
        self.unit_combo.blockSignals(False)

    def unit(self) -> str:
        """``pct`` or the chosen currency."""
        return str(self.unit_combo.currentData() or PCT_UNIT)

    def set_unit(self, unit: str) -> None:
        """Choose the unit (``pct`` or a currency of the book)."""
        self.unit_combo.setCurrentIndex(max(0, self.unit_combo.findData(unit)))

    @Slot(int)
    def _unit_chosen(self, _index: int) -> None:
        if self._last is not None:
            self.show_outcome(*self._last)
        self.unit_changed.emit(self.unit())

    def show_outcome(self, outcome: Outcome, grid: GridOutcome) -> None:
        """Curves and liquidation markers of ``grid`` in the chosen unit."""
        self._last = (outcome, grid)
        book = outcome.book
        if self.book is None or list(self.curves) != [(n, m) for n in book.accounts for m in MODES]:
            self.set_book(book)
        unit = self.unit()
        scale = np.ones(len(book.accounts))
        item = self.plot.getPlotItem()
        if unit == PCT_UNIT:
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(outcome.equity_now > 0, 100.0 / outcome.equity_now, np.nan)
            item.setLabel("left", "equity, % of now")
        else:
            item.setLabel("left", f"equity ({unit})")
        x = np.asarray(grid.shocks)
        for a, name in enumerate(book.accounts):
            visible = unit == PCT_UNIT or book.currencies[a] == unit
            for mode, values in (("isolated", grid.isolated_equity), ("cross", grid.cross_equity)):
                curve = self.curves[(name, mode)]
                curve.setData(x, values[:, a] * scale[a])
                curve.setVisible(visible)
        sx: list[np.ndarray] = []
        sy: list[np.ndarray] = []
        labels: list[str] = []
        shocks = np.asarray(grid.liquidation_shock)
        if len(x):
            inside = np.isfinite(shocks) & (shocks >= x[0]) & (shocks <= x[-1])
            for a in range(len(book.accounts)):
                if unit != PCT_UNIT and book.currencies[a] != unit:
                    continue
                rows = np.flatnonzero(inside & (book.account_index == a))
                if rows.size:
                    sx.append(shocks[rows])
                    sy.append(np.interp(shocks[rows], x, grid.isolated_equity[:, a]) * scale[a])
                    labels.extend(book.labels[r] for r in rows)
        if sx:
            self.markers.setData(x=np.concatenate(sx), y=np.concatenate(sy), data=labels)
        else:
            self.markers.setData([])
        item.enableAutoRange(axis="y")

    def set_line(self, shock_pct: float) -> None:
        """Move the vertical line to the market shock now shown (percent)."""
        self.shock_line.setValue(shock_pct)

    def marker_positions(self) -> list[tuple[float, float, str]]:
        """The liquidation markers now drawn: (shock %, y, position label)."""
        return [(float(p.pos().x()), float(p.pos().y()), p.data()) for p in self.markers.points()]
