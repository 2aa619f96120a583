"""Close a position, or part of it, at a price (empty: the desk's mark when the order arrives).

The form refuses what the desk refuses, with the desk's sentences (:mod:`isodesk.desk.rules`:
``close_quantity_problem``, ``close_price_problem``), and previews with the desk's own arithmetic
(:func:`isodesk.desk.operations.partial_close_figures`): the PnL realized by the part closed (a
loss capped at the margin it releases), the margin released pro rata to the size closed, the free
balance after, and the size left open. A price further than 5 % from a fresh mark
(:data:`~isodesk.desk.rules.CLOSE_PRICE_CONFIRM_BAND`, and within the desk's 50 % refusal) needs a
tick, as a removal that leaves a position at risk does. The quick buttons fill 25 %, 50 %, 75 %
or all of the quantity; all of it (or an empty quantity) sends a full close.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QLabel, QWidget

from isodesk.desk import rules
from isodesk.desk.commands import ClosePosition, CloseReport, Command, Result
from isodesk.desk.levels import Thresholds
from isodesk.desk.operations import CloseFigures, partial_close_figures
from isodesk.desk.snapshot import Snapshot
from isodesk.margin.bounds import QUANTITY_DECIMALS
from isodesk.store.records import PositionRecord
from isodesk.ui.dialogs.amount import AmountEdit, exact, format_amount
from isodesk.ui.dialogs.base import (
    PositionDialog,
    catalog,
    contract_size_of,
    hint_label,
    mark_of,
    money_text,
    quick_fraction_row,
)
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

QUICK = (("25 %", Decimal("0.25")), ("50 %", Decimal("0.5")), ("75 %", Decimal("0.75")), ("100 %", Decimal(1)))
QTY_STEP = Decimal(1).scaleb(-QUANTITY_DECIMALS)


class ClosePositionDialog(PositionDialog):
    """Close one position, or ``quantity`` of it, at a price (empty: the desk's mark), realizing its PnL.

    Signals: those of :class:`DeskDialog`. ``report`` holds the desk's :class:`CloseReport` once accepted.
    """

    confirm_text = "Close position"

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 position_id: int, theme: Theme | None = None, thresholds: Thresholds | None = None,
                 locale: QLocale | None = None):
        super().__init__(controller, snapshot, parent, position_id=position_id, title="Close position", theme=theme,
                         thresholds=thresholds, locale=locale)
        self.setMinimumWidth(500)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.price = AmountEdit(self, locale=self.locale_, placeholder="the mark", kind="price")
        self.price.setObjectName("price")
        self.price.amount_changed.connect(self.schedule)
        form.addRow("Close at", self.price)
        qty_row = QHBoxLayout()
        self.quantity = AmountEdit(self, locale=self.locale_, placeholder="all of it", kind="quantity")
        self.quantity.setObjectName("quantity")
        self.quantity.amount_changed.connect(self.schedule)
        qty_row.addWidget(self.quantity, 1)
        self.quantity_unit = QLabel(self.unit, self)
        qty_row.addWidget(self.quantity_unit)
        form.addRow("Quantity", qty_row)
        quick_row, self.quick_buttons = quick_fraction_row(self, QUICK, self.fill_fraction)
        form.addRow("", quick_row)
        self.held_label = QLabel("", self)
        self.held_label.setObjectName("held")
        form.addRow("Position size", self.held_label)
        self.pnl_label = QLabel("", self)
        self.pnl_label.setObjectName("pnl")
        form.addRow("Realized PnL", self.pnl_label)
        self.returned_label = QLabel("", self)
        self.returned_label.setObjectName("returned")
        form.addRow("To free balance", self.returned_label)
        self.free_label = QLabel("", self)
        self.free_label.setObjectName("free-after")
        form.addRow("Free balance after", self.free_label)
        self.remaining_label = QLabel("", self)
        self.remaining_label.setObjectName("remaining")
        form.addRow("Left open", self.remaining_label)
        self.body.addLayout(form)
        self.accept_price = QCheckBox("", self)
        self.accept_price.setObjectName("accept-price")
        self.accept_price.setVisible(False)
        self.accept_price.toggled.connect(self.schedule)
        self.body.addWidget(self.accept_price)
        self.body.addWidget(hint_label(
            "Leave the price empty to close at the desk's mark when the order arrives, and the quantity empty "
            "to close all of it. A part closed releases its share of the margin; a loss is capped at the "
            "margin released.", self.theme, self))
        self.realized: Decimal | None = None
        self.figures: CloseFigures | None = None
        self.held: Decimal | None = None
        self.report: CloseReport | None = None
        self._confirming: Decimal | None = None  # the price the far-price tick was given for
        self.command_accepted.connect(self._keep_report)
        self.finish_layout()
        self.price.setFocus()

    # -- inputs ---------------------------------------------------------------------------------------

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.price, self.quantity, self.accept_price, *self.quick_buttons.values()):
            w.setEnabled(enabled)

    def fill_fraction(self, fraction: Decimal) -> None:
        """Quick button: ``fraction`` of the position's quantity, rounded down to the quantity's 8 decimals
        (all of it for 100 %)."""
        self.refresh()
        if self.held is None:
            return
        qty = self.held if fraction >= 1 else (self.held * fraction).quantize(QTY_STEP, rounding=ROUND_DOWN)
        if qty > 0:
            self.quantity.set_amount(qty)
        self.refresh()

    def _price_text(self, value: Decimal | float) -> str:
        return format_amount(value if isinstance(value, Decimal) else exact(value), self.locale_, group=True)

    # -- evaluation -------------------------------------------------------------------------------------

    def evaluate(self) -> str:
        snap = self.snapshot
        row = snap.book.row_of(self.position_id)
        self.realized, self.figures = None, None
        for label in (self.pnl_label, self.returned_label, self.free_label, self.remaining_label):
            label.setText("—")
            label.setStyleSheet("")
        if row is None or snap.book.statuses[row] != "open":
            status = "closed" if row is None else snap.book.statuses[row]
            self.held = None
            self.accept_price.setVisible(False)
            for button in self.quick_buttons.values():
                button.setEnabled(False)
            return f"position {self.label!r} was {status}; it holds no collateral any more"
        record = record_of(snap, row)
        self.held = record.quantity
        unit = f" {self.unit}" if self.unit else ""
        self.held_label.setText(f"{format_amount(record.quantity, self.locale_, group=True)}{unit}")
        self.quantity.setPlaceholderText(f"all {format_amount(record.quantity, self.locale_)}")
        for button in self.quick_buttons.values():
            button.setEnabled(self.pending is None)
        mark = mark_of(snap, row)
        self.price.setPlaceholderText(f"the mark, now {self._price_text(mark)}" if mark else
                                      "no fresh mark: type a price")
        quantity = None
        if self.quantity.text().strip():
            quantity = self.quantity.value()
            if quantity is None:
                self.accept_price.setVisible(False)
                return f"quantity: {self.quantity.error()}"
            problem = rules.close_quantity_problem(quantity, record.quantity, unit=self.unit)  # the desk's rule
            if problem:
                self.accept_price.setVisible(False)
                return problem
        typed = bool(self.price.text().strip())
        if typed:
            price = self.price.value()
            if price is None:
                self.accept_price.setVisible(False)
                return f"price: {self.price.error()}"
            problem = rules.close_price_problem(price, mark)  # the desk's rule: within 50 % of a fresh mark
            if problem:
                self.accept_price.setVisible(False)
                return problem
        elif mark is None:
            self.accept_price.setVisible(False)
            return f"price: no fresh mark for {snap.book.symbols[row]}; give the close price"
        else:
            price = exact(mark)
        close = partial_close_figures(record, record.isolated_margin, price, quantity)
        self.figures, self.realized = close, close.booked
        self._show(close, typed, snap, row)
        return self._price_confirmation(price, mark if typed else None)

    def _show(self, close: CloseFigures, typed: bool, snap: Snapshot, row: int) -> None:
        """The preview lines of ``close`` (exact figures, the currency's display precision)."""
        c = self.currency
        colour = self.theme.safe if close.booked >= 0 else self.theme.danger
        capped = "" if close.booked == close.pnl else f"  (a loss of {money_text(-close.pnl, c)} capped)"
        self.pnl_label.setText(f"{money_text(close.booked, c)} {c}" + ("" if typed else "  (at the mark now)")
                               + capped)
        self.pnl_label.setStyleSheet(f"color: {colour.name()}; font-weight: bold;")
        sign = "+" if close.booked >= 0 else "−"
        self.returned_label.setText(f"{money_text(close.back, c)} {c}  (margin released "
                                    f"{money_text(close.released, c)} {sign} {money_text(abs(close.booked), c)})")
        account = next((a for a in snap.accounts if a.name == snap.book.accounts[row]), None)
        if account is not None:
            self.free_label.setText(f"{money_text(exact(account.free_balance) + close.back, c)} {c}")
        unit = f" {self.unit}" if self.unit else ""
        self.remaining_label.setText(
            "nothing: the position closes" if close.remaining <= 0 else
            f"{format_amount(close.remaining, self.locale_, group=True)}{unit}, margin "
            f"{money_text(snap.cols['isolated_margin'][row] - float(close.released), c)} {c}, same entry")

    def _price_confirmation(self, price: Decimal, mark: float | None) -> str:
        """The tick a price far from the mark needs (shown, and the reason while unticked), or ""."""
        away = rules.close_price_needs_confirmation(price, mark)
        if away is None:
            self.accept_price.setVisible(False)
            self.accept_price.setChecked(False)
            return ""
        if price != self._confirming:
            self.accept_price.setChecked(False)  # a new price asks again (a new mark does not)
            self._confirming = price
        assert mark is not None
        self.accept_price.setText(f"I accept closing at {self._price_text(price)}, {away * 100:.1f} % from the "
                                  f"mark {self._price_text(mark)}")
        self.accept_price.setVisible(True)
        if self.accept_price.isChecked():
            return ""
        return (f"price: {rules.plain(price)} is {away * 100:.1f} % from the mark (more than "
                f"{rules.CLOSE_PRICE_CONFIRM_BAND * 100:.0f} %): tick the box to close there")

    def show_refused(self, refused: bool) -> None:
        """The preview lines in the danger colour while the form refuses what it shows."""
        super().show_refused(refused)
        if refused and self.figures is not None:
            for label in (self.pnl_label, self.returned_label, self.free_label, self.remaining_label):
                label.setStyleSheet(f"color: {self.theme.danger.name()};")

    def build_command(self) -> Command:
        quantity = self.quantity.value() if self.quantity.text().strip() else None
        if quantity is not None and self.held is not None and quantity == self.held:
            quantity = None  # all of it: a full close, whatever the float the snapshot carried
        return ClosePosition(self.position_id, price=self.price.value() if self.price.text().strip() else None,
                             quantity=quantity)

    def _keep_report(self, result: Result) -> None:
        self.report = result.payload if isinstance(result.payload, CloseReport) else None


def record_of(snap: Snapshot, row: int) -> PositionRecord:
    """A stand-in store record of a snapshot row, enough for the desk's exact close arithmetic."""
    book = snap.book
    inverse = book.contracts[row] == "inverse"
    margin = float(snap.cols["isolated_margin"][row])
    return PositionRecord(
        id=int(book.position_ids[row]), label=book.labels[row], account_id=0, venue=book.venues[row],
        symbol=book.symbols[row], contract=book.contracts[row], side=book.sides[row],
        quantity=exact(float(snap.cols["quantity"][row])),
        contract_size=exact(contract_size_of(snap, row, snap.catalog or catalog())) if inverse else None,
        entry_price=exact(float(snap.cols["entry_price"][row])), leverage=exact(float(snap.cols["leverage"][row])),
        isolated_margin=exact(margin) if math.isfinite(margin) else Decimal(0), status="open", opened_at=0.0,
        closed_at=None, close_price=None, venue_position_id=None)
