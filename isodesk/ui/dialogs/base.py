"""What every desk form shares: the snapshot it follows, the debounced preview, send-and-wait, the reason line.

A form never decides anything the desk decides: it refuses in the form what the desk would
refuse (so Confirm stays disabled with the reason shown), sends one command through
:meth:`DeskController.send`, and reacts only to the :class:`Result` carrying its own request id.
The desk's answer is what counts; a rejection's reason is shown verbatim.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from PySide6.QtCore import QLocale, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.commands import Command, Reply, Result
from isodesk.desk.levels import Level, Thresholds
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.snapshot import Snapshot
from isodesk.margin import Position, Risk, compute_one
from isodesk.margin.catalog import TierCatalog
from isodesk.ui.columns import DASH, fmt_distance, fmt_leverage, fmt_money, fmt_pct, fmt_price
from isodesk.ui.dialogs.amount import AmountEdit
from isodesk.ui.theme import Theme, dark_theme, light_theme
from isodesk.ui.worker import DeskController

PREVIEW_DEBOUNCE_MS = 150


@functools.cache
def catalog() -> TierCatalog:
    """The shipped tier catalog, read once per process (files are read lazily)."""
    return shipped_catalog()


def default_theme() -> Theme:
    """The theme matching the application's palette (light unless the window colour is dark)."""
    app = QGuiApplication.instance()
    window = app.palette().color(QPalette.ColorRole.Window) if app is not None else QColor("#ffffff")
    return dark_theme() if window.lightness() < 128 else light_theme()


def level_of(distance: float | None, thresholds: Thresholds) -> Level:
    """The level a distance to liquidation reaches (no hysteresis: a form asks "where would it land")."""
    if distance is None or not math.isfinite(distance):
        return Level.SAFE
    if distance <= thresholds.danger:
        return Level.DANGER
    if distance <= thresholds.warning:
        return Level.WARNING
    return Level.SAFE


def contract_size_of(snapshot: Snapshot, row: int, cat: TierCatalog) -> float:
    """USD face of one contract of an inverse row (1.0 for linear): the catalog's, unless the row says otherwise."""
    book = snapshot.book
    if book.contracts[row] != "inverse":
        return 1.0
    shipped = cat.contract_size(book.venues[row], "inverse", book.symbols[row])
    mark, notional, qty = (float(snapshot.cols[k][row]) for k in ("mark", "notional", "quantity"))
    if math.isfinite(mark) and math.isfinite(notional) and qty > 0:
        derived = notional * mark / qty
        if not math.isclose(derived, shipped, rel_tol=1e-9):
            return derived
    return shipped


def position_of(snapshot: Snapshot, row: int, margin: float, cat: TierCatalog | None = None) -> Position:
    """The engine's position of a snapshot row holding ``margin`` (as the desk builds it from the store,
    with the desk's tier tables, which the snapshot carries)."""
    cat = cat or snapshot.catalog or catalog()
    book = snapshot.book
    venue, contract, symbol = book.venues[row], book.contracts[row], book.symbols[row]
    return Position(
        venue=venue, side=book.sides[row], contract=contract, entry_price=float(snapshot.cols["entry_price"][row]),
        quantity=float(snapshot.cols["quantity"][row]), contract_size=contract_size_of(snapshot, row, cat),
        isolated_margin=float(margin), leverage=float(snapshot.cols["leverage"][row]),
        taker_fee_rate=cat.taker_fee(venue, contract),
        tiers=cat.table(venue, contract, symbol, position_id=int(book.position_ids[row])),  # its own rate first
        symbol=symbol, label=book.labels[row])


def mark_of(snapshot: Snapshot, row: int) -> float | None:
    """The row's mark, None when missing or stale."""
    mark = float(snapshot.cols["mark"][row])
    return mark if math.isfinite(mark) and not bool(snapshot.stale[row]) else None


def risk_at(position: Position, mark: float | None) -> Risk:
    """The engine's figures of one position (N = 1, microseconds; allowed in the GUI thread, QT-PRACTICES §5.7)."""
    return compute_one(position, mark)


