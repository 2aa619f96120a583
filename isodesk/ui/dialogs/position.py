"""Positions by hand: open one (venue, symbol from the tier tables, side, size, entry, leverage,
margin). Closing one, or part of it, is :mod:`isodesk.ui.dialogs.close`.

The form validates through the desk's own rule (:func:`isodesk.desk.rules.open_problem`) plus the
engine's position checks, so it refuses what the desk's ``_open`` refuses, with the same sentence:
unknown symbol, leverage above the bracket's maximum, margin below the initial margin or above the
free balance, a position that would be liquidated at once at the current mark, a label already in
the book. The entry price it pre-fills is the mark rounded to a price the venue quotes
(:func:`isodesk.desk.ticks.round_price`), which the form itself accepts.

A size above the venue's first maintenance tier gets the desk's tier-cliff warning
(:func:`isodesk.desk.rules.tier_cliff_warning`: the tier, the maintenance rates and the liquidation
prices before → after) in the warning colour, under the preview: a warning, never a refusal.
"""

from __future__ import annotations

import math
from decimal import ROUND_UP, Decimal

from PySide6.QtCore import QLocale, QStringListModel, Qt, Slot
from PySide6.QtWidgets import QComboBox, QCompleter, QFormLayout, QLabel, QLineEdit, QWidget

from isodesk.desk import rules
from isodesk.desk.commands import Command, OpenPosition
from isodesk.desk.levels import Thresholds
from isodesk.desk.operations import MONEY_STEP, account_name
from isodesk.desk.snapshot import Snapshot
from isodesk.desk.ticks import round_price
from isodesk.margin import Position, problems
from isodesk.margin.bounds import MAX_AMOUNT, BoundsError, check_amount
from isodesk.margin.catalog import UnknownSymbol
from isodesk.margin.markets import market_of
from isodesk.margin.venues import VENUES
from isodesk.ui.columns import fmt_leverage
from isodesk.ui.dialogs.amount import AmountEdit, floor_amount, format_amount
from isodesk.ui.dialogs.base import (
    DeskDialog,
    Figure,
    PreviewGrid,
    cliff_label,
    hint_label,
    level_of,
    mark_of,
    money_text,
    risk_at,
    segmented,
    with_unit,
)
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

SIDES = (("long", "Long"), ("short", "Short"))
OPEN_FIGURES = (
    Figure("notional", "Notional at entry", "money"),
    Figure("initial", "Initial margin", "money"),
    Figure("liquidation_price", "Liquidation price", "price"),
    Figure("bankruptcy_price", "Bankruptcy price", "price"),
    Figure("distance_frac", "Distance from the mark", "distance"),
    Figure("margin_ratio", "Margin ratio", "pct"),
)


def shipped_venues(cat) -> list[str]:
    """Venues with at least one shipped tier file (``custom`` has none: its tiers are typed in)."""
    return [v for v in VENUES if v != "custom" and cat.contracts(v)]


