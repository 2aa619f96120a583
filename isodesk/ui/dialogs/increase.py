"""Add size to an open position at a price (empty: the desk's mark when the order arrives).

The form refuses what the desk refuses, with the desk's sentences (:func:`isodesk.desk.rules.increase_problem`,
:func:`~isodesk.desk.rules.close_price_problem` for a typed fill price), and previews with the desk's
own arithmetic (:func:`isodesk.desk.increase.increase_figures`: the averaged entry price, the added
part's initial margin) and the pure engine on the position as it would be: liquidation price,
distance, margin ratio, before → after. A size that moves the position onto a higher maintenance
tier shows the tier-cliff warning (:func:`isodesk.desk.rules.tier_cliff_warning`): a warning, not a
refusal. The desk's answer is what counts.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget

from isodesk.desk import rules
from isodesk.desk.commands import Command
from isodesk.desk.increase import IncreaseFigures, IncreasePosition, increase_figures
from isodesk.desk.levels import Thresholds
from isodesk.desk.snapshot import Snapshot
from isodesk.formats import fmt_price
from isodesk.margin import Position, problems
from isodesk.ui.dialogs.amount import AmountEdit, exact, floor_amount, format_amount
from isodesk.ui.dialogs.base import (
    PREVIEW_FIGURES,
    PositionDialog,
    PreviewGrid,
    cliff_label,
    hint_label,
    level_of,
    mark_of,
    money_text,
    position_of,
    risk_at,
    with_unit,
)
from isodesk.ui.dialogs.close import record_of
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController


class IncreasePositionDialog(PositionDialog):
    """Add ``quantity`` to one open position at a fill price (empty: the desk's mark) with the added
    part's initial margin, or more, from the account's free balance.

    Signals: those of :class:`DeskDialog`.
    """

    confirm_text = "Add to position"

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 position_id: int, theme: Theme | None = None, thresholds: Thresholds | None = None,
                 locale: QLocale | None = None):
        super().__init__(controller, snapshot, parent, position_id=position_id, title="Add to position", theme=theme,
                         thresholds=thresholds, locale=locale)
        self.setMinimumWidth(520)
        book = self.snapshot.book
        symbol = book.symbols[book.row_of(self.position_id) or 0]
        base = symbol.upper().removesuffix(self.currency).rstrip("-_/") or "units"
        shown_unit = self.unit or base  # the quantity's unit on screen: contracts, or the base coin
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.price = AmountEdit(self, locale=self.locale_, placeholder="the mark", kind="price")
        self.price.setObjectName("price")
        self.price.amount_changed.connect(self.schedule)
        form.addRow("Fill price", self.price)
        self.quantity = AmountEdit(self, locale=self.locale_, placeholder="size to add", kind="quantity")
        self.quantity.setObjectName("quantity")
        self.quantity.amount_changed.connect(self.schedule)
        form.addRow("Add", with_unit(self.quantity, QLabel(shown_unit, self)))
        self.margin = AmountEdit(self, locale=self.locale_, placeholder="the initial margin")
        self.margin.setObjectName("margin")
        self.margin.amount_changed.connect(self.schedule)
        form.addRow("Margin", with_unit(self.margin, QLabel(self.currency, self)))
        self.size_label = QLabel("—", self)
        self.size_label.setObjectName("size")
        form.addRow("Size", self.size_label)
        self.entry_label = QLabel("—", self)
        self.entry_label.setObjectName("entry")
        form.addRow("Entry price", self.entry_label)
        self.free_label = QLabel("—", self)
        self.free_label.setObjectName("free-after")
        form.addRow("Free balance after", self.free_label)
        self.body.addLayout(form)
        self.preview = PreviewGrid(PREVIEW_FIGURES, self.theme, self)
        self.body.addWidget(self.preview)
        self.cliff_label = cliff_label(self)
        self.body.addWidget(hint_label(
            "Leave the price empty to fill at the desk's mark when the order arrives, and the margin empty to "
            "bring the added part's initial margin at the position's leverage. The entry price becomes the "
            "average of the fills.", self.theme, self))
        self.figures: IncreaseFigures | None = None
        self.finish_layout()
        self.quantity.setFocus()

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.price, self.quantity, self.margin):
            w.setEnabled(enabled)

    def cliff_warning(self) -> str:
        """The tier-cliff warning shown now ("" when none)."""
        return self.cliff_label.text() if self.cliff_label.isVisibleTo(self) else ""

    def _num(self, value: Decimal | float) -> str:
        return format_amount(value if isinstance(value, Decimal) else exact(value), self.locale_, group=True)

    def evaluate(self) -> str:
        snap = self.snapshot
        row = snap.book.row_of(self.position_id)
        self.figures = None
        self.cliff_label.setVisible(False)
        for label in (self.size_label, self.entry_label, self.free_label):
            label.setText("—")
        if row is None or snap.book.statuses[row] != "open":
            status = "closed" if row is None else snap.book.statuses[row]
            self.preview.show_values({}, None, currency=self.currency)
            return f"position {self.label!r} was {status}; it holds no collateral any more"
        record = record_of(snap, row)
        mark = mark_of(snap, row)
        held = float(snap.cols["isolated_margin"][row])
        before = position_of(snap, row, held, self.catalog)
        now = risk_at(before, mark)
        now_values = {"isolated_margin": held, "effective_leverage": now.effective_leverage,
                      "liquidation_price": now.liquidation_price, "margin_ratio": now.margin_ratio,
                      "distance_frac": now.distance_frac}
        self.preview.show_values(now_values, None, currency=self.currency)
        self.price.setPlaceholderText(f"the mark, now {self._num(mark)}" if mark else "no fresh mark: type a price")
        if self.price.text().strip():
            price = self.price.value()
            if price is None:
                return f"price: {self.price.error()}"
            problem = rules.close_price_problem(price, mark, what="a fill price")  # the desk's rule
            if problem:
                return problem
        elif mark is None:
            return f"price: no fresh mark for {snap.book.symbols[row]}; give the fill price"
        else:
            price = exact(mark)
        quantity = self.quantity.value()
        if quantity is None:
            typed = bool(self.quantity.text().strip())
            return f"quantity: {self.quantity.error()}" if typed else "quantity: give the size to add"
        margin = self.margin.value() if self.margin.text().strip() else None
        if self.margin.text().strip() and margin is None:
            return f"margin: {self.margin.error()}"
        account = next((a for a in snap.accounts if a.name == snap.book.accounts[row]), None)
        free = floor_amount(account.free_balance) if account is not None else Decimal(0)
        size = record.contract_size if record.contract_size is not None else Decimal(1)
        problem = rules.increase_problem(quantity=quantity, price=price, margin=margin, leverage=record.leverage,
                                         contract=record.contract, contract_size=size, free=free,
                                         currency=self.currency, account=snap.book.accounts[row], unit=self.unit)
        if problem.startswith("quantity:"):  # no size to preview
            return problem
        grown = increase_figures(record, quantity, price)  # previewed even when refused (in the danger colour)
        self.figures = grown
        added = margin if margin is not None else grown.initial_margin
        self.margin.setPlaceholderText(f"the initial margin, {money_text(grown.initial_margin, self.currency)}")
        unit = f" {self.unit}" if self.unit else ""
        self.size_label.setText(f"{self._num(record.quantity)} → {self._num(grown.quantity)}{unit}")
        self.entry_label.setText(f"{fmt_price(float(record.entry_price))} → {fmt_price(float(grown.entry_price))}")
        self.free_label.setText(f"{money_text(free - added, self.currency)} {self.currency}")
        after = replace(before, quantity=float(grown.quantity), entry_price=float(grown.entry_price),
                        isolated_margin=held + float(added))
        after_problem = self._preview_after(before, after, now_values, mark)
        return problem or after_problem

    def _preview_after(self, before: Position, after: Position, now_values: dict[str, float | None],
                       mark: float | None) -> str:
        found = problems(after)
        if found:
            return "; ".join(f"{f.replace('_', ' ')}: {m}" for f, m in found)
        risk = risk_at(after, mark)
        values = {"isolated_margin": after.isolated_margin, "effective_leverage": risk.effective_leverage,
                  "liquidation_price": risk.liquidation_price, "margin_ratio": risk.margin_ratio,
                  "distance_frac": risk.distance_frac}
        riskier = (risk.distance_frac is not None and now_values["distance_frac"] is not None
                   and risk.distance_frac < now_values["distance_frac"])
        self.preview.show_values(now_values, values, currency=self.currency, tone="riskier" if riskier else "safer")
        if risk.distance_frac is not None and mark is not None:
            level = level_of(risk.distance_frac, self.thresholds)
            if not self.preview.refused:
                self.preview.after["distance_frac"].setStyleSheet(f"color: {self.theme.level_color(level).name()};")
        cliff = rules.tier_cliff_warning(after, before)
        self.cliff_label.setText(cliff)
        self.cliff_label.setVisible(bool(cliff))
        if risk.distance_frac is not None and risk.distance_frac <= 0 and mark is not None:
            return (f"the position would be liquidated at once: mark {mark:,.8g} is past its new liquidation "
                    f"price {risk.liquidation_price:,.8g}")
        return ""

    def build_command(self) -> Command:
        quantity = self.quantity.value()
        assert quantity is not None
        return IncreasePosition(self.position_id, quantity=quantity,
                                price=self.price.value() if self.price.text().strip() else None,
                                margin=self.margin.value() if self.margin.text().strip() else None)

