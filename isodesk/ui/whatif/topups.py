"""The What-if page's top-up controls and the sentence that reports what top-ups would save.

:class:`TopUpBar`: *Venue auto-add* (simulate the venues' auto-add margin for the positions whose
latest venue import flags it) and *Top-up policy* (the trader's own, as ``isodesk replay --top-up``
reads it, e.g. ``below=3%,to=8%,cap=500,reserve=2000``). The shock scenario and the file replayed
as recorded both take them (:class:`~isodesk.desk.scenario_jobs.RunScenario`,
:class:`~isodesk.desk.scenario_jobs.ReplayPath`); the desk computes, the page shows
(:func:`top_up_sentence`). The policy is parsed here only to say at once what is wrong with it;
the desk parses it again with the same function and its answer is what counts.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from isodesk.margin.scenario import Outcome
from isodesk.margin.topup import PolicyError, parse_policy
from isodesk.ui.columns import fmt_money
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import escape

POLICY_EXAMPLE = "below=3%,to=8%,cap=500,reserve=2000"


class TopUpBar(QWidget):
    """Venue auto-add on/off and the trader's top-up policy.

    Signals:
        changed(): the auto-add box or a valid (or emptied) policy changed.
    """

    changed = Signal()

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.auto_add_box = QCheckBox("Venue auto-add", self)
        self.auto_add_box.setObjectName("whatif-auto-add")
        self.auto_add_box.setToolTip("simulate the venues' auto-add margin (Bybit, Binance) for the positions whose "
                                     "latest venue import flags it: the position's initial margin from the free "
                                     "balance at its liquidation price")
        self.auto_add_box.toggled.connect(self._toggled)
        row.addWidget(self.auto_add_box)
        label = QLabel("Top-up policy:", self)
        row.addWidget(label)
        self.policy_edit = QLineEdit(self)
        self.policy_edit.setObjectName("whatif-top-up-policy")
        self.policy_edit.setPlaceholderText(POLICY_EXAMPLE)
        self.policy_edit.setClearButtonEnabled(True)
        self.policy_edit.setToolTip("top up to 'to' % distance when below 'below' %, at most 'cap' per account per "
                                    "day from a reserve of 'reserve' (each account's currency); empty: none")
        self.policy_edit.editingFinished.connect(self._policy_edited)
        row.addWidget(self.policy_edit, 1)
        self.problem = QLabel("", self)
        self.problem.setObjectName("whatif-top-up-problem")
        self.problem.setVisible(False)
        row.addWidget(self.problem, 1)
        self._policy: str | None = None
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        """The problem line in the theme's danger colour."""
        self.theme = theme
        self.problem.setStyleSheet(f"color: {theme.danger.name()};")

    @property
    def auto_add(self) -> bool:
        """True when the venues' auto-add is simulated."""
        return self.auto_add_box.isChecked()

    @property
    def policy(self) -> str | None:
        """The policy text in effect (the last valid one typed; None when empty or never valid)."""
        return self._policy

    @Slot(bool)
    def _toggled(self, _on: bool) -> None:
        self.changed.emit()

    @Slot()
    def _policy_edited(self) -> None:
        self.set_policy(self.policy_edit.text())

    def set_policy(self, text: str) -> bool:
        """Take ``text`` as the policy (empty: none). A policy that cannot be read is shown with the
        reason and not taken (the previous one stays in effect). Returns True when taken."""
        text = text.strip()
        if text:
            try:
                parse_policy(text)
            except PolicyError as exc:
                self.problem.setText(str(exc))
                self.problem.setToolTip(str(exc))
                self.problem.setVisible(True)
                return False
        self.problem.setVisible(False)
        new = text or None
        if self.policy_edit.text().strip() != text:
            self.policy_edit.setText(text)
        if new != self._policy:
            self._policy = new
            self.changed.emit()
        return True


def top_up_sentence(outcome: Outcome, theme: Theme) -> str:
    """What the top-ups would do in the scenario, as rich text: how many of the positions it
    liquidates they save, what the venues' auto-add and the policy spend (per currency), where the
    daily cap bound; empty when the outcome carries no top-ups."""
    rescue = outcome.rescue
    if rescue is None:
        return ""
    auto_add, policy = outcome.rescue_options
    book = outcome.book
    lost = int(rescue.lost_without.sum())
    saved = int(rescue.saved.sum())
    what = " and ".join(w for w in ("venue auto-add" if auto_add else "", "your policy" if policy else "") if w)
    colour = theme.safe if saved else theme.muted
    text = (f'<b>Top-ups</b> ({escape(what)}): <span style="color:{colour.name()}"><b>{saved} of {lost}</b> '
            f"liquidated positions saved</span>")
    named = [book.labels[r] for r in range(len(book)) if rescue.saved[r]][:3]
    if named:
        text += f" ({escape(', '.join(named))}{', …' if saved > len(named) else ''})"
    spent = []
    for name, totals in (("auto-add", outcome.totals(rescue.auto_add_total)),
                         ("policy", outcome.totals(rescue.policy_total))):
        spent += [f"{fmt_money(v, c)} {c} by {name}" for c, v in totals.items() if v > 0]
    text += f", spending {escape(' + '.join(spent))}" if spent else ", spending nothing"
    capped = [book.accounts[a] for a in range(len(book.accounts)) if rescue.cap_bound[a]]
    if capped:
        text += f"; the daily cap bound for {escape(', '.join(capped))}"
    return text + "."


__all__ = ["POLICY_EXAMPLE", "TopUpBar", "top_up_sentence"]