def fmt_opt(value: float | None, kind: str, currency: str = "USDT") -> str:
    """A preview figure: ``money``, ``price``, ``lev``, ``pct`` (fraction → %), ``distance`` (the
    distance to liquidation, :func:`~isodesk.formats.fmt_distance`: ``3.34 % away``); ``—`` for None."""
    if value is None or not math.isfinite(value):
        return DASH
    if kind == "distance":
        return fmt_distance(value)
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "price":
        return fmt_price(value)
    if kind == "lev":
        return fmt_leverage(round(value, 2))
    return fmt_pct(value * 100)


@dataclass(frozen=True)
class Figure:
    """One row of a before → after preview."""

    key: str
    title: str
    kind: str


PREVIEW_FIGURES = (
    Figure("isolated_margin", "Isolated margin", "money"),
    Figure("effective_leverage", "Effective leverage", "lev"),
    Figure("liquidation_price", "Liquidation price", "price"),
    Figure("margin_ratio", "Margin ratio", "pct"),
    Figure("distance_frac", "Distance to liquidation", "distance"),
)


class PreviewGrid(QWidget):
    """A before → after grid of figures; the after column takes a colour (safer / riskier / neutral),
    and the danger colour whenever the form refuses what it previews (:meth:`set_refused`)."""

    def __init__(self, figures: tuple[Figure, ...], theme: Theme, parent: QWidget | None = None, *,
                 single: bool = False):
        super().__init__(parent)
        self.figures = figures
        self.theme = theme
        self.single = single
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(4)
        bold = QFont(theme.font)
        bold.setBold(True)
        for col, text in (((1, "Now"), (3, "After")) if not single else ()):
            head = QLabel(text, self)
            head.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            head.setStyleSheet(f"color: {theme.muted.name()};")
            grid.addWidget(head, 0, col)
        self.before: dict[str, QLabel] = {}
        self.after: dict[str, QLabel] = {}
        for i, fig in enumerate(figures, start=1):
            grid.addWidget(QLabel(fig.title, self), i, 0)
            if single:
                label = QLabel(DASH, self)
                label.setFont(bold)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                label.setObjectName(f"value-{fig.key}")
                self.before[fig.key] = self.after[fig.key] = label
                grid.addWidget(label, i, 1)
                continue
            for store, col in ((self.before, 1), (self.after, 3)):
                label = QLabel(DASH, self)
                label.setFont(theme.font if store is self.before else bold)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                label.setMinimumWidth(110)
                label.setObjectName(f"{'before' if store is self.before else 'after'}-{fig.key}")
                store[fig.key] = label
                grid.addWidget(label, i, col)
            arrow = QLabel("→", self)
            arrow.setStyleSheet(f"color: {theme.muted.name()};")
            grid.addWidget(arrow, i, 2)
        grid.setColumnStretch(0, 1)
        self.tone = "neutral"
        self.refused = False

    def show_values(self, before: dict[str, float | None], after: dict[str, float | None] | None, *,
                    currency: str, tone: str = "neutral") -> None:
        """Fill both columns (``after`` None: dashes) and colour the after column by ``tone``."""
        for fig in self.figures:
            if self.single:
                self.before[fig.key].setText(fmt_opt(before.get(fig.key), fig.kind, currency))
                continue
            self.before[fig.key].setText(fmt_opt(before.get(fig.key), fig.kind, currency))
            self.after[fig.key].setText(DASH if after is None else fmt_opt(after.get(fig.key), fig.kind, currency))
        self.tone = tone if after is not None else "neutral"
        self._paint()

    def set_refused(self, refused: bool) -> None:
        """The form refuses what is previewed (or accepts it again): the figures it would give turn to
        the danger colour, never the colour of a safer outcome."""
        if refused != self.refused:
            self.refused = refused
            self._paint()

    def colour(self) -> QColor:
        """The colour of the figures that react to the input (the after column; every value when single)."""
        if self.refused:
            return self.theme.danger
        return {"safer": self.theme.safe, "riskier": self.theme.danger}.get(self.tone, self.theme.text)

    def _paint(self) -> None:
        if self.single:
            style = f"color: {self.theme.danger.name()};" if self.refused else ""
            for label in self.before.values():
                label.setStyleSheet(style)
            return
        colour = self.colour()
        for label in self.after.values():
            label.setStyleSheet(f"color: {colour.name()};")

    def after_text(self, key: str) -> str:
        """The after column's text of one figure."""
        return self.after[key].text()


