"""Apply the scenario's collateral edits to the real book, after an inline confirmation.

The only part of the What-if page that changes the book: one :class:`AddCollateral` or
:class:`RemoveCollateral` per edited position (exact Decimal amounts, as written in the cell),
sent through the desk, each answer reported on its own line. Leverage edits stay in the scenario
(no command moves them).
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from isodesk.desk.commands import AddCollateral, RemoveCollateral
from isodesk.margin.scenario import ScenarioBook
from isodesk.ui.columns import fmt_money
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import escape

REASON = "what-if workspace"


def collateral_commands(plan: list[tuple[int, Decimal]]) -> list[AddCollateral | RemoveCollateral]:
    """One command per ``(position id, signed amount)``: positive adds, negative removes."""
    return [AddCollateral(pid, amount, reason=REASON) if amount > 0 else RemoveCollateral(pid, -amount, reason=REASON)
            for pid, amount in plan]


def plan_text(book: ScenarioBook, plan: list[tuple[int, Decimal]]) -> str:
    """The confirmation sentence: what moves where."""
    lines = []
    for pid, amount in plan:
        r = book.row(pid)
        ccy = book.currencies[int(book.account_index[r])]
        lines.append(f"{'add' if amount > 0 else 'remove'} {fmt_money(abs(float(amount)), ccy)} {ccy} "
                     f"{'to' if amount > 0 else 'from'} {book.labels[r]}")
    return "; ".join(lines)


class ApplyBar(QWidget):
    """*Apply collateral edits…*, its confirmation and the answers.

    Signals:
        apply_clicked(): the trader asked to apply (the workspace shows the plan).
        confirmed(): the trader confirmed the plan shown.
    """

    apply_clicked = Signal()
    confirmed = Signal()

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.theme = theme
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        row = QHBoxLayout()
        self.button = QPushButton("Apply collateral edits…", self)
        self.button.setObjectName("apply-collateral")
        self.button.setToolTip("move real collateral as edited in the Margin ± cells (asks first)")
        self.button.setEnabled(False)
        self.button.clicked.connect(self.apply_clicked)
        row.addWidget(self.button)
        self.report = QLabel("", self)
        self.report.setObjectName("apply-report")
        self.report.setWordWrap(True)
        row.addWidget(self.report, 1)
        outer.addLayout(row)
        self.confirm_bar = QFrame(self)
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
        self.confirm_button.clicked.connect(self._confirm)
        self.confirm_cancel.clicked.connect(self.confirm_bar.hide)
        self.confirm_bar.hide()
        outer.addWidget(self.confirm_bar)

    def set_theme(self, theme: Theme) -> None:
        """Colours of the confirmation text."""
        self.theme = theme
        self.confirm_text.setStyleSheet(f"color: {theme.warning.name()};")

    def ask(self, text: str) -> None:
        """Show the confirmation with ``text`` (what would move)."""
        self.confirm_text.setText(text)
        self.confirm_text.setStyleSheet(f"color: {self.theme.warning.name()};")
        self.confirm_bar.show()

    def _confirm(self) -> None:
        self.confirm_bar.hide()
        self.report.setText("")
        self.confirmed.emit()

    def add_answer(self, text: str, ok: bool) -> None:
        """Report one answer of the desk (green accepted, red refused)."""
        colour = self.theme.safe if ok else self.theme.danger
        line = f'<span style="color:{colour.name()}">{escape(text)}</span>'
        previous = self.report.text()
        self.report.setText(f"{previous}<br>{line}" if previous else line)
