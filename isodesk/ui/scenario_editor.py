"""The scenario editor: shock the book, edit collateral and leverage, replay a price path — on a copy.

A :class:`ScenarioEditor` is a plain ``QWidget`` (the main window puts it in a dock or a window).
Everything it shows is the desk's answer: it asks :class:`GetScenarioBook` when shown or
refreshed, turns the controls into one :class:`~isodesk.margin.scenario.Scenario` and, 150 ms
after the last edit, sends ONE :class:`RunScenario` (with the uniform grid ``GRID_DEFAULT``) through
the :class:`~isodesk.ui.worker.DeskController`; only the answer to the newest request is rendered,
older ones are dropped (QT-PRACTICES §3.2, §5.7). Editing never writes the real book: the only
commands that do are the collateral moves of *Apply collateral edits*, sent after an inline
confirmation, one :class:`AddCollateral` / :class:`RemoveCollateral` per edited position.

What the controls mean
----------------------
* **Market shock** (slider −50…+50 %, spin box to one decimal) on a reference market: every market
  without a shock of its own moves ``beta × market shock`` (the reference market moves the full
  shock). **Own shock** per market (spin box and slider): a percent of the current mark; ``0`` means
  "no own shock, follow the market". **Beta** per market: default 1.
* **Margin ±** per position: collateral added (+) or removed (−), settlement currency. **Leverage**
  per position: ``keep`` (0) or a new leverage, which resets the isolated margin to entry notional ÷
  leverage (as the venues do). Both happen before the prices move.
* **Presets**: −10 / −20 / −30 % market crash (own shocks cleared); *±16 % grid*: a path of market
  shocks −16, −12, …, +16 % (one step each, scrubbed like a replay); *Reset*.
* **Replay** (:func:`replay_path`): a ``ts,symbol,price`` CSV becomes a path scenario, one step per
  instant of the file. Each step is a **percent move** of every market the file has seen so far,
  relative to that market's **first row** in the file (``Shock.pct``), carried forward between rows:
  the path's shape is applied to the book's current marks, so a path recorded at other prices still
  means "BTC −30 % then half back". Markets the book does not hold are dropped; markets the file
  does not name stay at their marks. The scrub slider picks step ``k``: the editor evaluates the path
  up to ``k`` (positions liquidated at any step up to ``k`` stay liquidated; survivors are valued at
  ``k``).
* **Saved scenarios** live in the store (Save as / Load / Rename / Delete; names in an inline field).
  A path is saved whole and reloads scrubbed to its last step.

The plot shows the desk's :class:`GridOutcome`: account equity against a uniform shock of every
market (times its beta) from −50 % to +50 %, isolated (solid) and cross (dashed), one curve per
account and mode, created once and fed with ``setData``; markers where each position is liquidated
under isolated margin; a vertical line at the current market shock. Units: percent of each account's
equity now (accounts in different currencies share the axis), or money in one chosen currency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSignalBlocker,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.commands import AddCollateral, RemoveCollateral, Result
from isodesk.desk.scenario_jobs import (
    GRID_DEFAULT,
    DeleteScenario,
    GetScenarioBook,
    ListScenarios,
    LoadScenario,
    RenameScenario,
    RunScenario,
    SaveScenario,
)
from isodesk.feeds.base import Tick
from isodesk.feeds.replay import read_path_csv
from isodesk.margin.scenario import PCT, GridOutcome, Move, Outcome, Scenario, ScenarioBook, ScenarioError, Shock
from isodesk.paths import resource_path
from isodesk.ui.columns import DASH, fmt_leverage, fmt_money, fmt_pct, fmt_price, money_decimals
from isodesk.ui.theme import Theme, dark_theme, light_theme
from isodesk.ui.worker import DeskController

DEBOUNCE_MS = 150
CRASH_PRESETS = (-10.0, -20.0, -30.0)
GRID_PRESET = tuple(float(x) for x in range(-16, 17, 4))
"""The ±16 % grid preset: market shocks −16, −12, …, +16 % as the steps of a path."""
MARKET_RANGE = 50          # the market slider's range, percent (the plot's range too)
OWN_RANGE = (-99.0, 400.0)  # what the own-shock spin box accepts, percent
PLAY_MS = 200
GRID_NAME = "±16 % grid"
PCT_UNIT = "pct"
ACCOUNT_COLOURS = ("#0969da", "#8250df", "#1b7c83", "#bc4c00", "#bf3989", "#4d2d00", "#57606a", "#116329")
ACCOUNT_COLOURS_DARK = ("#58a6ff", "#bc8cff", "#39c5cf", "#ffa657", "#ff7ab9", "#e3b341", "#b1bac4", "#7ee787")


# -- paths ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayPath:
    """A path the scrub slider walks: ``moves[k]`` is step ``k + 1``; ``labels[k]`` describes it.

    ``times``: Unix seconds per step for a replayed file (empty for a preset); ``dropped``: markets
    of the file the book does not hold.
    """

    name: str
    moves: tuple[Move, ...]
    labels: tuple[str, ...]
    times: tuple[float, ...] = ()
    dropped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.moves)


def replay_path(ticks: Sequence[Tick], book: ScenarioBook, name: str = "path") -> ReplayPath:
    """A price path as scenario steps (see the module docstring): one step per instant of ``ticks``,
    each market's price as a percent move from its first row, carried forward; markets the book
    does not hold are dropped. :class:`ScenarioError` when nothing is left."""
    first: dict[int, float] = {}
    current: dict[int, float] = {}
    dropped: dict[str, None] = {}
    resolved: dict[str, int | None] = {}
    moves: list[Move] = []
    times: list[float] = []
    labels: list[str] = []
    ordered = sorted(ticks, key=lambda t: t.ts)
    i = 0
    while i < len(ordered):
        ts = ordered[i].ts
        while i < len(ordered) and ordered[i].ts == ts:
            tick = ordered[i]
            i += 1
            if tick.symbol not in resolved:
                try:
                    resolved[tick.symbol] = book.market(tick.symbol)
                except ScenarioError:
                    resolved[tick.symbol] = None
            j = resolved[tick.symbol]
            if j is None:
                dropped[tick.symbol] = None
                continue
            first.setdefault(j, tick.price)
            current[j] = tick.price
        if not current:
            continue
        pct = {j: (current[j] / first[j] - 1.0) * 100.0 for j in sorted(current)}
        moves.append(Move({book.markets[j]: Shock.pct(v) for j, v in pct.items()}))
        times.append(ts)
        when = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        biggest = ", ".join(f"{book.markets[j].removesuffix('USDT')} {fmt_pct(v, signed=True)}"
                            for j, v in list(pct.items())[:3])
        labels.append(f"{when} · {biggest}")
    if not moves:
        raise ScenarioError(f"{name}: none of its symbols is a market of the book "
                            f"(book: {', '.join(book.markets) or 'none'})")
    return ReplayPath(name, tuple(moves), tuple(labels), tuple(times), tuple(dropped))


def grid_path(reference: str) -> ReplayPath:
    """The ±16 % grid preset as a path of market shocks on ``reference``."""
    moves = tuple(Move(market_shock=(reference, x)) for x in GRID_PRESET)
    labels = tuple(f"market {fmt_pct(x, signed=True)} on {reference}" for x in GRID_PRESET)
    return ReplayPath(GRID_NAME, moves, labels)


def _default_theme() -> Theme:
    app = QGuiApplication.instance()
    window = app.palette().color(QPalette.ColorRole.Window) if app is not None else QColor("#ffffff")
    return dark_theme() if window.lightness() < 128 else light_theme()


# -- the result tables ------------------------------------------------------------------------------


@dataclass
class Row:
    """One table row: texts, raw values (``Qt.UserRole``, for tests and sorting), colours."""

    cells: list[str]
    raw: list[Any]
    background: QColor | None = None
    foreground: dict[int, QColor] | None = None
    bold: frozenset[int] = frozenset()
    tips: dict[int, str] | None = None


class RowsModel(QAbstractTableModel):
    """A read-only table of :class:`Row` s, replaced whole on each outcome (a few hundred rows at most)."""

    def __init__(self, headers: Sequence[str], right: set[int], font: QFont, parent: QWidget | None = None):
        super().__init__(parent)
        self.headers = list(headers)
        self.right = right
        self.rows: list[Row] = []
        self._font = QFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)

    def set_rows(self, rows: list[Row]) -> None:
        """Replace every row."""
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.TextAlignmentRole:
            right = Qt.AlignmentFlag.AlignRight if section in self.right else Qt.AlignmentFlag.AlignLeft
            return int(right | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[col]
        if role == Qt.ItemDataRole.UserRole:
            return row.raw[col]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            align = Qt.AlignmentFlag.AlignRight if col in self.right else Qt.AlignmentFlag.AlignLeft
            return int(align | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.BackgroundRole:
            return row.background
        if role == Qt.ItemDataRole.ForegroundRole:
            return (row.foreground or {}).get(col)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if col in row.bold else self._font
        if role == Qt.ItemDataRole.ToolTipRole:
            return (row.tips or {}).get(col)
        return None

    def column(self, header: str) -> int:
        """The index of a column by its header."""
        return self.headers.index(header)

    def text(self, row: int, header: str) -> str:
        """The shown text of one cell."""
        return self.rows[row].cells[self.column(header)]

    def value(self, row: int, header: str) -> Any:
        """The raw value of one cell."""
        return self.rows[row].raw[self.column(header)]


def _table_view(model: RowsModel, parent: QWidget) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(False)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(22)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return view


# -- the editor -------------------------------------------------------------------------------------


class ScenarioEditor(QWidget):
    """Edit a scenario on a copy of the book and see the isolated and the cross outcome beside it.

    Signals:
        book_loaded(object): the :class:`ScenarioBook` the editor now edits.
        outcome_shown(object): ``(Outcome, GridOutcome)`` just rendered (newest request only).
        scenarios_listed(object): the saved names (tuple of str).
        answered(object): the :class:`Result` of any other request this editor sent
            (save, load, rename, delete, a collateral move), after it was handled.
    """

    book_loaded = Signal(object)
    outcome_shown = Signal(object)
    scenarios_listed = Signal(object)
    answered = Signal(object)

    def __init__(self, controller: DeskController, parent: QWidget | None = None, *, theme: Theme | None = None):
        super().__init__(parent)
        self.setObjectName("scenario-editor")
        self.controller = controller
        self.theme = theme or _default_theme()
        self.book: ScenarioBook | None = None
        self.outcome: Outcome | None = None
        self.grid: GridOutcome | None = None
        self.path: ReplayPath | None = None
        self.saved_names: tuple[str, ...] = ()
        self._pending: dict[str, tuple[str, Any]] = {}
        self._run_id: str | None = None
        self._loading = False
        self._asked_book = False
        self._apply_plan: list[tuple[int, Decimal]] = []
        self._apply_answers: dict[str, tuple[int, Decimal]] = {}
        self._shock_spins: dict[str, QDoubleSpinBox] = {}
        self._shock_sliders: dict[str, QSlider] = {}
        self._beta_spins: dict[str, QDoubleSpinBox] = {}
        self._margin_spins: dict[int, QDoubleSpinBox] = {}
        self._leverage_spins: dict[int, QDoubleSpinBox] = {}
        self.curves: dict[tuple[str, str], pg.PlotCurveItem] = {}
        self._split_fitted = False

        self.debounce = QTimer(self)
        self.debounce.setObjectName("scenario-debounce")
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.run_now)
        self.play_timer = QTimer(self)
        self.play_timer.setObjectName("scenario-play")
        self.play_timer.setTimerType(Qt.TimerType.CoarseTimer)
        self.play_timer.setInterval(PLAY_MS)
        self.play_timer.timeout.connect(self._play_step)

        self._build()
        controller.result.connect(self._on_result)

    # -- layout ------------------------------------------------------------------------------------

    def _build(self) -> None:
        theme = self.theme
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        outer.addWidget(split)

        # left: the scenario
        left = QWidget(split)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 4, 0)
        lv.setSpacing(6)

        saved = QHBoxLayout()
        self.saved_combo = QComboBox(left)
        self.saved_combo.setObjectName("saved-scenarios")
        self.saved_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.saved_combo.setMinimumContentsLength(14)
        self.saved_combo.setPlaceholderText("saved scenarios: none")
        self.saved_combo.setToolTip("scenarios saved in the book's database")
        saved.addWidget(self.saved_combo, 1)
        self.load_button = QPushButton("Load", left)
        self.save_button = QPushButton("Save as…", left)
        self.rename_button = QPushButton("Rename…", left)
        self.delete_button = QPushButton("Delete", left)
        for b in (self.load_button, self.save_button, self.rename_button, self.delete_button):
            saved.addWidget(b)
        self.load_button.clicked.connect(self.load_selected)
        self.save_button.clicked.connect(lambda: self._ask_name("save"))
        self.rename_button.clicked.connect(lambda: self._ask_name("rename"))
        self.delete_button.clicked.connect(self.delete_selected)
        lv.addLayout(saved)

        self.name_bar = QFrame(left)
        nb = QHBoxLayout(self.name_bar)
        nb.setContentsMargins(0, 0, 0, 0)
        self.name_label = QLabel("Name:", self.name_bar)
        self.name_edit = QLineEdit(self.name_bar)
        self.name_edit.setObjectName("scenario-name")
        self.name_ok = QPushButton("Save", self.name_bar)
        self.name_cancel = QPushButton("Cancel", self.name_bar)
        for w in (self.name_label, self.name_edit, self.name_ok, self.name_cancel):
            nb.addWidget(w)
        nb.setStretch(1, 1)
        self.name_ok.clicked.connect(self._name_confirmed)
        self.name_edit.returnPressed.connect(self._name_confirmed)
        self.name_cancel.clicked.connect(self._name_cancelled)
        self.name_bar.hide()
        self._name_mode = "save"
        lv.addWidget(self.name_bar)

        presets = QHBoxLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        for pct in CRASH_PRESETS:
            b = QPushButton(f"{fmt_pct(pct, signed=True, decimals=0)} crash", left)
            b.clicked.connect(lambda _=False, p=pct: self.apply_crash(p))
            presets.addWidget(b)
            self.preset_buttons[f"{pct:g}"] = b
        b = QPushButton("±16 % grid", left)
        b.setToolTip("a path of market shocks −16, −12, …, +16 %; scrub it below")
        b.clicked.connect(self.apply_grid_preset)
        presets.addWidget(b)
        self.preset_buttons["grid"] = b
        b = QPushButton("Reset", left)
        b.clicked.connect(self.reset)
        presets.addWidget(b)
        self.preset_buttons["reset"] = b
        presets.addStretch(1)
        lv.addLayout(presets)

        market = QGroupBox("Market shock", left)
        self.market_group = market
        mh = QHBoxLayout(market)
        mh.addWidget(QLabel("on", market))
        self.market_combo = QComboBox(market)
        self.market_combo.setObjectName("reference-market")
        self.market_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.market_combo.setToolTip("the reference market; every market without an own shock moves beta × this")
        mh.addWidget(self.market_combo)
        self.market_slider = QSlider(Qt.Orientation.Horizontal, market)
        self.market_slider.setObjectName("market-shock-slider")
        self.market_slider.setRange(-MARKET_RANGE, MARKET_RANGE)
        self.market_slider.setPageStep(5)
        self.market_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.market_slider.setTickInterval(10)
        mh.addWidget(self.market_slider, 1)
        self.market_spin = self._pct_spin(market, (-99.0, 400.0))
        self.market_spin.setObjectName("market-shock")
        mh.addWidget(self.market_spin)
        self._pair(self.market_slider, self.market_spin)
        self.market_combo.currentIndexChanged.connect(self._reference_changed)
        lv.addWidget(market)

        self.symbol_table = QTableWidget(0, 6, left)
        self.symbol_table.setObjectName("symbol-table")
        self.symbol_table.setHorizontalHeaderLabels(["Market", "Mark", "Own shock", "", "Beta", "Shocked"])
        self._style_edit_table(self.symbol_table)
        self.symbol_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.symbol_table.horizontalHeaderItem(2).setToolTip("percent of the current mark; 0 = follow the market")
        lv.addWidget(self.symbol_table, 0)

        self.edits_table = QTableWidget(0, 5, left)
        self.edits_table.setObjectName("edits-table")
        self.edits_table.setHorizontalHeaderLabels(
            ["Position", "Margin", "Margin ±", "Lev.", "New lev."])
        self._style_edit_table(self.edits_table)
        self.edits_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        lv.addWidget(self.edits_table, 1)

        apply_row = QHBoxLayout()
        self.apply_button = QPushButton("Apply collateral edits…", left)
        self.apply_button.setObjectName("apply-collateral")
        self.apply_button.setToolTip("move real collateral as edited above (asks first)")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.ask_apply)
        apply_row.addWidget(self.apply_button)
        self.apply_report = QLabel("", left)
        self.apply_report.setObjectName("apply-report")
        self.apply_report.setWordWrap(True)
        apply_row.addWidget(self.apply_report, 1)
        lv.addLayout(apply_row)
        self.confirm_bar = QFrame(left)
        self.confirm_bar.setObjectName("apply-confirm")
        self.confirm_bar.setFrameShape(QFrame.Shape.StyledPanel)
        cb = QHBoxLayout(self.confirm_bar)
        cb.setContentsMargins(6, 4, 6, 4)
        self.confirm_text = QLabel("", self.confirm_bar)
        self.confirm_text.setWordWrap(True)
        cb.addWidget(self.confirm_text, 1)
        self.confirm_button = QPushButton("Move the collateral", self.confirm_bar)
        self.confirm_button.setObjectName("confirm-apply")
        self.confirm_cancel = QPushButton("Cancel", self.confirm_bar)
        cb.addWidget(self.confirm_button)
        cb.addWidget(self.confirm_cancel)
        self.confirm_button.clicked.connect(self.confirm_apply)
        self.confirm_cancel.clicked.connect(self.confirm_bar.hide)
        self.confirm_bar.hide()
        lv.addWidget(self.confirm_bar)

        replay = QGroupBox("Replay a price path", left)
        rv = QVBoxLayout(replay)
        rh = QHBoxLayout()
        self.open_button = QPushButton("Open path…", replay)
        self.open_button.clicked.connect(self.choose_replay)
        rh.addWidget(self.open_button)
        self.play_button = QPushButton("Play", replay)
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        rh.addWidget(self.play_button)
        self.clear_path_button = QPushButton("Back to shocks", replay)
        self.clear_path_button.clicked.connect(self.clear_path)
        rh.addWidget(self.clear_path_button)
        self.path_name = QLabel("no path", replay)
        self.path_name.setStyleSheet(f"color: {theme.muted.name()};")
        self.path_name.setWordWrap(True)
        rh.addWidget(self.path_name, 1)
        rv.addLayout(rh)
        self.replay_slider = QSlider(Qt.Orientation.Horizontal, replay)
        self.replay_slider.setObjectName("replay-scrub")
        self.replay_slider.setRange(1, 1)
        self.replay_slider.valueChanged.connect(self._scrubbed)
        rv.addWidget(self.replay_slider)
        self.step_label = QLabel("", replay)
        self.step_label.setWordWrap(True)
        rv.addWidget(self.step_label)
        lv.addWidget(replay)
        self._set_path_controls()

        # right: the outcome
        right = QWidget(split)
        rvl = QVBoxLayout(right)
        rvl.setContentsMargins(4, 0, 0, 0)
        rvl.setSpacing(4)
        self.headline = QLabel("", right)
        self.headline.setObjectName("scenario-headline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        rvl.addWidget(self.headline)
        self.status = QLabel("", right)
        self.status.setObjectName("scenario-status")
        self.status.setWordWrap(True)
        rvl.addWidget(self.status)

        font = theme.font
        self.position_model = RowsModel(
            ["Position", "Account", "Shocked", "Ratio", "Liq. price", "uPnL", "Isolated", "Loss", "Cross margin"],
            right={2, 3, 4, 5, 7}, font=font, parent=self)
        self.account_model = RowsModel(
            ["Account", "Equity now", "Iso lost", "Iso loss", "Iso equity", "Cross", "Cross loss", "Cross equity"],
            right={1, 2, 3, 4, 6, 7}, font=font, parent=self)
        self.totals_model = RowsModel(
            ["Currency", "Equity now", "Isolated loss", "Isolated equity", "Cross loss", "Cross equity"],
            right={1, 2, 3, 4, 5}, font=font, parent=self)
        self.vsplit = QSplitter(Qt.Orientation.Vertical, right)
        self.vsplit.setChildrenCollapsible(False)
        self.position_view = _table_view(self.position_model, self.vsplit)
        self.position_view.setObjectName("position-results")
        lower = QWidget(self.vsplit)
        th = QVBoxLayout(lower)
        th.setContentsMargins(0, 0, 0, 0)
        th.setSpacing(4)
        self.account_view = _table_view(self.account_model, lower)
        self.account_view.setObjectName("account-results")
        self.totals_view = _table_view(self.totals_model, lower)
        self.totals_view.setObjectName("totals")
        for view in (self.account_view, self.totals_view):
            view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        th.addWidget(self.account_view)
        th.addWidget(self.totals_view)

        ph = QHBoxLayout()
        self.plot_caption = QLabel("Equity vs a uniform shock of every market (× beta): solid isolated, dashed "
                                   "cross, colours as the accounts above; × a position liquidated", lower)
        self.plot_caption.setWordWrap(True)
        self.plot_caption.setStyleSheet(f"color: {theme.muted.name()};")
        ph.addWidget(self.plot_caption, 1)
        self.unit_combo = QComboBox(lower)
        self.unit_combo.setObjectName("plot-unit")
        self.unit_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.unit_combo.addItem("% of equity now", PCT_UNIT)
        self.unit_combo.currentIndexChanged.connect(self._render_plot)
        ph.addWidget(self.unit_combo)
        th.addLayout(ph)
        self.plot = pg.PlotWidget(lower, background=theme.chart_bg)
        self.plot.setObjectName("equity-plot")
        self.plot.setMinimumHeight(220)
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "uniform shock", units="%")
        item.setXRange(-MARKET_RANGE, MARKET_RANGE, padding=0.02)
        item.setMouseEnabled(x=False, y=True)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setPen(theme.pen("axis"))
            item.getAxis(axis).setTextPen(theme.pen("axis"))
        zero = pg.InfiniteLine(pos=0, angle=0, movable=False, pen=pg.mkPen(theme.chart_fg, width=1,
                                                                            style=Qt.PenStyle.DotLine))
        self.plot.addItem(zero, ignoreBounds=True)
        self.zero_line = zero
        self.shock_line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=theme.pen("mark", 1.5),
                                          label="market {value:+.1f} %",
                                          labelOpts={"position": 0.92, "color": theme.mark_line,
                                                     "anchors": [(0, 0.5), (0, 0.5)]})
        self.plot.addItem(self.shock_line, ignoreBounds=True)
        self.markers = pg.ScatterPlotItem(size=11, symbol="x", pen=pg.mkPen(theme.danger, width=2),
                                          brush=pg.mkBrush(theme.danger))
        self.markers.setZValue(10)
        self.plot.addItem(self.markers)
        th.addWidget(self.plot, 1)
        self.vsplit.addWidget(self.position_view)
        self.vsplit.addWidget(lower)
        self.vsplit.setStretchFactor(0, 0)
        self.vsplit.setStretchFactor(1, 1)
        self.vsplit.splitterMoved.connect(self._user_split)
        rvl.addWidget(self.vsplit, 1)

        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([480, 920])

    def _style_edit_table(self, table: QTableWidget) -> None:
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(26)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.setWordWrap(False)

    def _pct_spin(self, parent: QWidget, bounds: tuple[float, float]) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(parent)
        spin.setRange(*bounds)
        spin.setDecimals(1)
        spin.setSingleStep(1.0)
        spin.setSuffix(" %")
        spin.setKeyboardTracking(False)
        spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        spin.setMinimumWidth(84)
        return spin

    def _pair(self, slider: QSlider, spin: QDoubleSpinBox) -> None:
        """Slider (whole percent) and spin box (tenths) follow each other; either edit schedules a run."""

        def from_slider(value: int) -> None:
            if round(spin.value()) != value:
                spin.setValue(float(value))

        def from_spin(value: float) -> None:
            with QSignalBlocker(slider):
                slider.setValue(max(slider.minimum(), min(slider.maximum(), round(value))))
            self._shock_edited()

        slider.valueChanged.connect(from_slider)
        spin.valueChanged.connect(from_spin)

    # -- book ------------------------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._asked_book:
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Ask the desk for the book (keeping the edits that still apply) and the saved names."""
        self._asked_book = True
        self._send(GetScenarioBook(), "book")
        self._send(ListScenarios(), "list")

    def _set_book(self, book: ScenarioBook) -> None:
        same = (self.book is not None and self.book.markets == book.markets
                and np.array_equal(self.book.position_ids, book.position_ids))
        self.book = book
        if same:
            self._update_marks()
            return
        old = self.scenario_values() if self._margin_spins or self._shock_spins else None
        self._loading = True
        try:
            self._build_symbol_rows(book)
            self._build_edit_rows(book)
            with QSignalBlocker(self.market_combo):
                current = self.market_combo.currentText()
                self.market_combo.clear()
                self.market_combo.addItems(list(book.markets))
                pick = current if current in book.markets else ("BTCUSDT" if "BTCUSDT" in book.markets else "")
                if pick:
                    self.market_combo.setCurrentText(pick)
            with QSignalBlocker(self.unit_combo):
                unit = self.unit_combo.currentData()
                self.unit_combo.clear()
                self.unit_combo.addItem("% of equity now", PCT_UNIT)
                for c in dict.fromkeys(book.currencies):
                    self.unit_combo.addItem(c, c)
                self.unit_combo.setCurrentIndex(max(0, self.unit_combo.findData(unit)))
            if old is not None:
                self._restore_values(old)
        finally:
            self._loading = False
        self._build_curves(book)
        self.book_loaded.emit(book)
        self._edited()

    def _update_marks(self) -> None:
        assert self.book is not None
        for j in range(len(self.book.markets)):
            item = self.symbol_table.item(j, 1)
            if item is not None:
                item.setText(fmt_price(float(self.book.marks[j])))

    def _build_symbol_rows(self, book: ScenarioBook) -> None:
        table = self.symbol_table
        table.setRowCount(0)
        table.setRowCount(len(book.markets))
        self._shock_spins.clear()
        self._shock_sliders.clear()
        self._beta_spins.clear()
        for j, market in enumerate(book.markets):
            table.setItem(j, 0, QTableWidgetItem(market))
            mark = QTableWidgetItem(fmt_price(float(book.marks[j])))
            mark.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(j, 1, mark)
            spin = self._pct_spin(table, OWN_RANGE)
            spin.setToolTip(f"own shock of {market} (percent of its mark); 0 = follow the market shock × beta")
            slider = QSlider(Qt.Orientation.Horizontal, table)
            slider.setRange(-MARKET_RANGE, MARKET_RANGE)
            slider.setMinimumWidth(90)
            self._pair(slider, spin)
            beta = QDoubleSpinBox(table)
            beta.setRange(-5.0, 5.0)
            beta.setDecimals(2)
            beta.setSingleStep(0.05)
            beta.setValue(1.0)
            beta.setKeyboardTracking(False)
            beta.setAlignment(Qt.AlignmentFlag.AlignRight)
            beta.valueChanged.connect(self._edited)
            table.setCellWidget(j, 2, spin)
            table.setCellWidget(j, 3, slider)
            table.setCellWidget(j, 4, beta)
            shocked = QTableWidgetItem(DASH)
            shocked.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(j, 5, shocked)
            self._shock_spins[market] = spin
            self._shock_sliders[market] = slider
            self._beta_spins[market] = beta
        shown = min(len(book.markets), 8)
        table.setFixedHeight(table.horizontalHeader().sizeHint().height() + shown * 26 + 2 * table.frameWidth() + 2)

    def _build_edit_rows(self, book: ScenarioBook) -> None:
        table = self.edits_table
        table.setRowCount(0)
        table.setRowCount(len(book))
        self._margin_spins.clear()
        self._leverage_spins.clear()
        batch = book.batch
        max_lev = batch.tiers.flat("max_leverage")[batch.base + batch.entry_tier]
        for r in range(len(book)):
            pid = int(book.position_ids[r])
            a = int(book.account_index[r])
            ccy = book.currencies[a]
            label = QTableWidgetItem(book.labels[r])
            label.setToolTip(f"{book.labels[r]} · {book.accounts[a]}")
            table.setItem(r, 0, label)
            margin = QTableWidgetItem(fmt_money(float(batch.margin[r]), ccy))
            margin.setToolTip(f"isolated margin now, {ccy}")
            margin.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, 1, margin)
            d = money_decimals(ccy)
            spin = QDoubleSpinBox(table)
            spin.setDecimals(d)
            low = -float(batch.margin[r]) + 10.0 ** -d
            spin.setRange(low, 1e12)
            spin.setSingleStep(100.0 if d == 2 else 0.01)
            spin.setValue(0.0)
            spin.setKeyboardTracking(False)
            spin.setAlignment(Qt.AlignmentFlag.AlignRight)
            spin.setToolTip(f"collateral added (+) or removed (−), {ccy}")
            spin.setMinimumWidth(104)
            spin.setSuffix(f" {ccy}")
            spin.valueChanged.connect(self._edited)
            lev = QDoubleSpinBox(table)
            lev.setDecimals(2)
            top = float(max_lev[r]) if math.isfinite(max_lev[r]) else 200.0
            lev.setRange(0.0, top)
            lev.setSpecialValueText("keep")
            lev.setSingleStep(1.0)
            lev.setSuffix("×")
            lev.setKeyboardTracking(False)
            lev.setAlignment(Qt.AlignmentFlag.AlignRight)
            lev.setToolTip(f"new leverage (up to {top:g}×): the isolated margin becomes entry notional ÷ leverage")
            lev.valueChanged.connect(self._edited)
            cur = QTableWidgetItem(fmt_leverage(round(float(batch.leverage[r]), 2)))
            cur.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setCellWidget(r, 2, spin)
            table.setItem(r, 3, cur)
            table.setCellWidget(r, 4, lev)
            self._margin_spins[pid] = spin
            self._leverage_spins[pid] = lev

    # -- widgets by name (for tests and the main window) -----------------------------------------------

    def shock_spin(self, market: str) -> QDoubleSpinBox:
        """The own-shock spin box of a market."""
        return self._shock_spins[market]

    def shock_slider(self, market: str) -> QSlider:
        """The own-shock slider of a market."""
        return self._shock_sliders[market]

    def beta_spin(self, market: str) -> QDoubleSpinBox:
        """The beta spin box of a market."""
        return self._beta_spins[market]

    def margin_spin(self, position_id: int) -> QDoubleSpinBox:
        """The margin ± spin box of a position."""
        return self._margin_spins[position_id]

    def leverage_spin(self, position_id: int) -> QDoubleSpinBox:
        """The new-leverage spin box of a position (0 = keep)."""
        return self._leverage_spins[position_id]

    def position_id(self, label: str) -> int:
        """The id of a position of the edited book by its label."""
        assert self.book is not None
        return int(self.book.position_ids[self.book.labels.index(label)])

    # -- the scenario --------------------------------------------------------------------------------

    def scenario_values(self) -> dict[str, Any]:
        """Every control's value, plain data (what save → load must reproduce)."""
        return {
            "reference": self.market_combo.currentText(),
            "market": self.market_spin.value(),
            "shocks": {m: s.value() for m, s in self._shock_spins.items()},
            "betas": {m: s.value() for m, s in self._beta_spins.items()},
            "margin": {p: s.value() for p, s in self._margin_spins.items()},
            "leverage": {p: s.value() for p, s in self._leverage_spins.items()},
            "path": None if self.path is None else (self.path.name, len(self.path), self.replay_slider.value()),
        }

    def _restore_values(self, values: dict[str, Any]) -> None:
        for market, v in values["shocks"].items():
            if market in self._shock_spins:
                self._shock_spins[market].setValue(v)
        for market, v in values["betas"].items():
            if market in self._beta_spins:
                self._beta_spins[market].setValue(v)
        for pid, v in values["margin"].items():
            if pid in self._margin_spins:
                self._margin_spins[pid].setValue(v)
        for pid, v in values["leverage"].items():
            if pid in self._leverage_spins:
                self._leverage_spins[pid].setValue(v)
        self.market_spin.setValue(values["market"])

    def _edits(self) -> tuple[dict[str, float], dict[int, float], dict[int, float]]:
        betas = {m: round(s.value(), 4) for m, s in self._beta_spins.items() if s.value() != 1.0}
        margin = {p: s.value() for p, s in self._margin_spins.items() if s.value() != 0.0}
        leverage = {p: s.value() for p, s in self._leverage_spins.items() if s.value() > 0.0}
        return betas, margin, leverage

    def scenario(self, *, whole_path: bool = False) -> Scenario:
        """The scenario the controls describe (a path up to the scrubbed step, or all of it)."""
        betas, margin, leverage = self._edits()
        if self.path is not None:
            k = len(self.path) if whole_path else self.replay_slider.value()
            return Scenario(betas=betas, margin_edits=margin, leverage_edits=leverage, path=self.path.moves[:k])
        shocks = {m: Shock.pct(s.value()) for m, s in self._shock_spins.items() if s.value() != 0.0}
        ref = self.market_combo.currentText()
        market = (ref, self.market_spin.value()) if ref else None
        return Scenario(shocks=shocks, market_shock=market, betas=betas, margin_edits=margin,
                        leverage_edits=leverage)

    def _shock_edited(self) -> None:
        """A shock control moved: back to a single jump (a path ignores the shock controls)."""
        if self._loading or self.book is None:
            return
        if self.path is not None:
            self.clear_path(run=False)
        self._edited()

    @Slot()
    def _reference_changed(self, *_args: object) -> None:
        if self._loading or self.book is None:
            return
        if self.path is not None and self.path.name == GRID_NAME:
            self.set_path(grid_path(self.market_combo.currentText()), self.replay_slider.value())
            return
        self._edited()

    @Slot()
    def _edited(self, *_args: object) -> None:
        if self._loading or self.book is None:
            return
        self.shock_line.setValue(self._line_position())
        self.apply_button.setEnabled(bool(self._edits()[1]) and not self._apply_answers)
        self.debounce.start()

    @Slot()
    def run_now(self) -> None:
        """Send the scenario now (the debounce timer calls this 150 ms after the last edit)."""
        self.debounce.stop()
        if self.book is None:
            return
        self._run_id = self._send(RunScenario(self.scenario(), grid=GRID_DEFAULT), "run")

    @property
    def busy(self) -> bool:
        """True while an edit waits for its debounce or the newest run waits for the desk's answer."""
        return self.debounce.isActive() or (self._run_id is not None and self._run_id in self._pending)

    def _send(self, command: Any, kind: str, context: Any = None) -> str:
        self._pending[command.request_id] = (kind, context)
        return self.controller.send(command)

    # -- presets -------------------------------------------------------------------------------------

    def _reset_shocks(self) -> None:
        for s in self._shock_spins.values():
            s.setValue(0.0)

    @Slot()
    def apply_crash(self, pct: float) -> None:
        """A market crash of ``pct`` percent on the reference market (own shocks cleared)."""
        self._loading = True
        try:
            self._reset_shocks()
            self.market_spin.setValue(pct)
        finally:
            self._loading = False
        self.clear_path(run=False)
        self._edited()

    @Slot()
    def apply_grid_preset(self) -> None:
        """The ±16 % grid: a path of market shocks to scrub."""
        ref = self.market_combo.currentText()
        if ref:
            self.set_path(grid_path(ref))

    @Slot()
    def reset(self) -> None:
        """No shocks, betas 1, no edits."""
        self._loading = True
        try:
            self._reset_shocks()
            self.market_spin.setValue(0.0)
            for s in self._beta_spins.values():
                s.setValue(1.0)
            for s in self._margin_spins.values():
                s.setValue(0.0)
            for s in self._leverage_spins.values():
                s.setValue(0.0)
        finally:
            self._loading = False
        self.clear_path(run=False)
        self._edited()

    # -- replay --------------------------------------------------------------------------------------

    @classmethod
    def ask_path_file(cls, parent: QWidget | None) -> str | None:
        """Ask for a price-path CSV (tests monkeypatch this); None when cancelled."""
        start = str(resource_path("paths"))
        name, _ = QFileDialog.getOpenFileName(parent, "Replay a price path", start, "Price paths (*.csv);;All (*)")
        return name or None

    @Slot()
    def choose_replay(self) -> None:
        """Pick a CSV and load it as a path."""
        name = type(self).ask_path_file(self)
        if name:
            self.open_replay(name)

    def open_replay(self, path: str | Path) -> bool:
        """Load a ``ts,symbol,price`` CSV as the path to scrub; False (reason in the status line) if unusable."""
        if self.book is None:
            self._say("the book has not arrived yet", error=True)
            return False
        try:
            ticks = read_path_csv(path)
            replay = replay_path(ticks, self.book, Path(path).name)
        except (ScenarioError, ValueError) as exc:  # FeedError is a ValueError
            self._say(str(exc), error=True)
            return False
        self.set_path(replay)
        if replay.dropped:
            self._say(f"{replay.name}: not in the book, ignored: {', '.join(replay.dropped)}")
        return True

    def set_path(self, path: ReplayPath, step: int | None = None) -> None:
        """Show ``path`` scrubbed at ``step`` (default: the last). The single-jump shocks are cleared:
        a path replaces them (its prices show in the Shocked column)."""
        self.play_button.setChecked(False)
        self._loading = True
        try:
            self._reset_shocks()
            self.market_spin.setValue(0.0)
        finally:
            self._loading = False
        self.path = path
        with QSignalBlocker(self.replay_slider):
            self.replay_slider.setRange(1, len(path))
            self.replay_slider.setValue(len(path) if step is None else step)
        self._set_path_controls()
        self._scrubbed(self.replay_slider.value())

    @Slot()
    def clear_path(self, run: bool = True) -> None:
        """Back to the single jump the shock controls describe."""
        self.play_button.setChecked(False)
        was = self.path is not None
        self.path = None
        self._set_path_controls()
        if run and was:
            self._edited()

    def _set_path_controls(self) -> None:
        on = self.path is not None
        self.replay_slider.setEnabled(on)
        self.play_button.setEnabled(on)
        self.clear_path_button.setEnabled(on)
        self.path_name.setText(f"{self.path.name}: {len(self.path)} steps" if on else
                               "none: the shocks are one jump")
        self.market_group.setTitle("Market shock (a path is shown; a shock edit ends it)" if on
                                   else "Market shock")
        if not on:
            self.step_label.setText("")

    @Slot(int)
    def _scrubbed(self, step: int) -> None:
        if self.path is None:
            return
        self.step_label.setText(f"step {step}/{len(self.path)} · {self.path.labels[step - 1]}")
        self._edited()

    @Slot(bool)
    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on and self.path is not None:
            if self.replay_slider.value() >= len(self.path):
                self.replay_slider.setValue(1)
            self.play_timer.start()
        else:
            self.play_timer.stop()

    @Slot()
    def _play_step(self) -> None:
        if self.path is None or self.replay_slider.value() >= len(self.path):
            self.play_button.setChecked(False)
            return
        jump = max(1, len(self.path) // 60)
        self.replay_slider.setValue(min(len(self.path), self.replay_slider.value() + jump))

    # -- saved scenarios -------------------------------------------------------------------------------

    def _ask_name(self, mode: str) -> None:
        if mode == "rename" and not self.saved_combo.currentText():
            self._say("pick a saved scenario to rename", error=True)
            return
        self._name_mode = mode
        self.name_label.setText("Save as:" if mode == "save" else f"Rename {self.saved_combo.currentText()!r} to:")
        self.name_ok.setText("Save" if mode == "save" else "Rename")
        self.name_edit.setText(self.saved_combo.currentText() if mode == "rename" else "")
        self.name_bar.show()
        self.name_edit.setFocus()

    @Slot()
    def _name_confirmed(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self._say("give the scenario a name", error=True)
            return
        if self._name_mode == "save":
            self.save_as(name)
        else:
            self.rename_selected(name)
        self.name_bar.hide()

    @Slot()
    def _name_cancelled(self) -> None:
        self.name_bar.hide()

    def save_as(self, name: str) -> str:
        """Store the current scenario (a path whole) under ``name``; returns the request id."""
        return self._send(SaveScenario(name, self.scenario(whole_path=True)), "save", name.strip())

    @Slot()
    def load_selected(self) -> str | None:
        """Load the scenario picked in the combo into the controls."""
        name = self.saved_combo.currentText()
        if not name:
            self._say("no saved scenario picked", error=True)
            return None
        return self._send(LoadScenario(name), "load", name)

    def rename_selected(self, new: str) -> str | None:
        """Rename the picked saved scenario."""
        old = self.saved_combo.currentText()
        if not old:
            return None
        return self._send(RenameScenario(old, new), "rename", new.strip())

    @Slot()
    def delete_selected(self) -> str | None:
        """Delete the picked saved scenario."""
        name = self.saved_combo.currentText()
        if not name:
            self._say("no saved scenario picked", error=True)
            return None
        return self._send(DeleteScenario(name), "delete", name)

    def load_scenario(self, scenario: Scenario) -> None:
        """Set the controls to ``scenario`` (a price shock is shown as its percent of the current mark)."""
        if self.book is None:
            return
        book = self.book
        notes: list[str] = []
        self._loading = True
        try:
            self._reset_shocks()
            for s in self._beta_spins.values():
                s.setValue(1.0)
            for market, beta in scenario.betas.items():
                try:
                    self._beta_spins[book.markets[book.market(market)]].setValue(float(beta))
                except ScenarioError:
                    notes.append(f"beta of {market}: not in the book")
            for pid, spin in self._margin_spins.items():
                spin.setValue(float(scenario.margin_edits.get(pid, 0.0)))
            for pid, spin in self._leverage_spins.items():
                spin.setValue(float(scenario.leverage_edits.get(pid, 0.0)))
            missing = [str(p) for p in [*scenario.margin_edits, *scenario.leverage_edits]
                       if p not in self._margin_spins]
            if missing:
                notes.append(f"positions no longer open: {', '.join(missing)}")
            if scenario.path is None:
                for market, shock in scenario.shocks.items():
                    try:
                        j = book.market(market)
                    except ScenarioError:
                        notes.append(f"{market}: not in the book")
                        continue
                    s = shock if isinstance(shock, Shock) else Shock.pct(float(shock))
                    pct = s.value if s.kind == PCT else (s.value / float(book.marks[j]) - 1.0) * 100.0
                    self._shock_spins[book.markets[j]].setValue(pct)
                if scenario.market_shock is not None:
                    ref, pct = scenario.market_shock
                    try:
                        self.market_combo.setCurrentText(book.markets[book.market(ref)])
                    except ScenarioError:
                        notes.append(f"market shock on {ref}: not in the book")
                    self.market_spin.setValue(float(pct))
                else:
                    self.market_spin.setValue(0.0)
        finally:
            self._loading = False
        if scenario.path is not None:
            moves = scenario.moves()
            labels = tuple(f"step {i + 1}" for i in range(len(moves)))
            self.set_path(ReplayPath("saved path", moves, labels))
        else:
            self.clear_path(run=False)
            self._edited()
        if notes:
            self._say("; ".join(notes), error=True)

    # -- apply collateral edits ------------------------------------------------------------------------

    @Slot()
    def ask_apply(self) -> None:
        """Show the inline confirmation for moving real collateral as edited."""
        if self.book is None:
            return
        book = self.book
        plan = []
        lines = []
        for pid, spin in self._margin_spins.items():
            v = spin.value()
            if v == 0.0:
                continue
            r = book.row(pid)
            ccy = book.currencies[int(book.account_index[r])]
            amount = Decimal(f"{v:.{spin.decimals()}f}")
            plan.append((pid, amount))
            lines.append(f"{'add' if amount > 0 else 'remove'} {fmt_money(abs(float(amount)), ccy)} {ccy} "
                         f"{'to' if amount > 0 else 'from'} {book.labels[r]}")
        if not plan:
            return
        self._apply_plan = plan
        lev = " Leverage edits stay in the scenario (no command moves them)." if self._edits()[2] else ""
        self.confirm_text.setText("This changes the real book: " + "; ".join(lines) + "." + lev)
        self.confirm_text.setStyleSheet(f"color: {self.theme.warning.name()};")
        self.confirm_bar.show()

    @Slot()
    def confirm_apply(self) -> None:
        """Send one AddCollateral / RemoveCollateral per planned position; each answer is reported."""
        self.confirm_bar.hide()
        plan, self._apply_plan = self._apply_plan, []
        self.apply_report.setText("")
        for pid, amount in plan:
            cmd = (AddCollateral(pid, amount, reason="scenario editor") if amount > 0
                   else RemoveCollateral(pid, -amount, reason="scenario editor"))
            self._apply_answers[cmd.request_id] = (pid, amount)
            self._send(cmd, "collateral", (pid, amount))
        self.apply_button.setEnabled(False)

    def _collateral_answered(self, result: Result, pid: int) -> None:
        self._apply_answers.pop(result.request_id, None)
        label = self.book.labels[self.book.row(pid)] if self.book is not None and pid in self._margin_spins else pid
        colour = self.theme.safe if result.accepted else self.theme.danger
        text = result.reason if result.accepted else f"{label}: refused — {result.reason}"
        previous = self.apply_report.text()
        line = f'<span style="color:{colour.name()}">{_escape(text)}</span>'
        self.apply_report.setText(f"{previous}<br>{line}" if previous else line)
        if result.accepted and pid in self._margin_spins:
            with QSignalBlocker(self._margin_spins[pid]):
                self._margin_spins[pid].setValue(0.0)  # the book now holds it; keeping it would count it twice
        if not self._apply_answers:
            self._asked_book = True
            self.book = None  # rebuild: the margins changed
            self._send(GetScenarioBook(), "book")

    # -- answers ---------------------------------------------------------------------------------------

    @Slot(object)
    def _on_result(self, result: Result) -> None:
        entry = self._pending.pop(result.request_id, None)
        if entry is None:
            return
        kind, context = entry
        if kind == "run":
            if result.request_id != self._run_id:
                return  # an older edit's answer: the newest one is on its way
            if not result.accepted:
                self._say(result.reason, error=True)
                self._mark_stale()
                return
            self._say("")
            outcome, grid = result.payload
            self._show(outcome, grid)
            return
        if kind == "book":
            if result.accepted:
                self._set_book(result.payload)
            else:
                self._say(result.reason, error=True)
            return
        if kind == "list":
            if result.accepted:
                self._set_names(tuple(result.payload), context)
            return
        if kind == "collateral":
            self._collateral_answered(result, context[0])
            self.answered.emit(result)
            return
        # save / load / rename / delete
        if not result.accepted:
            self._say(result.reason, error=True)
        else:
            self._say(result.reason)
            if kind == "load":
                self.load_scenario(result.payload)
            else:
                select = None if kind == "delete" else context
                self._send(ListScenarios(), "list", select)
        self.answered.emit(result)

    def _set_names(self, names: tuple[str, ...], select: str | None) -> None:
        self.saved_names = names
        current = select or self.saved_combo.currentText()
        with QSignalBlocker(self.saved_combo):
            self.saved_combo.clear()
            self.saved_combo.addItems(list(names))
            i = self.saved_combo.findText(current) if current else -1
            self.saved_combo.setCurrentIndex(i if i >= 0 else (0 if names else -1))
        for b in (self.load_button, self.rename_button, self.delete_button):
            b.setEnabled(bool(names))
        self.scenarios_listed.emit(names)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {self.theme.danger.name()};" if error else
                                  f"color: {self.theme.muted.name()};")

    def _mark_stale(self) -> None:
        self.headline.setText(f'<span style="color:{self.theme.muted.name()}">The figures below are from the '
                              "previous scenario; the desk refused this one (see why below).</span>")

    # -- rendering -----------------------------------------------------------------------------------

    def _line_position(self) -> float:
        if self.path is None:
            return float(self.market_spin.value())
        if self.outcome is not None and self.book is not None:
            ref = self.market_combo.currentText()
            if ref in self.outcome.book.markets:
                j = self.outcome.book.markets.index(ref)
                return float((self.outcome.prices[-1, j] / self.outcome.book.marks[j] - 1.0) * 100.0)
        return 0.0

    def _show(self, outcome: Outcome, grid: GridOutcome) -> None:
        book = outcome.book
        if self.book is None or self.book.markets != book.markets or not np.array_equal(
                self.book.position_ids, book.position_ids):
            self._set_book(book)  # the book moved under us (a position closed): follow it
        else:
            self.book = book
            self._update_marks()
        self.outcome, self.grid = outcome, grid
        self._render_symbols(outcome)
        self._render_positions(outcome)
        self._render_accounts(outcome)
        self._render_headline(outcome)
        self._render_plot()
        self.shock_line.setValue(self._line_position())
        self.outcome_shown.emit((outcome, grid))

    def _render_symbols(self, outcome: Outcome) -> None:
        book = outcome.book
        last = outcome.prices[-1]
        for j in range(len(book.markets)):
            item = self.symbol_table.item(j, 5)
            if item is None:
                continue
            move = (last[j] / book.marks[j] - 1.0) * 100.0
            item.setText(f"{fmt_price(float(last[j]))}  ({fmt_pct(float(move), signed=True)})")

    def _render_positions(self, outcome: Outcome) -> None:
        book, iso, cross, t = outcome.book, outcome.isolated, outcome.cross, self.theme
        many = outcome.steps > 1
        dying_bg = QColor(t.danger)
        dying_bg.setAlpha(44)
        rows = []
        for r in range(len(book)):
            a, m = int(book.account_index[r]), int(book.market_index[r])
            ccy = book.currencies[a]
            step = int(iso.liquidated_step[r])
            move = float((iso.shocked_mark[r] / book.marks[m] - 1.0) * 100.0)
            ratio = float(iso.margin_ratio[r])
            state = ("LIQUIDATED" + (f" @{step}" if many else "")) if step else "ok"
            cross_dead = bool(cross.liquidated[a])
            if step and not cross_dead:
                verdict, vcol = "saves it", t.safe
            elif cross_dead:
                cstep = int(cross.liquidated_step[a])
                verdict, vcol = "pool lost" + (f" @{cstep}" if many else ""), t.danger
            else:
                verdict, vcol = "ok", t.muted
            fg = {6: t.danger if step else t.safe, 8: vcol}
            if step:
                fg[0] = t.danger
            tips = {1: ccy, 2: f"{fmt_pct(move, signed=True)} from {fmt_price(float(book.marks[m]))}",
                    7: ccy, 8: (f"as cross margin, {book.accounts[a]} would "
                                + (f"be liquidated whole and lose its pool of "
                                   f"{fmt_money(float(cross.pool[a]), ccy)} {ccy}" if cross_dead else "survive"))}
            rows.append(Row(
                cells=[book.labels[r], book.accounts[a], fmt_price(float(iso.shocked_mark[r])),
                       DASH if not math.isfinite(ratio) else fmt_pct(ratio * 100),
                       fmt_price(float(iso.liquidation_price[r])),
                       fmt_money(float(iso.unrealized_pnl[r]), ccy, signed=True), state,
                       fmt_money(float(iso.loss[r]), ccy), verdict],
                raw=[book.labels[r], book.accounts[a], float(iso.shocked_mark[r]),
                     ratio if math.isfinite(ratio) else None, float(iso.liquidation_price[r]),
                     float(iso.unrealized_pnl[r]), step, float(iso.loss[r]), not cross_dead],
                background=dying_bg if step else None, foreground=fg,
                bold=frozenset({0, 6}) if step else frozenset(), tips=tips))
        self.position_model.set_rows(rows)

    def _render_accounts(self, outcome: Outcome) -> None:
        book, iso, cross, t = outcome.book, outcome.isolated, outcome.cross, self.theme
        many = outcome.steps > 1
        dying_bg = QColor(t.danger)
        dying_bg.setAlpha(44)
        rows = []
        for a, name in enumerate(book.accounts):
            ccy = book.currencies[a]
            step = int(cross.liquidated_step[a])
            lost, held = int(iso.positions_lost[a]), int(cross.open_positions[a])
            rows.append(Row(
                cells=[name, fmt_money(float(outcome.equity_now[a]), ccy), f"{lost}/{held}",
                       fmt_money(float(iso.account_loss[a]), ccy), fmt_money(float(iso.equity_after[a]), ccy),
                       ("LIQUIDATED" + (f" @{step}" if many else "")) if step else "survives",
                       fmt_money(float(cross.loss[a]), ccy), fmt_money(float(cross.equity_after[a]), ccy)],
                raw=[name, float(outcome.equity_now[a]), lost, float(iso.account_loss[a]),
                     float(iso.equity_after[a]), step, float(cross.loss[a]), float(cross.equity_after[a])],
                background=dying_bg if step else None,
                foreground={0: self._account_colour(a), 2: t.danger if lost else t.text,
                            5: t.danger if step else t.safe},
                bold=frozenset({0, 5}) | (frozenset({2}) if lost else frozenset()),
                tips={1: ccy, 5: f"cross pool {fmt_money(float(cross.pool[a]), ccy)} {ccy}"}))
        self.account_model.set_rows(rows)
        totals = {k: outcome.totals(v) for k, v in (("now", outcome.equity_now), ("iso_loss", iso.account_loss),
                                                     ("iso_eq", iso.equity_after), ("cross_loss", cross.loss),
                                                     ("cross_eq", cross.equity_after))}
        keys = ("now", "iso_loss", "iso_eq", "cross_loss", "cross_eq")
        self.totals_model.set_rows([
            Row(cells=[c, *(fmt_money(totals[k][c], c) for k in keys)], raw=[c, *(totals[k][c] for k in keys)],
                bold=frozenset({0}))
            for c in dict.fromkeys(book.currencies)])
        self._fit_heights()

    def _account_colour(self, a: int) -> QColor:
        colours = ACCOUNT_COLOURS_DARK if self.theme.dark else ACCOUNT_COLOURS
        return QColor(colours[a % len(colours)])

    def _fit_heights(self) -> None:
        """Accounts and totals show every row; the positions table takes what it needs up to half the height."""
        def height(view: QTableView, rows: int) -> int:
            return view.horizontalHeader().height() + rows * view.verticalHeader().defaultSectionSize() + \
                2 * view.frameWidth() + (view.horizontalScrollBar().sizeHint().height()
                                         if view.horizontalScrollBar().isVisible() else 0)
        for view, model in ((self.account_view, self.account_model), (self.totals_view, self.totals_model)):
            view.setFixedHeight(height(view, model.rowCount()))
        want = height(self.position_view, self.position_model.rowCount()) + 2
        if self.position_view.horizontalScrollBar().maximum() > 0:
            want += self.position_view.horizontalScrollBar().sizeHint().height()
        total = sum(self.vsplit.sizes())
        if total > 0 and not self._split_fitted:  # until the trader drags the splitter
            top = min(want, total // 2)
            self.vsplit.setSizes([top, total - top])

    @Slot()
    def _user_split(self, *_args: object) -> None:
        self._split_fitted = True

    def _render_headline(self, outcome: Outcome) -> None:
        book, iso, cross, t = outcome.book, outcome.isolated, outcome.cross, self.theme
        dead = int(iso.liquidated.sum())
        loss = outcome.totals(iso.account_loss)
        money = " + ".join(f"{fmt_money(v, c)} {c}" for c, v in loss.items() if v > 0) or "nothing"
        iso_col = t.danger if dead else t.safe
        parts = [f'<b>Isolated:</b> <span style="color:{iso_col.name()}"><b>{dead} of {len(book)}</b> positions '
                 f"liquidated</span>, loss {money}."]
        dead_acc = [a for a in range(len(book.accounts)) if cross.liquidated[a]]
        if dead_acc:
            names = ", ".join(f"{book.accounts[a]} (loses {fmt_money(float(cross.pool[a]), book.currencies[a])} "
                              f"{book.currencies[a]})" for a in dead_acc)
            parts.append(f'<b>Cross:</b> <span style="color:{t.danger.name()}"><b>{len(dead_acc)} of '
                         f"{len(book.accounts)}</b> accounts liquidated whole</span>: {_escape(names)}.")
        else:
            parts.append(f'<b>Cross:</b> <span style="color:{t.safe.name()}">every account survives</span>.')
        saved = sum(1 for r in range(len(book)) if iso.liquidated[r] and not cross.liquidated[book.account_index[r]])
        if saved:
            parts.append(f"Cross margin would have saved {saved} of the {dead} liquidated positions.")
        where = (f"Path step {self.replay_slider.value()}/{len(self.path)}." if self.path is not None
                 else "")
        self.headline.setText(" ".join(parts) + (f" {where}" if where else ""))

    def _build_curves(self, book: ScenarioBook) -> None:
        wanted = [(name, mode) for name in book.accounts for mode in ("isolated", "cross")]
        if list(self.curves) == wanted:
            return
        for curve in self.curves.values():
            self.plot.removeItem(curve)
        self.curves = {}
        for a, name in enumerate(book.accounts):
            colour = self._account_colour(a)
            for mode in ("isolated", "cross"):
                style = Qt.PenStyle.SolidLine if mode == "isolated" else Qt.PenStyle.DashLine
                curve = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2, style=style),
                                         name=f"{name} {'iso' if mode == 'isolated' else 'cross'}")
                self.plot.addItem(curve)
                self.curves[(name, mode)] = curve

    @Slot()
    def _render_plot(self, *_args: object) -> None:
        grid, outcome = self.grid, self.outcome
        if grid is None or outcome is None:
            return
        book = outcome.book
        unit = self.unit_combo.currentData() or PCT_UNIT
        self._build_curves(book)
        scale = np.ones(len(book.accounts))
        if unit == PCT_UNIT:
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(outcome.equity_now > 0, 100.0 / outcome.equity_now, np.nan)
            self.plot.getPlotItem().setLabel("left", "equity, % of now")
        else:
            self.plot.getPlotItem().setLabel("left", f"equity ({unit})")
        x = np.asarray(grid.shocks)
        for a, name in enumerate(book.accounts):
            visible = unit == PCT_UNIT or book.currencies[a] == unit
            for mode, values in (("isolated", grid.isolated_equity), ("cross", grid.cross_equity)):
                curve = self.curves[(name, mode)]
                curve.setData(x, values[:, a] * scale[a])
                curve.setVisible(visible)
        spots = []
        for r in range(len(book)):
            s = float(grid.liquidation_shock[r])
            a = int(book.account_index[r])
            if not math.isfinite(s) or not (x[0] <= s <= x[-1]):
                continue
            if unit != PCT_UNIT and book.currencies[a] != unit:
                continue
            y = float(np.interp(s, x, grid.isolated_equity[:, a])) * scale[a]
            spots.append({"pos": (s, y), "data": book.labels[r]})
        self.markers.setData(spots)
        self.plot.getPlotItem().enableAutoRange(axis="y")

    def marker_positions(self) -> list[tuple[float, float, str]]:
        """The liquidation markers now drawn: (shock %, y, position label)."""
        return [(float(p.pos().x()), float(p.pos().y()), p.data()) for p in self.markers.points()]

    # -- teardown ------------------------------------------------------------------------------------

    def closeEvent(self, event: Any) -> None:
        self.debounce.stop()
        self.play_timer.stop()
        super().closeEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