def quick_fraction_row(parent: QWidget, choices: tuple[tuple[str, Decimal], ...],
                       on_fraction: Callable[[Decimal], None]) -> tuple[QHBoxLayout, dict[str, QPushButton]]:
    """A row of "25 %"-style buttons, each calling ``on_fraction`` with its fraction (a Decimal);
    the buttons by text (object names ``quick-25``, ``quick-Max``…)."""
    row = QHBoxLayout()
    row.setSpacing(4)
    buttons: dict[str, QPushButton] = {}
    for text, fraction in choices:
        button = QPushButton(text, parent)
        button.setObjectName(f"quick-{text.replace(' %', '')}")
        button.setAutoDefault(False)
        button.clicked.connect(lambda _checked=False, f=fraction: on_fraction(f))
        buttons[text] = button
        row.addWidget(button)
    row.addStretch(1)
    return row, buttons


def amount_with_max(dialog: DeskDialog, placeholder: str, max_text: str) -> QHBoxLayout:
    """The amount row of a money form: ``dialog.amount`` (an :class:`AmountEdit` that re-previews on
    each edit), ``dialog.currency_label`` and ``dialog.max_button`` (object name ``quick-Max``,
    calling ``dialog.fill_max``), laid out in the returned row."""
    row = QHBoxLayout()
    dialog.amount = AmountEdit(dialog, locale=dialog.locale_, placeholder=placeholder)
    dialog.amount.setObjectName("amount")
    dialog.amount.amount_changed.connect(dialog.schedule)
    dialog.currency_label = QLabel("", dialog)
    dialog.max_button = QPushButton(max_text, dialog)
    dialog.max_button.setObjectName("quick-Max")
    dialog.max_button.setAutoDefault(False)
    dialog.max_button.clicked.connect(dialog.fill_max)
    row.addWidget(dialog.amount, 1)
    row.addWidget(dialog.currency_label)
    row.addWidget(dialog.max_button)
    return row


def segmented(parent: QWidget, names: tuple[tuple[str, str], ...], checked: str) -> tuple[QButtonGroup, QWidget]:
    """A row of exclusive checkable buttons (value, text); the group's buttons carry ``value`` as objectName."""
    box = QWidget(parent)
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(0)
    palette = box.palette()
    hl, hl_text = palette.color(QPalette.ColorRole.Highlight).name(), palette.color(QPalette.ColorRole.HighlightedText)
    box.setStyleSheet(f"QPushButton:checked {{ background-color: {hl}; color: {hl_text.name()}; border: 1px solid {hl};"
                      " border-radius: 3px; padding: 4px 12px; font-weight: bold; }")
    group = QButtonGroup(box)
    group.setExclusive(True)
    for value, text in names:
        button = QPushButton(text, box)
        button.setCheckable(True)
        button.setObjectName(value)
        button.setChecked(value == checked)
        bold = QFont(button.font())
        bold.setBold(True)  # the checked button's text is bold: room for it, or it is clipped
        button.setMinimumWidth(max(90, QFontMetrics(bold).horizontalAdvance(text) + 30))
        group.addButton(button)
        row.addWidget(button)
    row.addStretch(1)
    return group, box


