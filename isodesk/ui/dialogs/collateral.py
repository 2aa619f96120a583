"""Adjust the isolated margin of one position: add from the free balance, or remove back into it.

Limits come from the snapshot the form shows: max addable is the account's free balance, max
removable the venue's rule (:func:`isodesk.desk.rules.removable_limit`). Every amount goes through
the desk's own rules (:mod:`isodesk.desk.rules`), so the form refuses exactly what the desk refuses,
with the same sentence; a removal that leaves the
position at WARNING or DANGER needs an explicit tick. The preview is the pure engine on this one
position, debounced; the desk re-checks everything when the command arrives. An amount the form
refuses is never previewed in the colours of an accepted one: the after column and the level line
turn to the danger colour ("After: refused"). The quick buttons (25 % … Max) fill amounts the form
accepts: the limit rounded down to the ledger's 8 decimals, and a removal always leaves some margin.
"""

from __future__ import annotations

import math
from decimal import Decimal

from PySide6.QtCore import QLocale, Qt, Slot
from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from isodesk.desk import rules
from isodesk.desk.commands import AddCollateral, Command, RemoveCollateral
from isodesk.desk.levels import Level, Thresholds
from isodesk.desk.rules import removable_limit
from isodesk.desk.snapshot import Snapshot
from isodesk.margin import Risk
from isodesk.margin.bounds import MAX_REASON, BoundsError, check_text
from isodesk.ui.columns import fmt_distance, fmt_leverage, money_decimals
from isodesk.ui.dialogs.amount import STEP, AmountEdit, exact, floor_amount, format_amount
from isodesk.ui.dialogs.base import (
    PREVIEW_FIGURES,
    DeskDialog,
    PreviewGrid,
    hint_label,
    level_of,
    mark_of,
    money_text,
    position_of,
    quick_fraction_row,
    risk_at,
    segmented,
)
from isodesk.ui.theme import Theme, level_name
from isodesk.ui.worker import DeskController

MODES = (("add", "Add"), ("remove", "Remove"))
QUICK = (("25 %", Decimal("0.25")), ("50 %", Decimal("0.5")), ("75 %", Decimal("0.75")), ("Max", Decimal(1)))


def figures_of(risk: Risk, margin: float) -> dict[str, float | None]:
    """The preview's figures of one engine result."""
    return {"isolated_margin": margin, "effective_leverage": risk.effective_leverage,
            "liquidation_price": risk.liquidation_price, "margin_ratio": risk.margin_ratio,
            "distance_frac": risk.distance_frac}


