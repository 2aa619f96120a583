"""The collateral journal of one position or one account: every movement with its figures before and after.

The GUI never reads the database: the view asks the desk with :class:`ReadJournal` and shows the
:class:`JournalPage` that comes back. It reloads after any accepted money command and after a
liquidation. *Undo* sends :class:`UndoAdjustment` for the position (the desk refuses it once the
position was liquidated or closed); *Export CSV…* writes what is shown.

A close has its own *Realized PnL* column (the PnL the account booked, exact: a loss is capped at
the margin released) and a partial close reads "Close (part)"; a liquidation realizes the loss of
the whole margin it held, shown as minus its amount. The CSV carries ``realized_pnl`` and
``closed_quantity``.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.commands import JournalPage, ReadJournal, Result, UndoAdjustment
from isodesk.desk.events import EventKind
from isodesk.desk.operations import JOURNAL_FIGURES, removable_limit
from isodesk.desk.rules import signed_plain
from isodesk.desk.snapshot import Snapshot
from isodesk.store.records import JournalEntry
from isodesk.ui.dialogs.amount import floor_amount
from isodesk.ui.dialogs.base import default_theme, fmt_opt
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

KINDS = {"open": "Open", "increase": "Size added", "add": "Add", "remove": "Remove", "close": "Close",
         "liquidation": "Liquidation", "undo": "Undo"}
COLUMNS = ("Time (UTC)", "Position", "Kind", "Amount", "Realized PnL", "Margin", "Liq. price", "Eff. leverage",
           "Margin ratio", "Distance", "Reason")
_FIRST_FIGURE = 5
_SHOWN = (("isolated_margin", "money"), ("liquidation_price", "price"), ("effective_leverage", "lev"),
          ("margin_ratio", "pct"), ("distance_frac", "distance"))


def realized_of(entry: JournalEntry) -> Decimal | None:
    """The PnL an entry realized (exact, account currency): a close's booked PnL; a liquidation's loss
    of the whole margin it held (``−amount``); None for every other movement."""
    if entry.realized_pnl is not None:
        return entry.realized_pnl
    if entry.kind == "liquidation":
        return -entry.amount
    return None


def is_partial_close(entry: JournalEntry) -> bool:
    """A close that left the position open (some margin stayed in it)."""
    after = entry.after.get("isolated_margin")
    return entry.kind == "close" and after is not None and float(after) > 0


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class JournalModel(QAbstractTableModel):
    """Journal entries, newest first, as table rows."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.page: JournalPage | None = None
        self.rows: list[JournalEntry] = []

    def set_page(self, page: JournalPage) -> None:
        """Show a new page of entries."""
        self.beginResetModel()
        self.page = page
        self.rows = list(reversed(page.entries))
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def currency(self, entry: JournalEntry) -> str:
        """The settlement currency of an entry's account."""
        return self.page.currencies.get(entry.account_id, "") if self.page else ""

    def label(self, entry: JournalEntry) -> str:
        """The label of an entry's position."""
        return self.page.labels.get(entry.position_id, str(entry.position_id)) if self.page else ""

    def cell(self, entry: JournalEntry, column: int) -> str:
        """The text of one cell."""
        currency = self.currency(entry)
        if column == 0:
            return _time(entry.ts)
        if column == 1:
            return self.label(entry)
        if column == 2:
            return "Close (part)" if is_partial_close(entry) else KINDS.get(entry.kind, entry.kind)
        if column == 3:
            sign = {"add": "+", "open": "+", "increase": "+", "remove": "−", "close": "−",
                    "liquidation": "−"}.get(entry.kind, "")
            if entry.kind == "undo":
                grew = _num(entry.after.get("isolated_margin")) > _num(entry.before.get("isolated_margin"))
                sign = "+" if grew else "−"
            return f"{sign}{entry.amount} {currency}"
        if column == 4:
            realized = realized_of(entry)
            return "" if realized is None else f"{signed_plain(realized)} {currency}"
        if column == len(COLUMNS) - 1:
            return entry.reason
        key, kind = _SHOWN[column - _FIRST_FIGURE]
        before = fmt_opt(entry.before.get(key), kind, currency)
        after = fmt_opt(entry.after.get(key), kind, currency)
        return f"{before} → {after}"

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        entry = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(entry, index.column())
        if role == Qt.ItemDataRole.TextAlignmentRole and 3 <= index.column() < len(COLUMNS) - 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return entry.position_id
        return None


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


