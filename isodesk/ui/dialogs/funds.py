"""Deposit into or withdraw from an account's free balance.

A deposit may name a new ``venue:currency`` account (the desk creates it), so a new user can fund
a venue before opening a first position there; a withdrawal is limited to the free balance.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QLocale, Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from isodesk.desk import rules
from isodesk.desk.commands import Command, Deposit, Withdraw
from isodesk.desk.levels import Thresholds
from isodesk.desk.operations import account_name
from isodesk.desk.snapshot import Snapshot
from isodesk.ui.columns import money_decimals
from isodesk.ui.dialogs.amount import floor_amount
from isodesk.ui.dialogs.base import DeskDialog, amount_with_max, hint_label, money_text, segmented
from isodesk.ui.dialogs.position import shipped_venues
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

MODES = (("deposit", "Deposit"), ("withdraw", "Withdraw"))


class FundsDialog(DeskDialog):
    """Deposit or withdraw free balance (``mode``: ``deposit`` / ``withdraw``; ``account``: preselected name).

    Signals: those of :class:`DeskDialog`.
    """

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 mode: str = "deposit", account: str | None = None, theme: Theme | None = None,
                 thresholds: Thresholds | None = None, locale: QLocale | None = None):
        if mode not in dict(MODES):
            raise ValueError(f"mode must be deposit or withdraw; got {mode!r}")
        super().__init__(controller, snapshot, parent, theme=theme, thresholds=thresholds)
        self.locale_ = locale if locale is not None else QLocale()
        self.setWindowTitle("Funds")
        self.setMinimumWidth(460)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.mode_group, box = segmented(self, MODES, mode)
        self.deposit_button, self.withdraw_button = self.mode_group.buttons()
        self.mode_group.buttonToggled.connect(self._mode_changed)
        form.addRow("Action", box)
        self.account_box = QComboBox(self)
        self.account_box.setObjectName("account")
        form.addRow("Account", self.account_box)
        form.addRow("Amount", amount_with_max(self, "amount", "Max"))
        self.free_label = QLabel("", self)
        self.free_label.setObjectName("free")
        form.addRow("Free balance", self.free_label)
        self.body.addLayout(form)
        self.body.addWidget(hint_label("Money enters or leaves the account from outside; positions' isolated "
                                       "margins are untouched.", self.theme, self))
        self._fill_accounts(account)
        self.account_box.currentIndexChanged.connect(self.schedule)
        self.finish_layout()
        self.amount.setFocus()

    def mode(self) -> str:
        """``deposit`` or ``withdraw``."""
        return "withdraw" if self.withdraw_button.isChecked() else "deposit"

    def set_mode(self, mode: str) -> None:
        """Switch between deposit and withdraw."""
        (self.withdraw_button if mode == "withdraw" else self.deposit_button).setChecked(True)

    def _fill_accounts(self, wanted: str | None) -> None:
        current = wanted or self.account_box.currentData()
        self.account_box.blockSignals(True)
        self.account_box.clear()
        existing = {a.name for a in self.snapshot.accounts}
        for a in self.snapshot.accounts:
            self.account_box.addItem(f"{a.name}", a.name)
        if self.mode() == "deposit":
            for venue in shipped_venues(self.catalog):
                currencies = {self.catalog.settlement(venue, c, s) for c in self.catalog.contracts(venue)
                              for s in self.catalog.symbols(venue, c)}
                for currency in sorted(currencies):
                    name = account_name(venue, currency)
                    if name not in existing:
                        self.account_box.addItem(f"{name} (new account)", name)
        index = self.account_box.findData(current) if current else -1
        self.account_box.setCurrentIndex(max(index, 0))
        self.account_box.blockSignals(False)

    @Slot()
    def _mode_changed(self, *_args: object) -> None:
        self._fill_accounts(None)
        self.schedule()

    def account(self) -> str | None:
        """The chosen account name."""
        data = self.account_box.currentData()
        return None if data is None else str(data)

    def fill_max(self) -> None:
        """Withdraw everything free: the free balance rounded down to the currency's display precision
        (:func:`~isodesk.ui.dialogs.amount.floor_amount` never rounds a float up past the exact balance)."""
        self.set_mode("withdraw")
        totals = self._totals()
        if totals is not None and totals.free_balance > 0:
            self.amount.set_amount(floor_amount(totals.free_balance, money_decimals(totals.currency)))
        self.refresh()

    def _totals(self):
        return next((a for a in self.snapshot.accounts if a.name == self.account()), None)

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.deposit_button, self.withdraw_button, self.account_box, self.amount, self.max_button):
            w.setEnabled(enabled)

    def evaluate(self) -> str:
        self.confirm_button.setText("Deposit" if self.mode() == "deposit" else "Withdraw")
        name = self.account()
        if name is None:
            return "account: there is no account to withdraw from"
        totals = self._totals()
        currency = totals.currency if totals is not None else name.partition(":")[2]
        self.currency_label.setText(currency)
        self.max_button.setEnabled(self.pending is None and totals is not None and totals.free_balance > 0)
        free = floor_amount(totals.free_balance) if totals is not None else Decimal(0)
        amount = self.amount.value()
        after = None
        if amount is not None:
            after = free + amount if self.mode() == "deposit" else free - amount
            after = after if after >= 0 else None
        self.free_label.setText(f"{money_text(free, currency)} → "
                                f"{money_text(after, currency) if after is not None else '—'} {currency}")
        if amount is None:
            return f"amount: {self.amount.error()}"
        if self.mode() == "withdraw":  # the desk's own rule and sentence
            return rules.withdraw_problem(amount, free, currency, name)
        return ""

    def show_refused(self, refused: bool) -> None:
        """The free balance's before → after line in the danger colour while the form refuses a typed
        amount (an after figure is never shown as if it would happen)."""
        super().show_refused(refused)
        typed = bool(self.amount.text().strip())
        self.free_label.setStyleSheet(f"color: {self.theme.danger.name()};" if refused and typed else "")

    def build_command(self) -> Command:
        amount = self.amount.value()
        assert amount is not None
        if self.mode() == "deposit":
            return Deposit(amount, account=self.account())
        return Withdraw(amount, account=self.account())

