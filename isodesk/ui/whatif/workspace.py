"""The What-if workspace: shock the book, edit collateral and leverage, replay a price path — on a copy.

A page of the main window beside the live view (never a dock squeezing it). Everything it shows
is the desk's answer: when first shown it asks for the book and its marks, and keeps those marks
— the label says of when ("Marks of 14:02:11") — until the trader presses *Take the live marks*.
Each edit turns the controls into one :class:`~isodesk.margin.scenario.Scenario`
(:mod:`~isodesk.ui.whatif.form`) and, 150 ms after the last edit, sends ONE run (pinned marks,
uniform grid) through :mod:`~isodesk.ui.whatif.desk_link`; only the answer to the newest run is
rendered (QT-PRACTICES §3.2, §5.7). Editing never writes the real book: the only commands that do
are the collateral moves of *Apply collateral edits* (:mod:`~isodesk.ui.whatif.apply`), sent after
an inline confirmation.

Layout, top to bottom: marks, presets and saved scenarios (:mod:`~isodesk.ui.whatif.controls`,
:mod:`~isodesk.ui.whatif.saved`); market shock and path; the headline; then the positions (edits
and outcome in one table with editable cells, :mod:`~isodesk.ui.whatif.positions`) and markets
(:mod:`~isodesk.ui.whatif.markets`) in tabs, the accounts and currency totals under them
(:mod:`~isodesk.ui.whatif.results`), and the equity-vs-shock plot (:mod:`~isodesk.ui.whatif.plot`)
on the right.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.commands import Result
from isodesk.desk.scenario_jobs import MarkedBook
from isodesk.desk.settings import DEFAULTS
from isodesk.margin.scenario import GridOutcome, Outcome, PricePath, ScenarioBook, ScenarioError
from isodesk.ui.columns import fmt_price
from isodesk.ui.theme import Theme
from isodesk.ui.whatif import markets as markets_mod
from isodesk.ui.whatif import positions as positions_mod
from isodesk.ui.whatif import results
from isodesk.ui.whatif.apply import ApplyBar, plan_text
from isodesk.ui.whatif.common import EditableTable, default_theme, fit_columns, muted_style, table_view
from isodesk.ui.whatif.controls import MarksBar, OwnShockSlider, PathBar, PresetsBar, ShockBar
from isodesk.ui.whatif.desk_link import DeskLink
from isodesk.ui.whatif.form import ScenarioForm
from isodesk.ui.whatif.markets import MarketsModel
from isodesk.ui.whatif.plot import EquityPlot
from isodesk.ui.whatif.positions import PositionsModel
from isodesk.ui.whatif.saved import SavedScenarios
from isodesk.ui.whatif.topups import TopUpBar, top_up_sentence
from isodesk.ui.worker import DeskController

DEBOUNCE_MS = 150


class WhatIfWorkspace(ScenarioForm, QWidget):
    """Edit a scenario on a copy of the book and see the isolated and the cross outcome beside it.

    Signals:
        book_loaded(object): the :class:`ScenarioBook` the page now edits.
        marks_taken(float): the page took the live marks of this time (Unix seconds, desk clock).
        outcome_shown(object): ``(Outcome, GridOutcome)`` just rendered (newest request only).
        scenarios_listed(object): the saved names (tuple of str).
        answered(object): the :class:`Result` of any other request this page sent (save, load,
            rename, delete, a collateral move), after it was handled.
    """

    book_loaded = Signal(object)
    marks_taken = Signal(float)
    outcome_shown = Signal(object)
    scenarios_listed = Signal(object)
    answered = Signal(object)

    def __init__(self, controller: DeskController, parent: QWidget | None = None, *, theme: Theme | None = None):
        super().__init__(parent)
        self.setObjectName("whatif-workspace")
        self.controller = controller
        self.theme = theme or default_theme()
        self.book: ScenarioBook | None = None
        self.outcome: Outcome | None = None
        self.grid: GridOutcome | None = None
        self.path: PricePath | None = None
        self.taken_at: float | None = None
        self.pinned: tuple[tuple[str, float], ...] | None = None
        self._loading = False
        self._asked_book = False
        self._apply_plan: list[tuple[int, Decimal]] = []
        self.link = DeskLink(controller, self)
        self._split_sized = False
        self._wanted: int | None = None  # a position to select once the book is there
        self._fitted = False  # column widths measured on the next outcome (a new book, a new font)

        self.debounce = QTimer(self)
        self.debounce.setObjectName("scenario-debounce")
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self.run_now)

        self._build()
        self._wire()
        self.set_theme(self.theme)

    # -- layout ------------------------------------------------------------------------------------

    def _build(self) -> None:
        theme = self.theme
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(4)

        top = QHBoxLayout()
        self.marks_bar = MarksBar(self)
        top.addWidget(self.marks_bar)
        top.addWidget(_separator(self))
        self.presets = PresetsBar(self)
        top.addWidget(self.presets)
        top.addStretch(1)
        self.saved = SavedScenarios(self)
        top.addWidget(self.saved)
        outer.addLayout(top)
        outer.addWidget(self.saved.name_bar)

        mid = QHBoxLayout()
        self.shock_bar = ShockBar(self)
        mid.addWidget(self.shock_bar, 1)
        mid.addWidget(_separator(self))
        self.path_bar = PathBar(theme, self)
        mid.addWidget(self.path_bar, 1)
        outer.addLayout(mid)
        self.top_up_bar = TopUpBar(theme, self)  # venue auto-add, the trader's policy (isodesk.ui.whatif.topups)
        outer.addWidget(self.top_up_bar)

        self.headline = QLabel("", self)
        self.headline.setObjectName("scenario-headline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        outer.addWidget(self.headline)
        self.status = QLabel("", self)
        self.status.setObjectName("scenario-status")
        self.status.setWordWrap(True)
        self.status.hide()
        outer.addWidget(self.status)

        self.split = QSplitter(Qt.Orientation.Horizontal, self)
        self.split.setObjectName("whatif-split")
        self.split.setChildrenCollapsible(False)
        outer.addWidget(self.split, 1)

        self.tabs = QTabWidget(self.split)
        self.tabs.setObjectName("whatif-tabs")
        self.tabs.setDocumentMode(True)
        positions_page = QWidget(self.tabs)
        pv = QVBoxLayout(positions_page)
        pv.setContentsMargins(0, 2, 0, 0)
        pv.setSpacing(2)
        self.positions = PositionsModel(theme, self)
        self.positions_view = EditableTable(self.positions, positions_page, "position-results")
        self.positions_view.setSortingEnabled(False)
        self.positions_view.horizontalHeader().setSortIndicatorShown(True)
        self.positions_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.positions_view.setSortingEnabled(True)
        self.positions_view.setMinimumHeight(90)
        self.positions_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        pv.addWidget(self.positions_view, 1)
        self.apply_bar = ApplyBar(theme, positions_page)
        pv.addWidget(self.apply_bar)
        self.tabs.addTab(positions_page, "Positions")
        markets_page = QWidget(self.tabs)
        mv = QVBoxLayout(markets_page)
        mv.setContentsMargins(0, 2, 0, 0)
        mv.setSpacing(2)
        self.markets = MarketsModel(theme, self)
        self.markets_view = EditableTable(self.markets, markets_page, "symbol-table")
        self.markets_view.setMinimumHeight(90)
        mv.addWidget(self.markets_view, 1)
        self.own_slider = OwnShockSlider(markets_page)
        mv.addWidget(self.own_slider)
        self.tabs.addTab(markets_page, "Markets")

        self.account_model = results.accounts_model(theme, self)
        self.totals_model = results.totals_model(theme, self)
        self.account_view = table_view(self.account_model, self, "account-results")
        self.totals_view = table_view(self.totals_model, self, "totals")
        for view in (self.account_view, self.totals_view):  # the whole width, every row: fixed heights
            view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            view.horizontalHeader().setStretchLastSection(False)
            outer.addWidget(view)

        self.plot = EquityPlot(theme, self.split)
        self.split.addWidget(self.tabs)
        self.split.addWidget(self.plot)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self._fit_lower()

    def _wire(self) -> None:
        self.marks_bar.take_requested.connect(self.take_live_marks)
        self.presets.crash.connect(self.apply_crash)
        self.presets.grid.connect(self.apply_grid_preset)
        self.presets.open_path.connect(self.choose_replay)
        self.presets.reset.connect(self.reset)
        self.shock_bar.shock_changed.connect(self._shock_edited)
        self.shock_bar.reference_changed.connect(self._reference_changed)
        self.path_bar.scrubbed.connect(self._scrubbed)
        self.path_bar.back_requested.connect(self.clear_path)
        self.top_up_bar.changed.connect(self._top_ups_changed)
        self.positions.edits_changed.connect(self._edited)
        self.positions.refused.connect(self._refused)
        self.markets.edits_changed.connect(self._market_edited)
        self.markets.refused.connect(self._refused)
        self.markets_view.selectionModel().currentRowChanged.connect(self._market_picked)
        self.own_slider.moved.connect(self._own_slid)
        self.positions_view.customContextMenuRequested.connect(self._position_menu)
        self.saved.load_requested.connect(self.link.load)
        self.saved.save_requested.connect(self.save_as)
        self.saved.rename_requested.connect(self.link.rename)
        self.saved.delete_requested.connect(self.link.delete)
        self.saved.problem.connect(lambda text: self._say(text, error=True))
        self.apply_bar.apply_clicked.connect(self.ask_apply)
        self.apply_bar.confirmed.connect(self.confirm_apply)
        link = self.link
        link.book_taken.connect(self.take)
        link.outcome_ready.connect(self._show)
        link.run_refused.connect(self._run_refused)
        link.names_listed.connect(self._names_listed)
        link.scenario_loaded.connect(self.load_scenario)
        link.collateral_answered.connect(self._collateral_answered)
        link.answered.connect(self._answered)

    def _fit_lower(self) -> None:
        """Accounts and totals show every row (they are short); the tabs take the rest."""
        for view, model in ((self.account_view, self.account_model), (self.totals_view, self.totals_model)):
            rows = max(model.rowCount(), 1)
            bar = view.horizontalScrollBar()
            extra = bar.sizeHint().height() if bar.maximum() > 0 else 0
            view.setFixedHeight(view.horizontalHeader().sizeHint().height() + rows * view.verticalHeader()
                                .defaultSectionSize() + 2 * view.frameWidth() + extra)

    # -- theme -------------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        """Apply ``theme`` (the window's): tables, plot, texts; the outcome is re-rendered."""
        self.theme = theme
        self.positions.set_theme(theme)
        self.markets.set_theme(theme)
        self.plot.set_theme(theme)
        self.path_bar.set_theme(theme)
        self.top_up_bar.set_theme(theme)
        self.apply_bar.set_theme(theme)
        self.marks_bar.label.setStyleSheet("font-weight: bold;")
        for view in (self.positions_view, self.markets_view, self.account_view, self.totals_view):
            view.setFont(theme.font)
        self._fitted = False
        if self.outcome is not None and self.grid is not None:
            self._render(self.outcome, self.grid)

    # -- the book and its marks ----------------------------------------------------------------------

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._split_sized:  # the tables get 62 % of the width, the plot the rest
            self._split_sized = True
            width = max(self.split.width(), 600)
            self.split.setSizes([width * 62 // 100, width - width * 62 // 100])
        if not self._asked_book:
            self.refresh()

    def hideEvent(self, event: Any) -> None:
        self.path_bar.play_button.setChecked(False)  # nothing plays behind the live view
        super().hideEvent(event)

    @Slot()
    def refresh(self) -> None:
        """Take the live marks and the book (edits that still apply are kept) and the saved names."""
        self._asked_book = True
        self.link.take_marks()
        self.link.list_names()

    @Slot()
    def take_live_marks(self) -> str:
        """Start from the live book's marks of now (edits and shocks are kept); returns the request id."""
        self._asked_book = True
        return self.link.take_marks()

    @Slot(object, bool)
    def take(self, marked: MarkedBook, keep_marks: bool = False) -> None:
        """Edit ``marked.book`` starting from its marks (of ``marked.taken_at``), or from the marks
        already taken when ``keep_marks`` (the book changed under us: a position closed)."""
        book = marked.book
        if keep_marks and self.pinned is not None:
            book = book.with_marks(dict(self.pinned))
        else:
            self.taken_at = marked.taken_at
            self.pinned = marked.marks()
            listed = ", ".join(f"{m} {fmt_price(p)}" for m, p in self.pinned[:12])
            more = f" and {len(self.pinned) - 12} more" if len(self.pinned) > 12 else ""
            self.marks_bar.set_taken(marked.taken_at, listed + more)
        self._set_book(book)
        if not keep_marks:
            self.marks_taken.emit(marked.taken_at)
        self._edited()

    def _set_book(self, book: ScenarioBook) -> None:
        self._loading = True
        try:
            self.book = book
            self.positions.set_book(book)
            self.markets.set_book(book)
            self.shock_bar.set_markets(book.markets)
            self.plot.set_book(book)
        finally:
            self._loading = False
        self._fitted = False
        self.tabs.setTabText(0, f"Positions ({len(book)})")
        self.tabs.setTabText(1, f"Markets ({len(book.markets)})")
        self._market_picked(self.markets_view.currentIndex())
        if self._wanted is not None:
            self.select_position(self._wanted)
        self.book_loaded.emit(book)

    def select_position(self, position_id: int | None) -> bool:
        """Select a position's row and bring it into view (the live view's selection, say); False
        if the book does not hold it (yet: it is selected when the book arrives)."""
        self._wanted = position_id
        row = None if position_id is None else self.positions.view_row(position_id)
        if row is None:
            return False
        self._wanted = None
        index = self.positions.index(row, 0)
        self.positions_view.setCurrentIndex(index)
        self.positions_view.scrollTo(index)
        return True

    # -- runs -----------------------------------------------------------------------------------------

    @Slot()
    def _edited(self, *_args: object) -> None:
        if self._loading or self.book is None:
            return
        self.plot.set_line(self._line_position())
        self.apply_bar.button.setEnabled(bool(self.positions.margin_edits) and not self.link.collateral_pending)
        self.debounce.start()

    @Slot(str)
    def _refused(self, reason: str) -> None:
        self._say(reason, error=True)

    @Slot()
    def run_now(self) -> None:
        """Send the scenario now (the debounce timer calls this 150 ms after the last edit)."""
        self.debounce.stop()
        if self.book is None:
            return
        try:
            scenario = self.scenario()
        except ScenarioError as exc:
            self._say(str(exc), error=True)
            return
        self.link.run(scenario, self.pinned, auto_add=self.top_up_bar.auto_add, top_up=self.top_up_bar.policy)

    @Slot()
    def _top_ups_changed(self) -> None:
        """The top-up options changed: the scenario again, and the file as recorded again if one is open."""
        self._edited()
        if self.path is not None and self.recorded_file is not None:
            self.ask_path_outcome(self.recorded_file)

    @property
    def busy(self) -> bool:
        """True while an edit waits for its debounce or the newest run waits for the desk's answer."""
        return self.debounce.isActive() or self.link.run_pending

    @Slot(str)
    def _run_refused(self, reason: str) -> None:
        self._say(reason, error=True)
        self.headline.setText(f'<span style="color:{self.theme.muted.name()}">The figures below are from the '
                              "previous scenario; the desk refused this one (see why below).</span>")
        if "not an open position" in reason:
            self.link.take_marks(keep=True)  # the book moved: follow it, with the same marks

    # -- saved scenarios -----------------------------------------------------------------------------

    @property
    def saved_names(self) -> tuple[str, ...]:
        """The names of the saved scenarios."""
        return self.saved.names()

    def save_as(self, name: str) -> str:
        """Store the current scenario (a path whole) under ``name``; returns the request id."""
        return self.link.save(name, self.scenario(whole_path=True))

    @Slot(object, object)
    def _names_listed(self, names: tuple[str, ...], select: str | None) -> None:
        self.saved.set_names(names, select)
        self.scenarios_listed.emit(self.saved.names())

    # -- the positions' context menu -----------------------------------------------------------------

    @Slot(QPoint)
    def _position_menu(self, pos: QPoint) -> None:
        index = self.positions_view.indexAt(pos)
        if not index.isValid():
            return
        menu = self.position_menu(index.row())
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.positions_view.viewport().mapToGlobal(pos))

    def position_menu(self, row: int) -> QMenu:
        """The actions on a position row: add what it needs, clear its edits."""
        menu = QMenu(self)
        model = self.positions
        pid = model.position_id(row)
        assert self.book is not None
        ccy = self.book.currencies[int(self.book.account_index[self.book.row(pid)])]
        gap = model.needs_top_up(row)
        col = model.column("Margin ±")
        current = Decimal(model.data(model.index(row, col), Qt.ItemDataRole.EditRole) or 0)
        give = menu.addAction(f"Add what it needs (+{gap} {ccy})" if gap is not None
                              else "It holds what it needs")
        give.setObjectName("give-needs")
        give.setEnabled(gap is not None)
        if gap is not None:
            total = current + gap if current > 0 else gap
            give.triggered.connect(lambda: model.setData(model.index(row, col), f"{total:+f}"))
        clear = menu.addAction("Clear its edits")
        clear.setObjectName("clear-edits")
        clear.triggered.connect(lambda: (model.setData(model.index(row, col), ""),
                                         model.setData(model.index(row, model.column("New lev.")), "")))
        return menu

    # -- apply collateral edits ------------------------------------------------------------------------

    @Slot()
    def ask_apply(self) -> None:
        """Show the inline confirmation for moving real collateral as edited."""
        if self.book is None or not self.positions.margin_edits:
            return
        self._apply_plan = sorted(self.positions.margin_edits.items())
        lev = " Leverage edits stay in the scenario (no command moves them)." if self.positions.leverage_edits else ""
        self.apply_bar.ask(f"This changes the real book: {plan_text(self.book, self._apply_plan)}.{lev}")

    @Slot()
    def confirm_apply(self) -> None:
        """Send one AddCollateral / RemoveCollateral per planned position; each answer is reported."""
        plan, self._apply_plan = self._apply_plan, []
        self.link.move_collateral(plan)
        self.apply_bar.button.setEnabled(False)

    @Slot(object, int)
    def _collateral_answered(self, result: Result, pid: int) -> None:
        book = self.book
        label = book.labels[book.row(pid)] if book is not None and pid in set(book.position_ids.tolist()) else pid
        self.apply_bar.add_answer(result.reason if result.accepted else f"{label}: refused — {result.reason}",
                                  result.accepted)
        if result.accepted:
            self.positions.drop_margin_edit(pid)  # the book now holds it; keeping it would count it twice
        if not self.link.collateral_pending:
            self._edited()  # the next run reads the new margins from the book
        self.answered.emit(result)

    # -- answers ---------------------------------------------------------------------------------------

    @Slot(object, str)
    def _answered(self, result: Result, kind: str) -> None:
        """A book, save, load, rename or delete answer: its sentence in the status line."""
        if not result.accepted:
            self._say(result.reason, error=True)
        elif kind != "book":
            self._say(result.reason)
        if kind != "book":
            self.answered.emit(result)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setStyleSheet(f"color: {self.theme.danger.name()};" if error else muted_style(self.theme))

    # -- rendering -----------------------------------------------------------------------------------

    @Slot(object, object)
    def _show(self, outcome: Outcome, grid: GridOutcome) -> None:
        self._say("")
        book = outcome.book
        if self.book is None or self.book.markets != book.markets or not np.array_equal(
                self.book.position_ids, book.position_ids):
            self._set_book(book)  # the book moved under us (a position closed): follow it
        self.book = book
        self.outcome, self.grid = outcome, grid
        self._render(outcome, grid)
        self.outcome_shown.emit((outcome, grid))

    def _render(self, outcome: Outcome, grid: GridOutcome) -> None:
        self.positions.set_outcome(outcome)
        self.markets.set_outcome(outcome)
        results.render_accounts(self.account_model, outcome, self.theme)
        results.render_totals(self.totals_model, outcome, self.theme)
        where = (f"Path step {self.path_bar.slider.value()}/{len(self.path)}." if self.path is not None else "")
        rescue = top_up_sentence(outcome, self.theme)
        alert_pct = self.odds_alert_pct()
        self.positions.odds_alert_pct = alert_pct
        self.headline.setText(results.headline(outcome, self.theme, where, odds_alert_pct=alert_pct)
                              + (f" {rescue}" if rescue else ""))
        self.plot.show_outcome(outcome, grid)
        self.plot.set_line(self._line_position())
        if not self._fitted:
            self._fitted = True
            fit_columns(self.positions_view, positions_mod.SAMPLES)
            fit_columns(self.markets_view, markets_mod.SAMPLES)
            fit_columns(self.account_view, results.ACCOUNT_SAMPLES)
            fit_columns(self.totals_view, results.TOTAL_SAMPLES)
        self._fit_lower()

    def odds_alert_pct(self) -> float:
        """The trader's ``odds.alert_pct`` (percent) from the desk's latest snapshot, else the default."""
        settings = getattr(getattr(self.controller, "latest", None), "settings", None)
        value = getattr(settings, "odds_alert_pct", None)
        return float(value) if isinstance(value, (int, float)) else DEFAULTS.odds_alert_pct

    def marker_positions(self) -> list[tuple[float, float, str]]:
        """The liquidation markers now drawn: (shock %, y, position label)."""
        return self.plot.marker_positions()

    @property
    def curves(self) -> dict[tuple[str, str], Any]:
        """The plot's curves by (account, mode)."""
        return self.plot.curves

    def per_position_widgets(self) -> list[QWidget]:
        """Widgets living in the positions or markets tables' cells (index widgets, open editors
        aside there should be none: cells are painted, not built)."""
        return [w for view in (self.positions_view, self.markets_view)
                for w in view.viewport().findChildren(QWidget)]

    def closeEvent(self, event: Any) -> None:
        self.debounce.stop()
        self.path_bar.timer.stop()
        super().closeEvent(event)


def _separator(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line

