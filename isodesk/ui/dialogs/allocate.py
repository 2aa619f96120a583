"""Account → "Allocate free collateral…": preview where a budget of free balance should go, and send it.

The plan is the pure core's (:func:`isodesk.margin.allocate.allocate`, goal ``distance``: make the
smallest distance to liquidation as large as possible) computed here off the desk's snapshot, as
every form previews one position with the engine: the rows of the chosen account, each at its
mark (its entry price where it has none), holding its isolated margin. Confirm sends one
:class:`~isodesk.desk.allocation.AllocateCollateral` with the previewed top-ups; the desk adds them
all in one transaction or none, and its answer is what counts.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from PySide6.QtCore import QLocale
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

from isodesk.desk.allocation import AllocateCollateral
from isodesk.desk.commands import Command
from isodesk.desk.levels import Thresholds
from isodesk.desk.snapshot import Snapshot
from isodesk.margin import PositionBatch
from isodesk.margin.allocate import AllocationError, Holdings, Plan, allocate
from isodesk.ui.columns import money_decimals
from isodesk.ui.dialogs.amount import floor_amount
from isodesk.ui.dialogs.base import DeskDialog, amount_with_max, fmt_opt, hint_label, money_text, position_of
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

HEADERS = ("Position", "Add", "Liq. price", "Distance")


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
        self.setMinimumWidth(560)
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
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.body.addWidget(self.table)
        self.summary_label = QLabel("", self)
        self.summary_label.setObjectName("summary")
        self.summary_label.setWordWrap(True)
        self.body.addWidget(self.summary_label)
        self.body.addWidget(hint_label("The budget goes where it lifts the position closest to liquidation, "
                                       "until the smallest distance is as large as the budget allows. Marks are "
                                       "the desk's latest; the desk adds every top-up at once or none.",
                                       self.theme, self))
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
        for w in (self.account_box, self.amount, self.max_button):
            w.setEnabled(enabled)

    def _show_plan(self, plan: Plan | None) -> None:
        self.table.setRowCount(0 if plan is None else len(plan.rows))
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
            self.summary_label.setText("")
            return f"amount: {self.amount.error()}"
        try:
            plan = allocate(amount, holdings_from_snapshot(self.snapshot, name, free))
        except AllocationError as exc:
            self._show_plan(None)
            self.summary_label.setText("")
            return str(exc).replace("AMOUNT:", "amount:", 1)
        self.plan = plan
        self._show_plan(plan)
        self.summary_label.setText(
            f"Adds {money_text(plan.total, currency)} {currency}; smallest distance to liquidation "
            f"{fmt_opt(plan.min_distance_frac_before, 'distance')} → {fmt_opt(plan.min_distance_frac, 'distance')}")
        if not plan.top_ups:
            return "the plan adds nothing: every position is already as far as this budget can lift the closest"
        return ""

    def build_command(self) -> Command:
        assert self.plan is not None
        return AllocateCollateral(account=self.plan.account, top_ups=self.plan.top_ups,  # type: ignore[return-value]
                                  reason="allocation (distance)")