class CollateralDialog(DeskDialog):
    """Add or remove isolated margin on one position.

    ``mode`` is ``"add"`` or ``"remove"``. Signals: those of :class:`DeskDialog`.
    """

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 position_id: int, mode: str = "add", theme: Theme | None = None,
                 thresholds: Thresholds | None = None, locale: QLocale | None = None):
        if mode not in dict(MODES):
            raise ValueError(f"mode must be add or remove; got {mode!r}")
        super().__init__(controller, snapshot, parent, theme=theme, thresholds=thresholds)
        self.position_id = int(position_id)
        self.locale_ = locale if locale is not None else QLocale()
        self.after_risk: Risk | None = None
        self.before_risk: Risk | None = None
        self.amount_refused = False  # the amount itself is refused (not only waiting for the tick)
        self.limits: dict[str, Decimal | None] = {"add": None, "remove": None}
        self.margin_now: Decimal | None = None
        row = self.snapshot.book.row_of(self.position_id)
        if row is None:
            raise ValueError(f"no position with id {position_id} in the book")
        book = self.snapshot.book
        self.label = book.labels[row]
        self.currency = book.currencies[row]
        self.setWindowTitle(f"Adjust margin — {self.label}")
        self.setMinimumWidth(500)

        title = QLabel(f"<b>{self.label}</b>", self)
        title.setTextFormat(Qt.TextFormat.RichText)
        self.subtitle = QLabel("", self)
        self.subtitle.setStyleSheet(f"color: {self.theme.muted.name()};")
        self.body.addWidget(title)
        self.body.addWidget(self.subtitle)

        self.mode_group, mode_box = segmented(self, MODES, mode)
        self.mode_group.buttonToggled.connect(self._mode_toggled)
        self.add_button, self.remove_button = self.mode_group.buttons()

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Action", mode_box)
        amount_row = QHBoxLayout()
        self.amount = AmountEdit(self, locale=self.locale_, placeholder="amount")
        self.amount.setObjectName("amount")
        self.amount.amount_changed.connect(self.schedule)
        amount_row.addWidget(self.amount, 1)
        amount_row.addWidget(QLabel(self.currency, self))
        form.addRow("Amount", amount_row)
        quick_row, self.quick_buttons = quick_fraction_row(self, QUICK, self.fill_fraction)
        form.addRow("", quick_row)
        self.addable_label = QLabel("", self)
        self.addable_label.setObjectName("max-addable")
        form.addRow("Max addable", self.addable_label)
        self.removable_label = QLabel("", self)
        self.removable_label.setObjectName("max-removable")
        form.addRow("Max removable", self.removable_label)
        self.reason_edit = QLineEdit(self)
        self.reason_edit.setObjectName("reason-edit")
        self.reason_edit.setPlaceholderText("optional, kept in the journal")
        self.reason_edit.setMaxLength(200)
        self.reason_edit.textChanged.connect(self.schedule)
        form.addRow("Reason", self.reason_edit)
        self.body.addLayout(form)

        self.preview = PreviewGrid(PREVIEW_FIGURES, self.theme, self)
        self.body.addWidget(self.preview)
        self.level_label = QLabel("", self)
        self.level_label.setObjectName("after-level")
        self.body.addWidget(self.level_label)
        self.accept_risk = QCheckBox("", self)
        self.accept_risk.setObjectName("accept-risk")
        self.accept_risk.setVisible(False)
        self.accept_risk.toggled.connect(self.schedule)
        self.body.addWidget(self.accept_risk)
        self.body.addWidget(hint_label("The desk checks the amount again when it arrives: a position liquidated "
                                       "in the meantime refuses it.", self.theme, self))
        self.finish_layout()
        self.amount.setFocus()

    # -- inputs ---------------------------------------------------------------------------------------

    def mode(self) -> str:
        """``add`` or ``remove``."""
        return "remove" if self.remove_button.isChecked() else "add"

    def set_mode(self, mode: str) -> None:
        """Switch between add and remove."""
        (self.remove_button if mode == "remove" else self.add_button).setChecked(True)

    @Slot()
    def _mode_toggled(self, *_args: object) -> None:
        self.confirm_button.setText("Add margin" if self.mode() == "add" else "Remove margin")
        self.accept_risk.setChecked(False)
        self.schedule()

    def fill_fraction(self, fraction: Decimal) -> None:
        """Quick button: ``fraction`` of what the current mode allows, rounded down to the currency's
        display precision (cents for USDT, 8 decimals for BTC: the figure "Max removable" shows), so
        the amount filled is one the form accepts."""
        self.refresh()  # limits from the newest snapshot
        limit = self.limits[self.mode()]
        if limit is None or limit <= 0:
            return
        if self.mode() == "remove" and self.margin_now is not None:
            limit = min(limit, self.margin_now - STEP)  # the desk refuses a removal that leaves no margin
        if limit <= 0:
            return
        self.amount.set_amount(floor_amount(limit * fraction, money_decimals(self.currency)))
        self.refresh()

    def set_inputs_enabled(self, enabled: bool) -> None:
        for w in (self.amount, self.reason_edit, self.add_button, self.remove_button, self.accept_risk,
                  *self.quick_buttons.values()):
            w.setEnabled(enabled)

    # -- evaluation -------------------------------------------------------------------------------------

    def evaluate(self) -> str:
        self.confirm_button.setText("Add margin" if self.mode() == "add" else "Remove margin")
        snap = self.snapshot
        row = snap.book.row_of(self.position_id)
        if row is None:
            self._show_dead("closed")
            return f"position {self.label!r} is no longer in the book (closed)"
        status = snap.book.statuses[row]
        if status != "open":
            self._show_dead(status)
            return f"position {self.label!r} was {status}; it holds no collateral any more"
        book = snap.book
        self.subtitle.setText(f"{book.symbols[row]} · {book.venues[row]} · {book.sides[row].upper()} "
                              f"{fmt_leverage(float(snap.cols['leverage'][row]))} · now "
                              f"{level_name(int(snap.level[row])) if not snap.stale[row] else 'STALE'}")
        margin_now = exact(float(snap.cols["isolated_margin"][row]))
        self.margin_now = margin_now
        mark = mark_of(snap, row)
        account = next((a for a in snap.accounts if a.name == book.accounts[row]), None)
        free = floor_amount(account.free_balance) if account is not None else Decimal(0)
        removable = removable_limit(snap, row)
        self.limits = {"add": free, "remove": floor_amount(removable) if math.isfinite(removable) else None}
        self.addable_label.setText(f"{money_text(free, self.currency)} {self.currency}  (free balance of "
                                   f"{book.accounts[row]})")
        self.removable_label.setText(
            f"{money_text(self.limits['remove'], self.currency)} {self.currency}  ({book.venues[row]} rule at the mark)"
            if self.limits["remove"] is not None else "—  (no fresh mark: nothing can be removed)")
        mode = self.mode()
        limit = self.limits[mode]
        for button in self.quick_buttons.values():
            button.setEnabled(self.pending is None and limit is not None and limit > 0)

        position = position_of(snap, row, float(margin_now), self.catalog)
        self.before_risk = risk_at(position, mark)
        before = figures_of(self.before_risk, float(margin_now))
        self.after_risk = None
        amount = self.amount.value()
        problem = ""
        if amount is None:
            problem = f"amount: {self.amount.error()}"
        elif mode == "add":  # the desk's own rules (isodesk.desk.rules), on the snapshot's figures
            problem = rules.add_problem(amount, free, self.currency, book.accounts[row])
        else:
            problem = rules.remove_problem(amount, removable if math.isfinite(removable) else math.nan,
                                           margin=margin_now, label=self.label, symbol=book.symbols[row],
                                           currency=self.currency,
                                           strict_isolated=self.catalog.strict_isolated(book.venues[row],
                                                                                        book.symbols[row]))
        after_margin = None
        if amount is not None and not problem:
            after_margin = margin_now + amount if mode == "add" else margin_now - amount
        after = None
        if after_margin is not None or (amount is not None and mode == "add"):
            shown = after_margin if after_margin is not None else margin_now + amount  # type: ignore[operator]
            self.after_risk = risk_at(position_of(snap, row, float(shown), self.catalog), mark)
            after = figures_of(self.after_risk, float(shown))
        self.preview.show_values(before, after, currency=self.currency,
                                 tone=self._tone(self.before_risk, self.after_risk, book.sides[row]))
        reason_problem = self._reason_problem()
        self.amount_refused = bool(problem or reason_problem)
        risk_problem = self._risk_problem(mode)
        return problem or reason_problem or risk_problem

    def show_refused(self, refused: bool) -> None:
        """The preview in the danger colour while the form refuses; the level line says "refused"
        when the amount itself is refused (a removal waiting only for the tick keeps its level)."""
        super().show_refused(refused)
        if refused and self.amount_refused and self.amount.text().strip():
            self.level_label.setText("After: refused — nothing is sent (see the reason below)")
            self.level_label.setStyleSheet(f"color: {self.theme.danger.name()};")

    def _reason_problem(self) -> str:
        """Why the journal reason cannot be kept (printable text, at most 500 characters), or ""."""
        try:
            check_text(self.reason_edit.text(), "reason", max_length=MAX_REASON, required=False)
        except BoundsError as exc:
            return str(exc)
        return ""

    def _num(self, value: Decimal) -> str:
        return format_amount(value, self.locale_, group=True)

    def _risk_problem(self, mode: str) -> str:
        after = self.after_risk
        level = level_of(after.distance_frac if after else None, self.thresholds)
        if after is not None:
            self.level_label.setText(f"After: {level.name} · liquidation {fmt_distance(after.distance_frac)}")
            self.level_label.setStyleSheet(f"color: {self.theme.level_color(level).name()};")
        else:
            self.level_label.setText("")
        needs = mode == "remove" and after is not None and level >= Level.WARNING
        if needs:
            self.accept_risk.setText(f"I accept that this leaves the position at {level.name}")
        self.accept_risk.setVisible(needs)
        if needs and not self.accept_risk.isChecked():
            return (f"this removal leaves {self.label} at {level.name} "
                    f"(liquidation {fmt_distance(after.distance_frac)}): tick the box to accept it")  # type: ignore[union-attr]
        return ""

    def _show_dead(self, status: str) -> None:
        self.subtitle.setText(f"{status.upper()}")
        self.limits = {"add": None, "remove": None}
        self.addable_label.setText("—")
        self.removable_label.setText("—")
        for button in self.quick_buttons.values():
            button.setEnabled(False)
        self.accept_risk.setVisible(False)
        self.level_label.setText("")

    @staticmethod
    def _tone(before: Risk | None, after: Risk | None, side: str) -> str:
        if before is None or after is None:
            return "neutral"
        if before.distance_frac is not None and after.distance_frac is not None:
            delta = after.distance_frac - before.distance_frac
        elif before.liquidation_price is not None and after.liquidation_price is not None:
            delta = (before.liquidation_price - after.liquidation_price) * (1 if side == "long" else -1)
        elif after.liquidation_price is None and before.liquidation_price is not None:
            delta = 1.0  # no liquidation price left at all: fully collateralised
        else:
            delta = 0.0
        return "safer" if delta > 0 else "riskier" if delta < 0 else "neutral"

    def build_command(self) -> Command:
        amount = self.amount.value()
        assert amount is not None
        reason = self.reason_edit.text().strip()
        if self.mode() == "add":
            return AddCollateral(self.position_id, amount, reason=reason)
        return RemoveCollateral(self.position_id, amount, reason=reason)