class OpenPositionDialog(DeskDialog):
    """Open an isolated position funded from the venue account's free balance.

    ``venue``/``symbol``/``side`` preset the form. Signals: those of :class:`DeskDialog`.
    """

    confirm_text = "Open position"

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 venue: str | None = None, symbol: str | None = None, side: str = "long",
                 theme: Theme | None = None, thresholds: Thresholds | None = None, locale: QLocale | None = None):
        super().__init__(controller, snapshot, parent, theme=theme, thresholds=thresholds)
        self.locale_ = locale if locale is not None else QLocale()
        self.setWindowTitle("Open position")
        self.setMinimumWidth(520)
        self._margin_auto = True
        self._entry_auto = True
        self._label_auto = True
        self.contract: str | None = None
        self._risk = None
        self.currency = ""
        self.account: str | None = None

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.venue_box = QComboBox(self)
        self.venue_box.setObjectName("venue")
        for v in shipped_venues(self.catalog):
            self.venue_box.addItem(v, v)
        if venue is not None and self.venue_box.findData(venue) >= 0:
            self.venue_box.setCurrentIndex(self.venue_box.findData(venue))
        form.addRow("Venue", self.venue_box)
        self.symbol = QLineEdit(self)
        self.symbol.setObjectName("symbol")
        self.symbol.setPlaceholderText("e.g. BTCUSDT")
        self._symbols = QStringListModel(self)
        completer = QCompleter(self._symbols, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.symbol.setCompleter(completer)
        form.addRow("Symbol", self.symbol)
        self.side_group, side_box = segmented(self, SIDES, side)
        self.long_button, self.short_button = self.side_group.buttons()
        form.addRow("Side", side_box)
        self.quantity = AmountEdit(self, locale=self.locale_, placeholder="size", kind="quantity")
        self.quantity.setObjectName("quantity")
        self.quantity_unit = QLabel("", self)
        form.addRow("Quantity", with_unit(self.quantity, self.quantity_unit))
        self.entry = AmountEdit(self, locale=self.locale_, placeholder="price", kind="price")
        self.entry.setObjectName("entry")
        form.addRow("Entry price", self.entry)
        self.leverage = AmountEdit(self, locale=self.locale_, placeholder="e.g. 10", kind="leverage")
        self.leverage.setObjectName("leverage")
        self.leverage.set_amount(Decimal(10))
        self.leverage_hint = QLabel("", self)
        self.leverage_hint.setStyleSheet(f"color: {self.theme.muted.name()};")
        form.addRow("Leverage", with_unit(self.leverage, self.leverage_hint))
        self.margin = AmountEdit(self, locale=self.locale_, placeholder="from leverage")
        self.margin.setObjectName("margin")
        self.margin_unit = QLabel("", self)
        form.addRow("Initial margin", with_unit(self.margin, self.margin_unit))
        self.account_label = QLabel("", self)
        self.account_label.setObjectName("account")
        form.addRow("Account", self.account_label)
        self.label_edit = QLineEdit(self)
        self.label_edit.setObjectName("label")
        self.label_edit.setMaxLength(60)
        form.addRow("Label", self.label_edit)
        self.body.addLayout(form)
        self.preview = PreviewGrid(OPEN_FIGURES, self.theme, self, single=True)
        self.body.addWidget(self.preview)
        self.cliff_label = cliff_label(self)
        self.body.addWidget(hint_label("The margin is taken from the account's free balance. The desk checks "
                                       "everything again when the order arrives.", self.theme, self))

        self.venue_box.currentIndexChanged.connect(self._venue_changed)
        self.symbol.textChanged.connect(self._symbol_changed)
        self.side_group.buttonToggled.connect(self._side_changed)
        self.quantity.amount_changed.connect(self.schedule)
        self.entry.textEdited.connect(self._entry_edited)
        self.entry.amount_changed.connect(self.schedule)
        self.leverage.amount_changed.connect(self.schedule)
        self.margin.textEdited.connect(self._margin_edited)
        self.margin.amount_changed.connect(self.schedule)
        self.label_edit.textEdited.connect(self._label_edited)
        self.label_edit.textChanged.connect(self.schedule)
        self._venue_changed()
        if symbol:
            self.symbol.setText(symbol)
        self.finish_layout()
        self.symbol.setFocus()

    # -- inputs ---------------------------------------------------------------------------------------

    def venue(self) -> str:
        """The chosen venue."""
        return str(self.venue_box.currentData())

    def side(self) -> str:
        """``long`` or ``short``."""
        return "short" if self.short_button.isChecked() else "long"

    @Slot()
    def _venue_changed(self, *_args: object) -> None:
        venue = self.venue()
        names = [s for c in self.catalog.contracts(venue) for s in self.catalog.symbols(venue, c)]
        self._symbols.setStringList(sorted(set(names)))
        self._symbol_changed()

    @Slot()
    def _symbol_changed(self, *_args: object) -> None:
        mark = self.market_mark()
        if self._entry_auto:  # the mark at the venue's price precision: a default the form accepts
            self.entry.set_amount(round_price(mark, self.venue()) if mark is not None else None)
        self._suggest_label()
        self.schedule()

    @Slot()
    def _side_changed(self, *_args: object) -> None:
        self._suggest_label()
        self.schedule()

    @Slot()
    def _entry_edited(self, *_args: object) -> None:
        self._entry_auto = not self.entry.text()

    @Slot()
    def _margin_edited(self, *_args: object) -> None:
        self._margin_auto = not self.margin.text()

    @Slot()
    def _label_edited(self, *_args: object) -> None:
        self._label_auto = not self.label_edit.text()

    def _suggest_label(self) -> None:
        if not self._label_auto:
            return
        symbol = self.symbol.text().strip()
        if not symbol:
            self.label_edit.setText("")
            return
        taken = set(self.snapshot.book.labels)
        base = f"{symbol.lower()}-{self.side()}"
        label, n = base, 2
        while label in taken:
            label, n = f"{base}-{n}", n + 1
        self.label_edit.setText(label)

    def market_mark(self) -> float | None:
        """The mark the desk would use for the chosen symbol on the chosen venue, as the snapshot
        shows it: the venue's own price of that market (from any open position on that venue and
        market), else the market's reference price (a position still marked by it); None when
        unknown. Another venue's price is never used (:mod:`isodesk.desk.marks`)."""
        symbol = self.symbol.text().strip()
        if not symbol:
            return None
        venue = self.venue()
        market = market_of(venue, symbol)
        snap, book = self.snapshot, self.snapshot.book
        rows = [r for r in range(len(snap)) if book.statuses[r] == "open"
                and market_of(book.venues[r], book.symbols[r]) == market]
        own = [r for r in rows if book.venues[r] == venue and not bool(snap.by_reference[r])]
        reference = [r for r in rows if bool(snap.by_reference[r])]
        for row in own or reference:
            mark = mark_of(snap, row)
            if mark is not None:
                return mark
        return None

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.venue_box, self.symbol, self.long_button, self.short_button, self.quantity, self.entry,
                  self.leverage, self.margin, self.label_edit):
            w.setEnabled(enabled)

    # -- evaluation -------------------------------------------------------------------------------------

    def evaluate(self) -> str:
        venue, symbol = self.venue(), self.symbol.text().strip()
        self.contract, self.account = None, None
        self.preview.show_values({}, None, currency=self.currency or "USDT")
        self._show_cliff("")
        if not symbol:
            self._describe("", "")
            return "symbol: choose a symbol of the venue's tier table"
        try:
            contract = self.catalog.contract_of(venue, symbol)
            tiers = self.catalog.table(venue, contract, symbol)
        except UnknownSymbol as exc:
            self._describe("", "")
            return str(exc)
        self.contract = contract
        currency = self.catalog.settlement(venue, contract, symbol)
        self.currency = currency
        size = Decimal(repr(self.catalog.contract_size(venue, contract, symbol)))
        self._describe(contract, currency, size)
        account = next((a for a in self.snapshot.accounts if a.name == account_name(venue, currency)), None)
        if account is None:
            self.account_label.setText(f"{account_name(venue, currency)} — none yet")
        else:
            self.account = account.name
            self.account_label.setText(f"{account.name} · free {money_text(account.free_balance, currency)} {currency}")
        for name, edit in (("quantity", self.quantity), ("entry price", self.entry), ("leverage", self.leverage)):
            if edit.value() is None:
                return f"{name}: {edit.error()}"
        qty, entry, lev = self.quantity.value(), self.entry.value(), self.leverage.value()
        assert qty is not None and entry is not None and lev is not None
        face = qty * size if contract == "inverse" else qty
        notional = face / entry if contract == "inverse" else face * entry
        if notional / lev > MAX_AMOUNT:  # no margin could hold it (and 8 decimals of it overflow a Decimal)
            try:
                check_amount(notional / lev, "initial margin", currency)
            except BoundsError as exc:
                return str(exc)
        initial = (notional / lev).quantize(MONEY_STEP)
        if self._margin_auto:
            self.margin.blockSignals(True)
            self.margin.set_amount((notional / lev).quantize(MONEY_STEP, rounding=ROUND_UP))
            self.margin.blockSignals(False)
        caps = tiers.max_leverage[tiers.row_for(float(notional), tiers.contracts_of(float(qty), contract == "inverse"))]
        self.leverage_hint.setText(f"max {fmt_leverage(float(caps))} at this size" if math.isfinite(caps) else "")
        margin = self.margin.value()
        preview = {"notional": float(notional), "initial": float(initial)}
        if margin is None:
            self.preview.show_values(preview, None, currency=currency)
            return f"initial margin: {self.margin.error()}"
        position = Position(venue=venue, side=self.side(), contract=contract, entry_price=float(entry),
                            quantity=float(qty), contract_size=float(size), isolated_margin=float(margin),
                            leverage=float(lev), taker_fee_rate=self.catalog.taker_fee(venue, contract), tiers=tiers,
                            symbol=symbol, label=self.label_edit.text().strip())
        found = problems(position)
        mark = self.market_mark()
        risk = risk_at(position, mark) if not found else None
        if risk is not None:
            preview.update(liquidation_price=risk.liquidation_price, bankruptcy_price=risk.bankruptcy_price,
                           distance_frac=risk.distance_frac, margin_ratio=risk.margin_ratio)
        self.preview.show_values(preview, None, currency=currency)
        self._after_level(risk)
        self._show_cliff(rules.tier_cliff_warning(position) if risk is not None else "")
        if found:
            return "; ".join(f"{f.replace('_', ' ')}: {m}" for f, m in found)
        label = self.label_edit.text().strip()
        if not label:
            return "label: give the position a name"
        # The desk's own rule (isodesk.desk.rules.open_problem) on what this form knows.
        return rules.open_problem(
            label=label, quantity=qty, entry_price=entry, leverage=lev, margin=margin, contract=contract,
            contract_size=size, currency=currency, account=account_name(venue, currency),
            free=floor_amount(account.free_balance) if account is not None else None,
            taken_labels=frozenset(self.snapshot.book.labels),
            distance_frac=risk.distance_frac if risk is not None else None,
            liquidation_price=risk.liquidation_price if risk is not None else None, mark=mark)

    def show_refused(self, refused: bool) -> None:
        """The preview's figures in the danger colour while the form refuses; the distance keeps its
        level's colour otherwise."""
        super().show_refused(refused)
        if not refused:
            self._after_level(self._risk)

    def _after_level(self, risk) -> None:
        self._risk = risk
        if risk is None or risk.distance_frac is None or self.preview.refused:
            return
        level = level_of(risk.distance_frac, self.thresholds)
        self.preview.after["distance_frac"].setStyleSheet(f"color: {self.theme.level_color(level).name()};")

    def cliff_warning(self) -> str:
        """The tier-cliff warning shown now ("" when none)."""
        return self.cliff_label.text()

    def _show_cliff(self, text: str) -> None:
        self.cliff_label.setText(text)
        self.cliff_label.setVisible(bool(text))

    def _describe(self, contract: str, currency: str, size: Decimal = Decimal(1)) -> None:
        if contract == "inverse":
            self.quantity_unit.setText(f"contracts of {format_amount(size, self.locale_)} USD")
        elif contract:
            base = self.symbol.text().strip().upper().removesuffix(currency).rstrip("-_/") or "units"
            self.quantity_unit.setText(base)
        else:
            self.quantity_unit.setText("")
        self.margin_unit.setText(currency)
        if not contract:
            self.account_label.setText("—")

    def _num(self, value: Decimal) -> str:
        return format_amount(value, self.locale_, group=True)

    def build_command(self) -> Command:
        qty, entry, lev, margin = (e.value() for e in (self.quantity, self.entry, self.leverage, self.margin))
        assert qty and entry and lev and margin and self.account
        return OpenPosition(label=self.label_edit.text().strip(), venue=self.venue(), symbol=self.symbol.text().strip(),
                            side=self.side(), quantity=qty, entry_price=entry, leverage=lev, margin=margin,
                            contract=self.contract, account=self.account)