class JournalView(QDialog):
    """The journal of one position (``position_id``), one account (``account`` name), or everything.

    Non-modal; open it with ``open()`` or ``show()``.

    Signals:
        loaded(): a page of entries arrived from the desk and is shown.
        undo_result(object): the desk's :class:`Result` of an undo sent from this view.
    """

    loaded = Signal()
    undo_result = Signal(object)

    def __init__(self, controller: DeskController, snapshot: Snapshot | None, parent: QWidget | None = None, *,
                 position_id: int | None = None, account: str | None = None, theme: Theme | None = None):
        super().__init__(parent)
        self.controller = controller
        snap = snapshot if snapshot is not None else controller.latest
        if snap is None:
            raise ValueError("the journal view needs a snapshot: the desk has not published one yet")
        self.snapshot: Snapshot = snap
        self.position_id = position_id
        self.account = account
        self.theme = theme or default_theme()
        self._read: str | None = None
        self._undo: str | None = None
        self.page: JournalPage | None = None
        self.setModal(False)
        self.setWindowTitle(f"Journal — {self.scope()}")
        self.resize(1100, 420)

        layout = QVBoxLayout(self)
        self.title = QLabel(f"<b>Collateral journal</b> · {self.scope()}", self)
        layout.addWidget(self.title)
        self.model = JournalModel(self)
        self.table = QTableView(self)
        self.table.setObjectName("journal")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._update_undo)
        layout.addWidget(self.table, 1)
        self.status = QLabel("Loading…", self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.undo_button = QPushButton("Undo last adjustment", self)
        self.undo_button.setObjectName("undo")
        self.undo_button.setAutoDefault(False)
        self.undo_button.clicked.connect(self.undo)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setObjectName("export")
        self.export_button.setAutoDefault(False)
        self.export_button.clicked.connect(self.export)
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.setAutoDefault(False)
        self.refresh_button.clicked.connect(self.reload)
        close = QPushButton("Close", self)
        close.setAutoDefault(False)
        close.clicked.connect(self.reject)
        buttons.addWidget(self.undo_button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.undo_button.setEnabled(False)
        self.export_button.setEnabled(False)

        controller.result.connect(self.on_result)
        controller.snapshot.connect(self._on_snapshot)
        controller.events.connect(self._on_events)
        self.reload()

    def scope(self) -> str:
        """What the view covers, in words."""
        if self.position_id is not None:
            row = self.snapshot.book.row_of(self.position_id)
            return self.snapshot.book.labels[row] if row is not None else f"position {self.position_id}"
        return self.account or "all accounts"

    # -- loading --------------------------------------------------------------------------------------

    @Slot()
    def reload(self) -> None:
        """Ask the desk for the entries again."""
        command = ReadJournal(position_id=self.position_id, account=None if self.position_id else self.account)
        self._read = self.controller.send(command)

    @Slot(object)
    def on_result(self, result: Result) -> None:
        """Our read's page, our undo's answer, or someone else's accepted money command (then reload)."""
        if result.request_id == self._read:
            self._read = None
            if not result.accepted or not isinstance(result.payload, JournalPage):
                self.status.setText(f"The desk refused: {result.reason}")
                return
            self.page = result.payload
            self.model.set_page(result.payload)
            n = len(self.page.entries)
            self.title.setText(f"<b>Collateral journal</b> · {self.scope()} · {n} {'entry' if n == 1 else 'entries'}")
            self.export_button.setEnabled(True)
            if self._undo is None:
                self.status.setText("" if self.page.entries else "No collateral movement yet.")
            self._update_undo()
            self.loaded.emit()
            return
        if result.request_id == self._undo:
            self._undo = None
            colour = self.theme.safe if result.accepted else self.theme.danger
            self.status.setText(result.reason if result.accepted else f"The desk refused: {result.reason}")
            self.status.setStyleSheet(f"color: {colour.name()};")
            self.undo_result.emit(result)
            self.reload()
            return
        if result.accepted and result.ledger_entry_id is not None:
            self.reload()

    @Slot(object)
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        book_changed = snapshot.book is not self.snapshot.book
        self.snapshot = snapshot
        if book_changed:
            self._update_undo()

    @Slot(object)
    def _on_events(self, events: tuple) -> None:
        if any(e.kind is EventKind.LIQUIDATION for e in events):
            self.reload()

    # -- undo -------------------------------------------------------------------------------------------

    def target(self) -> int | None:
        """The position an undo would act on: the view's, or the selected row's."""
        if self.position_id is not None:
            return self.position_id
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()].position_id if rows else None

    def last_adjustment(self, position_id: int) -> JournalEntry | None:
        """The position's last add or remove not yet undone (as the desk picks it)."""
        if self.page is None:
            return None
        entries = [e for e in self.page.entries if e.position_id == position_id]
        undone = {e.undoes for e in entries if e.undoes is not None}
        return next((e for e in reversed(entries) if e.kind in ("add", "remove") and e.id not in undone), None)

    def undo_problem(self) -> str:
        """Why Undo is disabled ("" when it may go): the desk's own refusals, checked on the snapshot."""
        pid = self.target()
        if pid is None:
            return "select a movement of the position to undo"
        snap = self.snapshot
        row = snap.book.row_of(pid)
        label = self.page.labels.get(pid, str(pid)) if self.page else str(pid)
        if row is None or snap.book.statuses[row] != "open":
            status = "closed" if row is None else snap.book.statuses[row]
            return f"position {label!r} was {status} since; its adjustments cannot be undone"
        last = self.last_adjustment(pid)
        if last is None:
            return f"position {label!r} has no collateral adjustment to undo"
        if last.kind == "add":
            limit = removable_limit(snap, row)
            if not math.isfinite(limit) or last.amount > floor_amount(limit):
                return (f"undo: taking the {last.amount} back out is more than the venue lets you remove "
                        f"from {label} now")
        else:
            account = next((a for a in snap.accounts if a.name == snap.book.accounts[row]), None)
            free = floor_amount(account.free_balance) if account is not None else Decimal(0)
            if last.amount > free:
                return f"undo: putting {last.amount} back needs more than the free balance {free}"
        return ""

    @Slot()
    def _update_undo(self, *_args: object) -> None:
        problem = self.undo_problem() if self.page is not None else "loading"
        ok = not problem and self._undo is None
        self.undo_button.setEnabled(ok)
        self.undo_button.setToolTip(problem)
        pid = self.target()
        last = self.last_adjustment(pid) if pid is not None else None
        if ok and last is not None:
            self.undo_button.setText(f"Undo the {last.kind} of {last.amount}")
        else:
            self.undo_button.setText("Undo last adjustment")

    @Slot()
    def undo(self) -> None:
        """Send the undo of the target position's last adjustment."""
        pid = self.target()
        if pid is None or self._undo is not None or self.undo_problem():
            return
        self._undo = self.controller.send(UndoAdjustment(pid))
        self.undo_button.setEnabled(False)
        self.status.setText("Sent to the desk; waiting for its answer…")

    # -- export ------------------------------------------------------------------------------------------

    @classmethod
    def ask_save_path(cls, parent: QWidget | None, suggested: str) -> str | None:
        """Ask where to save (a modal file dialog: tests monkeypatch this); None when cancelled."""
        path, _ = QFileDialog.getSaveFileName(parent, "Export the journal", suggested, "CSV files (*.csv)")
        return path or None

    @Slot()
    def export(self) -> Path | None:
        """Ask for a file and write the shown entries to it as CSV; the path written, or None."""
        if self.page is None:
            return None
        suggested = f"journal-{self.scope().replace(':', '-').replace(' ', '-')}.csv"
        chosen = self.ask_save_path(self, suggested)
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            path = path.with_suffix(".csv")
        try:
            write_csv(path, self.page)
        except OSError as exc:
            self.status.setText(f"Could not write {path}: {exc}")
            return None
        self.status.setText(f"Wrote {len(self.page.entries)} entries to {path}")
        return path


def write_csv(path: Path, page: JournalPage) -> None:
    """The journal page as CSV, oldest first: exact amounts, each figure before and after."""
    figure_cols = [f"{when}_{name}" for name in JOURNAL_FIGURES for when in ("before", "after")]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "time_utc", "ts", "position_id", "position", "account", "currency", "kind", "amount",
                         "realized_pnl", "closed_quantity", *figure_cols, "reason", "ledger_id", "undoes"])
        for e in page.entries:
            figures = []
            for name in JOURNAL_FIGURES:
                for side in (e.before, e.after):
                    value = side.get(name)
                    figures.append("" if value is None else repr(float(value)))
            realized = realized_of(e)
            writer.writerow([e.id, _time(e.ts), repr(e.ts), e.position_id, page.labels.get(e.position_id, ""),
                             page.accounts.get(e.account_id, ""), page.currencies.get(e.account_id, ""), e.kind,
                             str(e.amount), "" if realized is None else str(realized),
                             "" if e.closed_quantity is None else str(e.closed_quantity), *figures, e.reason,
                             "" if e.ledger_id is None else e.ledger_id, "" if e.undoes is None else e.undoes])