class DeskDialog(QDialog):
    """Base of the desk forms: follows the snapshots, debounces the preview, sends one command, waits.

    Subclasses implement :meth:`evaluate` (refresh the preview; return the reason Confirm is
    disabled, or "" when the command may go) and :meth:`build_command`.

    Signals:
        command_accepted(object): the desk accepted this form's command (the :class:`Result`); the form closes.
        command_rejected(object): the desk rejected it; the reason is shown and the form stays open.
        previewed(): the preview and the Confirm state were refreshed.
    """

    command_accepted = Signal(object)
    command_rejected = Signal(object)
    previewed = Signal()

    confirm_text = "Confirm"

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 theme: Theme | None = None, thresholds: Thresholds | None = None):
        super().__init__(parent)
        self.controller = controller
        snap = snapshot if snapshot is not None else controller.latest
        if snap is None:
            raise ValueError("a desk form needs a snapshot: the desk has not published one yet")
        self.snapshot: Snapshot = snap
        self.theme = theme or default_theme()
        self.thresholds = thresholds or snap.thresholds  # the desk's own warning/danger distances
        self.catalog = snap.catalog if snap.catalog is not None else catalog()  # the desk's tables
        self.pending: str | None = None
        self.last_result: Result | None = None
        self.unconfirmed: Command | None = None  # sent, answered "unknown": only this exact command may go again
        self._sent: Command | None = None
        self._problem = ""
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)

        self._timer = QTimer(self)
        self._timer.setObjectName("preview-debounce")
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.timeout.connect(self.refresh)

        self.layout_ = QVBoxLayout(self)
        self.layout_.setSpacing(8)
        self.body = QVBoxLayout()
        self.body.setSpacing(8)
        self.layout_.addLayout(self.body)
        self.reason_label = QLabel("", self)
        self.reason_label.setObjectName("reason")
        self.reason_label.setWordWrap(True)
        self.reason_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label = QLabel("", self)
        self.status_label.setObjectName("status")
        self.status_label.setWordWrap(True)
        self.status_label.setStyleSheet(f"color: {self.theme.muted.name()};")
        self.buttons = QDialogButtonBox(self)
        self.confirm_button = self.buttons.addButton(self.confirm_text, QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_button.setObjectName("confirm")
        self.confirm_button.setDefault(True)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_button.clicked.connect(self.confirm)
        self.cancel_button.clicked.connect(self.reject)

        controller.snapshot.connect(self._on_snapshot)
        controller.result.connect(self.on_result)

    def finish_layout(self) -> None:
        """Add the reason, status and button rows under the subclass's body; first evaluation."""
        self.layout_.addWidget(self.reason_label)
        self.layout_.addWidget(self.status_label)
        self.layout_.addWidget(self.buttons)
        self.refresh()

    # -- the preview ------------------------------------------------------------------------------------

    def schedule(self) -> None:
        """An input changed: Confirm waits for the (debounced, restarted) re-evaluation."""
        self.confirm_button.setEnabled(False)
        if self.pending is None and self.last_result is not None and not self.last_result.accepted:
            self._set_status("")  # the desk's last refusal was about the previous input
        self._timer.start()

    @Slot(object)
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        if not self._timer.isActive():  # do not starve the debounce at 10 snapshots a second
            self._timer.start()

    @Slot()
    def refresh(self) -> None:
        """Re-evaluate now: preview, limits, the reason and the Confirm state."""
        self._timer.stop()
        self._problem = self.evaluate()
        self.show_refused(bool(self._problem))
        waiting = self.pending is not None
        if self.unconfirmed is not None:
            self.confirm_button.setEnabled(not waiting)  # "Send again" of the unconfirmed request
            self.reason_label.setText("")
            self.previewed.emit()
            return
        self.confirm_button.setEnabled(not self._problem and not waiting)
        self.reason_label.setText(self._problem)
        self.reason_label.setStyleSheet(f"color: {self.theme.danger.name()};")
        self.previewed.emit()

    def problem(self) -> str:
        """Why Confirm is disabled now ("" when it is enabled)."""
        return self._problem

    def show_refused(self, refused: bool) -> None:
        """Colour the preview for a refusal (``refused``: the form refuses its inputs now): a form's
        preview never shows a refused input in the colours of an accepted one. Subclasses with more
        preview lines extend it."""
        preview = getattr(self, "preview", None)
        if isinstance(preview, PreviewGrid):
            preview.set_refused(refused)

    def desk_message(self) -> str:
        """The desk's last word shown in the form (its refusal, verbatim, after "The desk refused: ")."""
        return self.status_label.text()

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setText(text)
        colour = self.theme.danger if error else self.theme.muted
        self.status_label.setStyleSheet(f"color: {colour.name()};")

    def evaluate(self) -> str:
        """Refresh the preview from the inputs and ``self.snapshot``; the reason to refuse, or ""."""
        raise NotImplementedError

    def build_command(self) -> Command:
        """The command the inputs describe (called only when :meth:`evaluate` returned "")."""
        raise NotImplementedError

    def set_inputs_enabled(self, enabled: bool) -> None:
        """Enable or disable the inputs while a command is on its way (subclasses list theirs)."""

    # -- sending ------------------------------------------------------------------------------------------

    @Slot()
    def confirm(self) -> None:
        """Evaluate once more and send the command; the form waits for the desk's answer."""
        if self.pending is not None:
            return
        if self.unconfirmed is not None:
            self._send(self.unconfirmed)  # the same request id: the desk does it at most once
            return
        self.refresh()
        if self._problem:
            return
        self._send(self.build_command())

    def _send(self, command: Command) -> None:
        self.pending = self.controller.send(command)
        self._sent = command
        self.confirm_button.setEnabled(False)
        self.set_inputs_enabled(False)
        self._set_status("Sent to the desk; waiting for its answer…")

    @Slot(object)
    def on_result(self, result: Result) -> None:
        """The desk's answer: only this form's request id counts. Accepted closes; rejected shows why."""
        if self.pending is None or result.request_id != self.pending:
            return
        self.pending = None
        self.last_result = result
        if result.reply == Reply.UNKNOWN:
            # The outcome is not known: a new command could do it twice. The inputs stay locked and
            # Confirm becomes "Send again", which resends this very request (same id).
            self.unconfirmed = self._sent
            self._set_status(f"Outcome unknown: {result.reason}", error=True)
            self.confirm_button.setText("Send again")
            self.confirm_button.setEnabled(True)
            self.command_rejected.emit(result)
            return
        self.unconfirmed = None
        self.confirm_button.setText(self.confirm_text)
        self.set_inputs_enabled(True)
        if result.accepted:
            self._set_status(result.reason)
            self.command_accepted.emit(result)
            self.accept()
            return
        self._set_status(f"The desk refused: {result.reason}", error=True)
        self.refresh()
        self.command_rejected.emit(result)

    def done(self, code: int) -> None:
        """Close; a command still on its way keeps going (the desk answers it; nobody listens)."""
        self._timer.stop()
        super().done(code)


def with_unit(edit: QWidget, unit: QLabel) -> QHBoxLayout:
    """An input with its unit (or hint) label on its right."""
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(unit)
    return row


def cliff_label(dialog: DeskDialog) -> QLabel:
    """The hidden, wrapping line in the warning colour where a form shows its tier-cliff warning
    (:func:`isodesk.desk.rules.tier_cliff_warning`), added to the dialog's body."""
    label = QLabel("", dialog)
    label.setObjectName("tier-cliff")
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {dialog.theme.warning.name()};")
    label.setVisible(False)
    dialog.body.addWidget(label)
    return label


class PositionDialog(DeskDialog):
    """A form about one position of the book: the window title ``"{title} — label"``, the label in
    bold and a muted line ``symbol · venue · SIDE leverage`` (``subtitle``) at the top of the body.
    Keeps ``position_id``, ``label``, ``currency`` (settlement) and ``unit`` (``contracts`` for an
    inverse position, "" for base units); a position id not in the book is a ValueError."""

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 position_id: int, title: str, theme: Theme | None = None, thresholds: Thresholds | None = None,
                 locale: QLocale | None = None):
        super().__init__(controller, snapshot, parent, theme=theme, thresholds=thresholds)
        self.locale_ = locale if locale is not None else QLocale()
        self.position_id = int(position_id)
        book = self.snapshot.book
        row = book.row_of(self.position_id)
        if row is None:
            raise ValueError(f"no position with id {position_id} in the book")
        self.label, self.currency = book.labels[row], book.currencies[row]
        self.unit = "contracts" if book.contracts[row] == "inverse" else ""
        self.setWindowTitle(f"{title} — {self.label}")
        self.body.addWidget(QLabel(f"<b>{self.label}</b>", self))
        self.subtitle = QLabel(f"{book.symbols[row]} · {book.venues[row]} · {book.sides[row].upper()} "
                               f"{fmt_leverage(float(self.snapshot.cols['leverage'][row]))}", self)
        self.subtitle.setStyleSheet(f"color: {self.theme.muted.name()};")
        self.body.addWidget(self.subtitle)


def money_text(value: Decimal | float, currency: str) -> str:
    """Money in its currency's display precision."""
    return fmt_money(float(value), currency)


def hint_label(text: str, theme: Theme, parent: QWidget) -> QLabel:
    """A muted, wrapping explanatory line."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.muted.name()};")
    return label
