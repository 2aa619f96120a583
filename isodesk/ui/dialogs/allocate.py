"""Account → "Allocate free collateral…": preview where a budget of free balance should go, and send it.

Two goals, as ``isodesk allocate --goal``:

- ``distance`` (make the smallest distance to liquidation as large as possible): the pure core's plan
  (:func:`isodesk.margin.allocate.allocate`) computed here off the desk's snapshot, as every form
  previews one position with the engine: the rows of the chosen account, each at its mark (its
  entry price where it has none), holding its isolated margin;
- ``survive`` a saved scenario (the most positions surviving it for the least collateral): the
  scenario lives in the book, so the desk computes the plan on its own book
  (:class:`~isodesk.desk.allocation.PlanAllocation`, a read) and the form shows its answer; the
  GUI thread never waits for it (the Confirm button does).

Confirm sends one
:class:`~isodesk.desk.allocation.AllocateCollateral` with the previewed top-ups; the desk adds them
all in one transaction or none, and its answer is what counts.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from PySide6.QtCore import QLocale, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from isodesk.desk.allocation import AllocateCollateral, PlanAllocation
from isodesk.desk.commands import Command, Result
from isodesk.desk.levels import Thresholds
from isodesk.desk.scenario_jobs import ListScenarios
from isodesk.desk.snapshot import Snapshot
from isodesk.margin import PositionBatch
from isodesk.margin.allocate import AllocationError, Holdings, Plan, allocate
from isodesk.ui.columns import money_decimals
from isodesk.ui.dialogs.amount import floor_amount
from isodesk.ui.dialogs.base import (
    DeskDialog,
    amount_with_max,
    fmt_opt,
    hint_label,
    money_text,
    position_of,
    segmented,
)
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

HEADERS = ("Position", "Add", "Liq. price", "Distance")
GOALS = (("distance", "Widest distance"), ("survive", "Survive a scenario"))


def holdings_from_snapshot(snapshot: Snapshot, account: str, free: Decimal) -> Holdings:
    """The open positions of ``account`` in a snapshot as the allocation takes them: each at its
    mark (the entry price where there is none), holding its isolated margin; ``free`` exact."""
    book = snapshot.book
    rows = [r for r in range(len(book.position_ids)) if book.accounts[r] == account and book.statuses[r] == "open"]
    positions = [position_of(snapshot, r, float(snapshot.cols["isolated_margin"][r])) for r in rows]
    marks = []
    for r in rows:
        mark = float(snapshot.cols["mark"][r])
        marks.append(mark if math.isfinite(mark) and mark > 0 else float(snapshot.cols["entry_price"][r]))
    currency = next((a.currency for a in snapshot.accounts if a.name == account), "")
    return Holdings(account=account, currency=currency,
                    batch=PositionBatch.from_positions(positions, validate=False),
                    marks=np.array(marks, dtype=np.float64),
                    position_ids=tuple(int(book.position_ids[r]) for r in rows),
                    labels=tuple(book.labels[r] for r in rows), free=free)


class AllocateDialog(DeskDialog):
    """Split a budget of an account's free balance over its positions (goal: the largest smallest
    distance to liquidation), previewed per position, sent as one command.

    Signals: those of :class:`DeskDialog`.
    """

    confirm_text = "Allocate"

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 account: str | None = None, theme: Theme | None = None, thresholds: Thresholds | None = None,
                 locale: QLocale | None = None):
        super().__init__(controller, snapshot, parent, theme=theme, thresholds=thresholds)
        self.locale_ = locale if locale is not None else QLocale()
        self.plan: Plan | None = None
        self.setWindowTitle("Allocate free collateral")
        self.setMinimumWidth(680)
        form = QFormLayout()
        self.account_box = QComboBox(self)
        self.account_box.setObjectName("account")
        for a in self.snapshot.accounts:
            if a.open_positions > 0:
                self.account_box.addItem(a.name, a.name)
        index = self.account_box.findData(account) if account else -1
        self.account_box.setCurrentIndex(max(index, 0))
        self.account_box.currentIndexChanged.connect(self.schedule)
        form.addRow("Account", self.account_box)
        self.goal_group, goal_box = segmented(self, GOALS, "distance")
        self.goal_group.buttonToggled.connect(self._goal_changed)
        form.addRow("Goal", goal_box)
        self.scenario_box = QComboBox(self)
        self.scenario_box.setObjectName("scenario")
        self.scenario_box.setEnabled(False)
        self.scenario_box.setPlaceholderText("the desk is listing the saved scenarios…")
        self.scenario_box.currentIndexChanged.connect(self.schedule)
        form.addRow("Scenario", self.scenario_box)
        form.addRow("Budget", amount_with_max(self, "budget", "All free"))
        self.free_label = QLabel("", self)
        self.free_label.setObjectName("free")
        form.addRow("Free balance", self.free_label)
        self.body.addLayout(form)
        self.table = QTableWidget(0, len(HEADERS), self)
        self.table.setObjectName("plan")
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # one account's rows: few
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.body.addWidget(self.table)
        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("summary")
        self.summary_label.setWordWrap(True)
        self.body.addWidget(self.summary_label)
        self.body.addWidget(hint_label("Widest distance: the budget goes where it lifts the position closest to "
                                       "liquidation, until the smallest distance is as large as the budget allows. "
                                       "Survive a scenario: the cheapest positions to save from a saved What-if "
                                       "scenario first. Marks are the desk's latest; the desk adds every top-up at "
                                       "once or none.", self.theme, self))
        self._reads: dict[str, str] = {}  # request id of a read this form sent → what it asked
        self._asked: tuple[str, Decimal, str] | None = None  # the survive plan asked of the desk (or shown)
        self._desk_plan: Plan | None = None
        self._desk_refusal = ""
        controller.result.connect(self._on_read)
        self._send_read(ListScenarios(), "scenarios")
        self.finish_layout()
        self.amount.setFocus()

    def account(self) -> str | None:
        """The chosen account name."""
        data = self.account_box.currentData()
        return None if data is None else str(data)

    def _totals(self):  # type: ignore[no-untyped-def]
        return next((a for a in self.snapshot.accounts if a.name == self.account()), None)

    def _free(self) -> Decimal:
        totals = self._totals()
        if totals is None or not totals.free_balance > 0:
            return Decimal(0)
        return floor_amount(totals.free_balance)

    def fill_max(self) -> None:
        """The whole free balance, rounded down to the currency's display precision."""
        totals = self._totals()
        if totals is not None and totals.free_balance > 0:
            self.amount.set_amount(floor_amount(totals.free_balance, money_decimals(totals.currency)))
        self.refresh()

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.account_box, self.amount, self.max_button, *self.goal_group.buttons()):
            w.setEnabled(enabled)
        self.scenario_box.setEnabled(enabled and self.scenario_box.count() > 0 and self.goal() == "survive")

    def goal(self) -> str:
        """The chosen goal: ``distance`` or ``survive``."""
        button = self.goal_group.checkedButton()
        return button.objectName() if button is not None else "distance"

    def scenario(self) -> str | None:
        """The chosen saved scenario (None when there is none)."""
        data = self.scenario_box.currentData()
        return None if data is None else str(data)

    def _goal_changed(self, *_args: object) -> None:
        self.scenario_box.setEnabled(self.goal() == "survive" and self.scenario_box.count() > 0)
        self.schedule()

    def _send_read(self, command: ListScenarios | PlanAllocation, what: str) -> None:
        self._reads[self.controller.send(command)] = what  # type: ignore[arg-type]

    @Slot(object)
    def _on_read(self, result: Result) -> None:
        """The desk's answer to a read this form sent: the saved scenarios, or a survive plan."""
        what = self._reads.pop(result.request_id, None)
        if what == "scenarios":
            names = result.payload if result.accepted and isinstance(result.payload, tuple) else ()
            self.scenario_box.clear()
            for name in names:
                self.scenario_box.addItem(str(name), str(name))
            self.scenario_box.setPlaceholderText("no saved scenario: save one in the What-if workspace"
                                                 if not names else "")
            self.scenario_box.setEnabled(bool(names) and self.goal() == "survive")
            self.refresh()
        elif what is not None and what == repr(self._asked):  # the answer to the latest question only
            self._desk_plan = result.payload if result.accepted and isinstance(result.payload, Plan) else None
            self._desk_refusal = "" if result.accepted else result.reason
            self.refresh()

    def _show_plan(self, plan: Plan | None, outcome: str = "") -> None:
        """Show ``plan`` (None: none) in the table and, under it, what it adds and ``outcome``."""
        self.plan = plan
        self.table.setRowCount(0 if plan is None else len(plan.rows))
        self.summary_label.setText("" if plan is None else
                                   f"Adds {money_text(plan.total, plan.currency)} {plan.currency}; {outcome}")
        if plan is None:
            return
        ccy = plan.currency
        for i, r in enumerate(plan.rows):
            cells = (r.label, money_text(r.add, ccy) if r.add > 0 else "—",
                     f"{fmt_opt(r.liquidation_price_before, 'price')} → {fmt_opt(r.liquidation_price, 'price')}",
                     f"{fmt_opt(r.distance_frac_before, 'distance')} → {fmt_opt(r.distance_frac, 'distance')}")
            for j, text in enumerate(cells):
                self.table.setItem(i, j, QTableWidgetItem(text))

    def evaluate(self) -> str:
        self.plan = None
        name = self.account()
        if name is None:
            self._show_plan(None)
            return "account: no account has an open position"
        totals = self._totals()
        currency = totals.currency if totals is not None else ""
        self.currency_label.setText(currency)
        free = self._free()
        self.free_label.setText(f"{money_text(free, currency)} {currency}")
        self.max_button.setEnabled(self.pending is None and free > 0)
        amount = self.amount.value()
        if amount is None:
            self._show_plan(None)
            return f"amount: {self.amount.error()}"
        if self.goal() == "survive":
            return self._evaluate_survive(name, amount)
        try:
            plan = allocate(amount, holdings_from_snapshot(self.snapshot, name, free))
        except AllocationError as exc:
            self._show_plan(None)
            return str(exc).replace("AMOUNT:", "amount:", 1)
        self._show_plan(plan, f"smallest distance to liquidation {fmt_opt(plan.min_distance_frac_before, 'distance')} "
                              f"→ {fmt_opt(plan.min_distance_frac, 'distance')}")
        if not plan.top_ups:
            return "the plan adds nothing: every position is already as far as this budget can lift the closest"
        return ""

    def _evaluate_survive(self, account: str, amount: Decimal) -> str:
        """The desk's survive plan for these inputs: asked once per change of input, shown when answered."""
        scenario = self.scenario()
        if scenario is None:
            self._show_plan(None)
            return ("scenario: the desk is listing the saved scenarios" if "scenarios" in self._reads.values()
                    else "scenario: no saved scenario; save one in the What-if workspace first")
        question = (account, amount, scenario)
        if question != self._asked:
            self._asked, self._desk_plan, self._desk_refusal = question, None, ""
            self._send_read(PlanAllocation(account=account, budget=amount, goal="survive", scenario=scenario),
                            repr(question))
        plan = self._desk_plan
        if plan is None:
            self._show_plan(None)
            return self._desk_refusal.replace("AMOUNT:", "amount:", 1) or "waiting for the desk's plan…"
        self._show_plan(plan, f"{plan.survivors_before} → {plan.survivors} of {len(plan.rows)} positions survive "
                              f"{scenario!r}")
        if not plan.top_ups:
            return f"the plan adds nothing: no position this budget can save from {scenario!r} needs it"
        return ""

    def build_command(self) -> Command:
        assert self.plan is not None
        survive = self.plan.goal == "survive"
        reason = f"allocation (survive: {self.plan.scenario})" if survive else "allocation (distance)"
        return AllocateCollateral(account=self.plan.account, top_ups=self.plan.top_ups,  # type: ignore[return-value]
                                  reason=reason)
