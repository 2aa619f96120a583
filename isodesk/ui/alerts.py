"""The alerts list: stored alerts and live events, newest first, with acknowledgement.

The widget only asks: *Acknowledge* (button, double-click) emits ``acknowledge_requested``; the
window sends the command to the desk and calls :meth:`AlertsWidget.mark_acknowledged` once the
desk accepted it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.events import PositionEvent
from isodesk.desk.levels import Level
from isodesk.store.records import Alert
from isodesk.ui.theme import STALE, Theme, light_theme

AlertIdRole = Qt.ItemDataRole.UserRole + 1
"""int | None: the stored alert id of a row."""
_ACK_ROLE = Qt.ItemDataRole.UserRole + 2
_TS_ROLE = Qt.ItemDataRole.UserRole + 3

COL_TIME, COL_POSITION, COL_LEVEL, COL_MESSAGE, COL_ACK = range(5)
HEADERS = ("Time", "Position", "Level", "Message", "Ack")
_LEVEL_VALUE = {"safe": Level.SAFE, "warning": Level.WARNING, "danger": Level.DANGER,
                "liquidated": Level.LIQUIDATED, "stale": STALE}
MAX_ROWS = 5000


def _clock_text(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class AlertsWidget(QWidget):
    """Alerts, newest first: time, position, level (coloured, as text), message, acknowledged.

    Signals:
        acknowledge_requested(int): the user asked to acknowledge this alert id.
        unacknowledged_changed(int): the number of unacknowledged alerts changed.
    """

    acknowledge_requested = Signal(int)
    unacknowledged_changed = Signal(int)

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self.setObjectName("alerts")
        self._theme = theme or light_theme()
        self._items: dict[int, QTreeWidgetItem] = {}
        self._unacked = 0
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("alerts-list")
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels(list(HEADERS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setWordWrap(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_MESSAGE, header.ResizeMode.Stretch)
        for col, width in ((COL_TIME, 70), (COL_POSITION, 120), (COL_LEVEL, 96), (COL_ACK, 40)):
            self.tree.setColumnWidth(col, width)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.currentItemChanged.connect(lambda *_: self._update_button())
        self.count_label = QLabel(self)
        self.count_label.setObjectName("alerts-count")
        self.ack_button = QPushButton("Acknowledge", self)
        self.ack_button.setObjectName("alerts-ack")
        self.ack_button.setToolTip("Acknowledge the selected alert (double-click works too)")
        self.ack_button.clicked.connect(self.acknowledge_selected)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 4, 6, 0)
        bar.addWidget(self.count_label, 1)
        bar.addWidget(self.ack_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        self._bold = QFont(self.tree.font())
        self._bold.setBold(True)
        self._brushes: dict[int, tuple[QBrush, QBrush]] = {}
        self.set_theme(self._theme)
        self._update_count()

    # -- public -----------------------------------------------------------------------------------------

    @property
    def unacknowledged(self) -> int:
        """How many shown alerts are not acknowledged."""
        return self._unacked

    def count(self) -> int:
        """How many alerts are shown."""
        return self.tree.topLevelItemCount()

    def alert_ids(self) -> list[int | None]:
        """The alert ids in display order (newest first; None for events without a stored alert)."""
        return [self.tree.topLevelItem(i).data(COL_TIME, AlertIdRole) for i in range(self.count())]

    def set_alerts(self, alerts: Sequence[Alert], labels: Mapping[int, str]) -> None:
        """Replace the list with stored alerts (any order; shown newest first)."""
        self.tree.clear()
        self._items.clear()
        ordered = sorted(alerts, key=lambda a: (a.ts, a.id), reverse=True)[:MAX_ROWS]
        items = [self._make_item(a.id, a.ts, labels.get(a.position_id, "") if a.position_id is not None else "book",
                                 a.level, a.message, a.acknowledged) for a in ordered]
        self.tree.addTopLevelItems(items)
        self._recount()
        self._update_button()

    def add_events(self, events: Sequence[PositionEvent]) -> None:
        """Prepend live events (given oldest first, so the last one ends on top)."""
        if not events:
            return
        for event in events:
            if event.alert_id is not None and event.alert_id in self._items:
                continue
            item = self._make_item(event.alert_id, event.ts, event.label, event.level, event.message, False)
            self.tree.insertTopLevelItem(0, item)
        while self.tree.topLevelItemCount() > MAX_ROWS:
            old = self.tree.takeTopLevelItem(self.tree.topLevelItemCount() - 1)
            self._items.pop(old.data(COL_TIME, AlertIdRole), None)
        self._recount()
        self._update_button()

    def mark_acknowledged(self, alert_id: int) -> bool:
        """Show an alert as acknowledged; False if it is not in the list."""
        item = self._items.get(alert_id)
        if item is None:
            return False
        if not item.data(COL_TIME, _ACK_ROLE):
            self._set_acknowledged(item, True)
            self._recount()
        self._update_button()
        return True

    def selected_alert_id(self) -> int | None:
        """The alert id of the selected row, or None."""
        item = self.tree.currentItem()
        return None if item is None else item.data(COL_TIME, AlertIdRole)

    def select_alert(self, alert_id: int) -> bool:
        """Make an alert the current row; False if it is not shown."""
        item = self._items.get(alert_id)
        if item is None:
            return False
        self.tree.setCurrentItem(item)
        return True

    def acknowledge_selected(self) -> None:
        """Ask to acknowledge the selected alert (if it has an id and is not acknowledged yet)."""
        item = self.tree.currentItem()
        if item is not None:
            self._request(item)

    def set_theme(self, theme: Theme) -> None:
        """Level colours of the rows."""
        self._theme = theme
        self._brushes = {lv: (QBrush(theme.level_color(lv)), QBrush(theme.tint(lv, 30)))
                         for lv in (Level.SAFE, Level.WARNING, Level.DANGER, Level.LIQUIDATED, STALE)}
        for i in range(self.tree.topLevelItemCount()):
            self._colour(self.tree.topLevelItem(i))

    # -- internals --------------------------------------------------------------------------------------

    def _make_item(self, alert_id: int | None, ts: float, label: str, level: str, message: str,
                   acknowledged: bool) -> QTreeWidgetItem:
        item = QTreeWidgetItem([_clock_text(ts), label, level.upper(), message, ""])
        item.setData(COL_TIME, AlertIdRole, alert_id)
        item.setData(COL_TIME, _TS_ROLE, ts)
        item.setToolTip(COL_TIME, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)))
        item.setToolTip(COL_MESSAGE, message)
        item.setTextAlignment(COL_LEVEL, Qt.AlignmentFlag.AlignCenter)
        item.setTextAlignment(COL_ACK, Qt.AlignmentFlag.AlignCenter)
        item.setData(COL_LEVEL, Qt.ItemDataRole.UserRole, _LEVEL_VALUE.get(level, STALE))
        self._set_acknowledged(item, acknowledged)
        self._colour(item)
        if alert_id is not None:
            self._items[alert_id] = item
        return item

    def _set_acknowledged(self, item: QTreeWidgetItem, acknowledged: bool) -> None:
        item.setData(COL_TIME, _ACK_ROLE, acknowledged)
        item.setText(COL_ACK, "✓" if acknowledged else "")
        item.setToolTip(COL_ACK, "acknowledged" if acknowledged else "not acknowledged")
        font = self._bold if not acknowledged and item.data(COL_TIME, AlertIdRole) is not None else QFont()
        for col in (COL_POSITION, COL_LEVEL):
            item.setFont(col, font)

    def _colour(self, item: QTreeWidgetItem) -> None:
        level = item.data(COL_LEVEL, Qt.ItemDataRole.UserRole)
        fg, bg = self._brushes.get(level, self._brushes[STALE])
        item.setForeground(COL_LEVEL, fg)
        if level in (Level.WARNING, Level.DANGER, Level.LIQUIDATED):
            for col in range(len(HEADERS)):
                item.setBackground(col, bg)

    def _request(self, item: QTreeWidgetItem) -> None:
        alert_id = item.data(COL_TIME, AlertIdRole)
        if alert_id is not None and not item.data(COL_TIME, _ACK_ROLE):
            self.acknowledge_requested.emit(int(alert_id))

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        self._request(item)

    def _recount(self) -> None:
        n = sum(1 for it in self._items.values() if not it.data(COL_TIME, _ACK_ROLE))
        if n != self._unacked:
            self._unacked = n
            self.unacknowledged_changed.emit(n)
        self._update_count()

    def _update_count(self) -> None:
        self.count_label.setText(f"{self.count()} alerts · {self._unacked} unacknowledged")

    def _update_button(self) -> None:
        item = self.tree.currentItem()
        self.ack_button.setEnabled(item is not None and item.data(COL_TIME, AlertIdRole) is not None
                                   and not item.data(COL_TIME, _ACK_ROLE))
