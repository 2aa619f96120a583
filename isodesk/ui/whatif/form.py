"""The scenario the What-if page's controls describe, and the controls set from a scenario.

:class:`ScenarioForm` is the part of :class:`~isodesk.ui.whatif.workspace.WhatIfWorkspace` that
turns its controls into one :class:`~isodesk.margin.scenario.Scenario` and back: the market shock
(a single jump) or a path scrubbed to a step, own shocks and betas (markets table), margin and
leverage edits (positions table); presets, replayed price paths and loaded saved scenarios.

What the controls mean
----------------------
* **Market shock** on a reference market: every market without an own shock moves ``beta ×
  market shock`` (the reference market moves the full shock). **Own shock** per market: a percent
  of the mark; empty = follow the market. **Beta** per market: default 1.
* **Margin ±** per position: collateral added (+) or removed (−), settlement currency. **New
  lev.** per position: a new leverage, which resets the isolated margin to entry notional ÷
  leverage (as the venues do). Both happen before the prices move.
* **Paths** (:func:`~isodesk.margin.scenario.price_path`): a ``ts,symbol,price`` CSV becomes one
  step per instant of the file, each a percent move of every market the file has named so far
  relative to that market's first row, applied to the page's marks; the *±16 % grid* preset is a
  path of market shocks. The scrub slider picks step ``k``: positions liquidated at any step up to
  ``k`` stay liquidated, survivors are valued at ``k``. A shock edit ends the path.
* **The file as recorded**: opening a path file also asks the desk to replay it at its own prices
  against the book, by the desk's rules (guard, staleness, levels, liquidations), with the fast
  replay engine on a copy of the book, off the desk's thread so the live book is still watched
  (:class:`~isodesk.desk.scenario_jobs.ReplayPath`, :mod:`isodesk.desk.path_jobs`; the desk answers
  "started", then the outcome): who is liquidated when, first crossings, worst distances
  (:class:`~isodesk.desk.replay.outcome.PathOutcome`), shown in one line under the path bar. It is
  what ``isodesk replay`` gives for the same book and file; the page's edits do not enter it.
* **Top-ups** (:mod:`isodesk.ui.whatif.topups`): with *Venue auto-add* or a *Top-up policy*, the
  scenario's outcome and the file as recorded also say which positions the top-ups would save
  and what they would cost (the file then plays on the step desk: slower).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex
from PySide6.QtWidgets import QFileDialog, QWidget

from isodesk.desk.commands import Reply, Result
from isodesk.desk.replay.outcome import PathOutcome
from isodesk.desk.scenario_jobs import ReplayPath
from isodesk.feeds.replay import read_path_csv
from isodesk.margin.scenario import PCT, PricePath, Scenario, ScenarioError, Shock, grid_path, price_path
from isodesk.paths import resource_path
from isodesk.ui.columns import fmt_pct
from isodesk.ui.whatif import markets as markets_mod
from isodesk.ui.whatif.controls import GRID_NAME, GRID_PRESET

if TYPE_CHECKING:
    from isodesk.margin.scenario import Outcome, ScenarioBook
    from isodesk.ui.whatif.controls import OwnShockSlider, PathBar, ShockBar
    from isodesk.ui.whatif.markets import MarketsModel
    from isodesk.ui.whatif.positions import PositionsModel
    from isodesk.ui.whatif.topups import TopUpBar


class ScenarioForm:
    """Controls ↔ :class:`Scenario` (a mixin of the workspace, which owns the widgets named below)."""

    book: ScenarioBook | None
    outcome: Outcome | None
    path: PricePath | None
    positions: PositionsModel
    markets: MarketsModel
    shock_bar: ShockBar
    path_bar: PathBar
    top_up_bar: TopUpBar
    own_slider: OwnShockSlider
    markets_view: Any
    link: Any
    _loading: bool
    path_outcome: PathOutcome | None = None
    _outcome_request: str | None = None
    _outcome_wired: bool = False
    recorded_file: str | None = None
    """The path file whose outcome as recorded was last asked for (asked again when the top-up
    options change)."""

    def _edited(self, *_args: object) -> None:  # the workspace schedules a run
        raise NotImplementedError

    def _say(self, text: str, *, error: bool = False) -> None:  # the workspace's status line
        raise NotImplementedError

    # -- widgets by name (tests and the main window) ---------------------------------------------------

    def position_id(self, label: str) -> int:
        """The id of a position of the edited book by its label."""
        assert self.book is not None
        return int(self.book.position_ids[self.book.labels.index(label)])

    def edit_cell(self, position_id: int, header: str, text: str) -> bool:
        """Write ``text`` into a position's editable cell (``Margin ±`` or ``New lev.``), as typing does."""
        row = self.positions.view_row(position_id)
        assert row is not None
        return self.positions.setData(self.positions.index(row, self.positions.column(header)), text)

    def edit_market(self, market: str, header: str, text: str) -> bool:
        """Write ``text`` into a market's editable cell (``Own shock`` or ``Beta``)."""
        col = markets_mod.HEADERS.index(header)
        return self.markets.setData(self.markets.index(self.markets.row_of(market), col), text)

    @property
    def market_combo(self) -> Any:
        """The reference market chooser."""
        return self.shock_bar.combo

    @property
    def market_slider(self) -> Any:
        """The market-shock slider."""
        return self.shock_bar.slider

    @property
    def market_spin(self) -> Any:
        """The market-shock spin box."""
        return self.shock_bar.spin

    @property
    def replay_slider(self) -> Any:
        """The path's scrub slider."""
        return self.path_bar.slider

    def scenario_values(self) -> dict[str, Any]:
        """Every control's value, plain data (what save → load must reproduce)."""
        margin, leverage = self.positions.scenario_edits()
        return {
            "reference": self.shock_bar.combo.currentText(),
            "market": self.shock_bar.spin.value(),
            "shocks": self.markets.own_shocks(),
            "betas": self.markets.beta_values(),
            "margin": margin,
            "leverage": leverage,
            "path": None if self.path is None else (self.path.name, len(self.path), self.path_bar.slider.value()),
        }

    def scenario(self, *, whole_path: bool = False) -> Scenario:
        """The scenario the controls describe (a path up to the scrubbed step, or all of it)."""
        margin, leverage = self.positions.scenario_edits()
        betas = self.markets.beta_values()
        if self.path is not None:
            step = None if whole_path else self.path_bar.slider.value()
            return self.path.scenario(step, betas=betas, margin_edits=margin, leverage_edits=leverage)
        shocks = {m: Shock.pct(v) for m, v in self.markets.own_shocks().items()}
        ref = self.shock_bar.combo.currentText()
        market = (ref, self.shock_bar.spin.value()) if ref else None
        return Scenario(shocks=shocks, market_shock=market, betas=betas, margin_edits=margin,
                        leverage_edits=leverage)

    def _shock_edited(self, *_args: object) -> None:
        """The market shock moved: back to a single jump (a path ignores the shock controls)."""
        if self._loading or self.book is None:
            return
        if self.path is not None:
            self.clear_path(run=False)
        self._edited()

    def _market_edited(self) -> None:
        if self._loading or self.book is None:
            return
        if self.path is not None and self.markets.own_shocks():
            self.clear_path(run=False)  # an own shock is a single-jump control
        self._market_picked(self.markets_view.currentIndex())
        self._edited()

    def _reference_changed(self, *_args: object) -> None:
        if self._loading or self.book is None:
            return
        if self.path is not None and self.path.name == GRID_NAME:
            self.set_path(grid_path(self.shock_bar.combo.currentText(), GRID_PRESET, GRID_NAME),
                          self.path_bar.slider.value())
            return
        self._edited()

    def _market_picked(self, current: QModelIndex, *_args: object) -> None:
        if self.book is None or not current.isValid():
            self.own_slider.bind(None, 0.0)
            return
        market = self.book.markets[current.row()]
        self.own_slider.bind(market, self.markets.own_shocks().get(market, 0.0))

    def _own_slid(self, market: str, pct: float) -> None:
        self.markets.set_own_shock(market, pct)

    def apply_crash(self, pct: float) -> None:
        """A market crash of ``pct`` percent on the reference market (own shocks cleared)."""
        self._loading = True
        try:
            self.markets.set_values({}, self.markets.beta_values())
            self.shock_bar.set_value(pct)
        finally:
            self._loading = False
        self.clear_path(run=False)
        self._edited()

    def apply_grid_preset(self) -> None:
        """The ±16 % grid: a path of market shocks to scrub."""
        ref = self.shock_bar.combo.currentText()
        if ref:
            self.set_path(grid_path(ref, GRID_PRESET, GRID_NAME))

    def reset(self) -> None:
        """No shocks, betas 1, no edits."""
        self._loading = True
        try:
            self.markets.set_values({}, {})
            self.shock_bar.set_value(0.0)
            self.positions.clear_edits()
        finally:
            self._loading = False
        self.clear_path(run=False)
        self._edited()

    @classmethod
    def ask_path_file(cls, parent: QWidget | None) -> str | None:
        """Ask for a price-path CSV (tests monkeypatch this); None when cancelled."""
        start = str(resource_path("paths"))
        name, _ = QFileDialog.getOpenFileName(parent, "Replay a price path", start, "Price paths (*.csv);;All (*)")
        return name or None

    def choose_replay(self) -> None:
        """Pick a CSV and load it as a path."""
        name = type(self).ask_path_file(self if isinstance(self, QWidget) else None)
        if name:
            self.open_replay(name)

    def open_replay(self, path: str | Path) -> bool:
        """Load a ``ts,symbol,price`` CSV as the path to scrub; False (reason in the status line) if unusable."""
        if self.book is None:
            self._say("the book has not arrived yet", error=True)
            return False
        try:
            replay = price_path(read_path_csv(path), self.book, Path(path).name)
        except (ScenarioError, ValueError) as exc:  # FeedError is a ValueError
            self._say(str(exc), error=True)
            return False
        self.set_path(replay)
        if replay.dropped:
            self._say(f"{replay.name}: not in the book, ignored: {', '.join(replay.dropped)}")
        self.ask_path_outcome(path)
        return True

    def ask_path_outcome(self, path: str | Path) -> str:
        """Ask the desk for the whole-path outcome of the file ``path`` as recorded (the fast replay on
        a copy of the book, off the desk's thread); :attr:`path_outcome` and the line under the
        path bar show the answer to the newest request. Returns its request id."""
        controller = self.link.controller
        if not self._outcome_wired:
            controller.result.connect(self._path_outcome_answered)
            self._outcome_wired = True
        bar = self.top_up_bar
        command = ReplayPath((str(path),), auto_add=bar.auto_add, top_up=bar.policy)
        self.recorded_file = str(path)
        self._outcome_request = command.request_id
        self.path_outcome = None
        controller.send(command)
        self.path_bar.set_outcome_text(f"Replaying {Path(path).name} as recorded, by the desk's rules…")
        return command.request_id

    @property
    def path_outcome_pending(self) -> bool:
        """True while the newest whole-path outcome waits for the desk's answer."""
        return self._outcome_request is not None

    def _path_outcome_answered(self, result: Result) -> None:
        if result.request_id != self._outcome_request:
            return  # another request's answer, or an older file's
        if result.reply == Reply.STARTED:
            return  # the desk replays off its thread (isodesk.desk.path_jobs); the outcome follows
        self._outcome_request = None
        if self.path is None:
            return  # back to shocks meanwhile
        if not result.accepted:
            self.path_bar.set_outcome_text(f"The file as recorded: {result.reason}", error=True)
            return
        self.path_outcome = result.payload
        self.path_bar.set_outcome_text(result.payload.text())

    def set_path(self, path: PricePath, step: int | None = None) -> None:
        """Show ``path`` scrubbed at ``step`` (default: the last). The single-jump shocks are cleared:
        a path replaces them (its prices show in the markets' Shocked column)."""
        self._loading = True
        try:
            self.markets.set_values({}, self.markets.beta_values())
            self.shock_bar.set_value(0.0)
        finally:
            self._loading = False
        self.path = path
        self.path_outcome = None  # a file's outcome is asked for by open_replay, after this
        self._outcome_request = None
        self.path_bar.set_path(path.name, len(path), step)
        self.shock_bar.set_path_mode(True)
        self._scrubbed(self.path_bar.slider.value())

    def clear_path(self, run: bool = True) -> None:
        """Back to the single jump the shock controls describe."""
        was = self.path is not None
        self.path = None
        self.path_outcome = None
        self._outcome_request = None
        self.path_bar.set_path(None, 0)
        self.shock_bar.set_path_mode(False)
        if run and was:
            self._edited()

    def step_text(self, step: int) -> str:
        """What step ``step`` (1-based) of the path does: its time (a recorded path) and moves."""
        assert self.path is not None
        move = self.path.moves[step - 1]
        parts = [f"step {step}/{len(self.path)}"]
        if self.path.times:
            parts.append(datetime.fromtimestamp(self.path.times[step - 1], UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
        if move.market_shock is not None:
            ref, pct = move.market_shock
            parts.append(f"market {fmt_pct(pct, signed=True)} on {ref}")
        else:
            parts.append(", ".join(f"{m.removesuffix('USDT')} {fmt_pct(_pct(s), signed=True)}"
                                   for m, s in list(move.shocks.items())[:4]))
        return " · ".join(parts)

    def _scrubbed(self, step: int) -> None:
        if self.path is None:
            return
        self.path_bar.set_step_text(self.step_text(step))
        self._edited()

    def load_scenario(self, scenario: Scenario) -> None:
        """Set the controls to ``scenario`` (a price shock is shown as its percent of the marks)."""
        if self.book is None:
            return
        book = self.book
        notes: list[str] = []
        shocks: dict[str, float] = {}
        betas: dict[str, float] = {}
        for market, beta in scenario.betas.items():
            try:
                betas[book.markets[book.market(market)]] = float(beta)
            except ScenarioError:
                notes.append(f"beta of {market}: not in the book")
        self._loading = True
        try:
            missing = self.positions.set_edits(scenario.margin_edits, scenario.leverage_edits)
            if missing:
                notes.append(f"positions no longer open: {', '.join(map(str, missing))}")
            if scenario.path is None:
                for market, shock in scenario.shocks.items():
                    try:
                        j = book.market(market)
                    except ScenarioError:
                        notes.append(f"{market}: not in the book")
                        continue
                    s = shock if isinstance(shock, Shock) else Shock.pct(float(shock))
                    shocks[book.markets[j]] = s.value if s.kind == PCT else (s.value / float(book.marks[j]) - 1) * 100
                if scenario.market_shock is not None:
                    ref, pct = scenario.market_shock
                    try:
                        self.shock_bar.combo.setCurrentText(book.markets[book.market(ref)])
                    except ScenarioError:
                        notes.append(f"market shock on {ref}: not in the book")
                    self.shock_bar.set_value(float(pct))
                else:
                    self.shock_bar.set_value(0.0)
            self.markets.set_values(shocks, betas)
        finally:
            self._loading = False
        if scenario.path is not None:
            self.set_path(PricePath("saved path", scenario.moves()))
        else:
            self.clear_path(run=False)
            self._edited()
        if notes:
            self._say("; ".join(notes), error=True)

    def _line_position(self) -> float:
        if self.path is None:
            return float(self.shock_bar.spin.value())
        if self.outcome is not None:
            ref = self.shock_bar.combo.currentText()
            if ref in self.outcome.book.markets:
                j = self.outcome.book.markets.index(ref)
                return float((self.outcome.prices[-1, j] / self.outcome.book.marks[j] - 1.0) * 100.0)
        return 0.0


def _pct(shock: Any) -> float:
    return shock.value if isinstance(shock, Shock) and shock.kind == PCT else float(getattr(shock, "value", shock))
