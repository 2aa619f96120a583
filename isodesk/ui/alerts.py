"""The alerts list: stored alerts and live events, newest first, with acknowledgement.

Acknowledging goes through the desk. Once :meth:`AlertsWidget.attach` gave the widget the desk
(the window does), *Acknowledge* (button, double-click, Ctrl+K in the window) and *Acknowledge all*
(button, Ctrl+Shift+K) each send one :class:`~isodesk.desk.commands.AcknowledgeAlerts` with every
alert id of the row, or of the list (one transaction, all or none), and mark the rows when the
desk accepts. Unattached (a test, a preview), the widget emits ``acknowledge_requested`` per alert
id and whoever listens calls :meth:`AlertsWidget.mark_acknowledged`.

What a trader can trust:

- **Flapping collapses.** The desk already keeps repeated changes of a position between the same
  two levels as one alert with a count (:mod:`isodesk.desk.events`); an event that counts on an
  alert the list shows updates that row. Besides, consecutive level changes of one position that
  are not acknowledged share one row with a count ("×7"): a new level event joins the position's
  latest row when that row is an unacknowledged level row and the new level is no more severe than
  the row's worst (its *peak*, which the row shows and is coloured by). An escalation past the
  peak, a liquidation, a start-up summary, or anything after an acknowledgement starts a new row.
  Stale/recovered events of one position collapse the same way among themselves.
- **Sound on danger and liquidation**: the desk marks an event ``sound`` when the trader's
  ``alerts.sound`` setting is on and a position turned DANGER or was liquidated. A list given a
  ``beep`` (e.g. ``QApplication.beep``; PySide6-Essentials has no QtMultimedia) plays it once per
  batch of events. The main window gives none: its notifier (:mod:`isodesk.ui.notify`) plays the
  sound with the notification, so a crossing never sounds twice.
- **Rows do not move under the pointer.** While the pointer is over the list, new events are held
  (the count line says how many) and shown when it leaves.
- **The full message is readable**: the message column wraps (and has the message as tooltip).
- **Selecting an alert selects its position** (``position_selected``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk.commands import AcknowledgeAlerts, Result
from isodesk.desk.events import PositionEvent
from isodesk.desk.levels import Level
from isodesk.store.records import Alert
from isodesk.ui.theme import STALE, Theme, light_theme
from isodesk.ui.views import PointerWatch

AlertIdRole = Qt.ItemDataRole.UserRole + 1
"""int | None: the newest stored alert id of a row."""
PositionRole = Qt.ItemDataRole.UserRole + 4
"""int | None: the position id a row is about."""

COL_TIME, COL_LEVEL, COL_MESSAGE, COL_COUNT, COL_ACK = range(5)
HEADERS = ("Time", "Level", "Message", "×", "✓")
_LEVEL_VALUE = {"safe": Level.SAFE, "warning": Level.WARNING, "danger": Level.DANGER,
                "liquidated": Level.LIQUIDATED, "stale": STALE}
_SEVERITY = {"safe": 0, "stale": 0, "warning": 1, "danger": 2, "liquidated": 3}
_GROUPS = {"level": "level", "stale": "feed", "recovered": "feed"}  # kinds that collapse, by class
MAX_ROWS = 5000
_DRAIN_S = 0.008  # GUI-thread seconds a slice of new alert rows may take (alerts.AlertsWidget._drain)
_DRAIN_GAP_MS = 50  # between two slices: each is followed by a layout and a repaint of the list (~10 ms at
# 5,000 rows), which back-to-back slices made a third of the GUI thread's time under a burst
_DRAIN_MIN = 20  # entries shown at once whatever the time (a handful of alerts never waits)


def _clock_text(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


@dataclass(eq=False)
class _Row:
    """One shown row: a single alert, or consecutive unacknowledged changes of one position."""

    position_id: int | None
    group: str | None           # "level", "feed", or None (never joined)
    label: str
    first_ts: float
    last_ts: float
    levels: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)   # stored alert ids, oldest first
    acked: set[int] = field(default_factory=set)
    counts: dict[int, int] = field(default_factory=dict)  # alert id -> the changes it stands for (the desk's count)
    loose: int = 0                                  # events without a stored alert
    item: QTreeWidgetItem | None = None

    @property
    def changes(self) -> int:
        """How many changes the row stands for (each alert's count, plus events without an alert)."""
        return sum(self.counts.values()) + self.loose

    @property
    def peak(self) -> str:
        return max(self.levels, key=lambda lv: _SEVERITY.get(lv, 0))

    @property
    def acknowledged(self) -> bool:
        return bool(self.ids) and self.acked.issuperset(self.ids)

    def unacknowledged_ids(self) -> list[int]:
        return [i for i in self.ids if i not in self.acked]


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one alert or event contributes to the list."""

    alert_id: int | None
    ts: float
    position_id: int | None
    label: str
    level: str
    kind: str
    message: str
    acknowledged: bool
    count: int = 1              # the stored alert's count after this change
    previous: str | None = None


def _entry(e: PositionEvent) -> _Entry:
    """What a live event contributes to the list (not acknowledged yet)."""
    return _Entry(e.alert_id, e.ts, e.position_id or None, e.label, e.level, e.kind.value, e.message, False,
                  count=e.count, previous=e.previous or None)


def _touch(touched: dict[int, _Row], row: _Row) -> None:
    """Put ``row`` at the end (the newest) of a batch's touched rows."""
    touched.pop(id(row), None)
    touched[id(row)] = row


class _WrapMeasure:
    """The height of a message wrapped at the message column's width, in pixels (plus a 4 px margin).

    QTreeView asks for a row's size without a width, so the default delegate would measure one
    unwrapped line. The measured size is stored in the item (``Qt.SizeHintRole``), which the
    default (C++) delegate returns as it is: laying out or scrolling the list calls no Python per
    row. Measures are cached per (text, width); a new column width re-measures every row once.
    """

    def __init__(self, tree: QTreeWidget, column: int):
        self._tree = tree
        self._column = column
        self._sizes: dict[tuple[str, int], int] = {}  # plain heights: 8,192 QSize wrappers took 25 ms to free
        self._metrics = QFontMetrics(tree.font())

    def width(self) -> int:
        """The width messages wrap at (px): the column's, less the cell's margins."""
        return max(self._tree.columnWidth(self._column) - 8, 20)

    def size(self, text: str, width: int | None = None) -> QSize:
        """The wrapped ``text``'s size at ``width`` (default: the column's), in pixels."""
        width = self.width() if width is None else width
        key = (text, width)
        height = self._sizes.get(key)
        if height is None:
            wrapped = self._metrics.boundingRect(QRect(0, 0, width, 100_000), Qt.TextFlag.TextWordWrap, text)
            height = wrapped.height() + 4
            if len(self._sizes) >= 8192:
                self._sizes.clear()
            self._sizes[key] = height
        return QSize(width, height)

    def font_changed(self) -> None:
        """The tree's font changed: measure anew."""
        self._metrics = QFontMetrics(self._tree.font())
        self._sizes.clear()


class AlertsWidget(QWidget):
    """Alerts, newest first: time, level (coloured, as text), the message (wrapped), count, acknowledged.

    Signals:
        acknowledge_requested(int): the user asked to acknowledge this alert id.
        unacknowledged_changed(int): the number of unacknowledged alerts changed.
        position_selected(int): the user selected an alert about this position.
    """

    acknowledge_requested = Signal(int)
    unacknowledged_changed = Signal(int)
    position_selected = Signal(int)

    def __init__(self, parent=None, theme: Theme | None = None, beep: Callable[[], None] | None = None):
        super().__init__(parent)
        self.setObjectName("alerts")
        self.beep = beep  # the sound on danger and liquidation (None: someone else plays it)
        self._send: Callable[[Any], str] | None = None   # the desk's send, once attached
        self._acks: dict[str, tuple[int, ...]] = {}      # request id -> the alert ids it acknowledges
        self._theme = theme or light_theme()
        self._rows: list[_Row] = []                 # newest first, as shown
        self._row_of_id: dict[int, _Row] = {}
        self._latest: dict[int, _Row] = {}          # position id -> its newest row
        self._pending: list[_Entry] = []
        self._backlog: list[PositionEvent] = []  # live events not looked at yet (_drain)
        self._drain_timer = QTimer(self)
        self._drain_timer.setObjectName("alerts-drain")
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(_DRAIN_GAP_MS)
        self._drain_timer.timeout.connect(self._drain)
        self._fill_s = 0.0003  # seconds to show one row (measured per slice; the slice's budget counts it)
        self._held = False
        self._unacked = 0
        self._shown_unacked = 0  # unacknowledged alert ids of the shown rows (kept as rows change)
        # a plain QTreeWidget, not a Python subclass: Qt calls a view's virtual methods several times per
        # row it measures or paints, and on a Python subclass each call first takes the GIL to look for
        # an override — while the desk thread computes, each such take can wait up to the interpreter's
        # switch interval (5 ms). The pointer is followed with mouse tracking instead (_pointer_in).
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("alerts-list")
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels(list(HEADERS))
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(False)  # wrapped messages take the lines they need
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setWordWrap(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        # per item, not per pixel: with rows of their own heights, a per-pixel scroll range is the sum of
        # every row's height — each insert re-measured all rows (~85,000 size hints in 15 s at 10,000
        # positions); per item, Qt measures only the rows that fill the viewport (QTreeViewPrivate::
        # updateScrollBars, firstVisibleItem), so the list's cost does not grow with its length
        self.tree.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_TIME, 62), (COL_LEVEL, 84), (COL_COUNT, 34), (COL_ACK, 24)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            self.tree.setColumnWidth(col, width)
        header.setToolTip("× how many changes a row collects · ✓ acknowledged")
        self._wrap = _WrapMeasure(self.tree, COL_MESSAGE)
        self._rewrap_timer = QTimer(self)  # a dock being dragged resizes the column many times a second
        self._rewrap_timer.setObjectName("alerts-rewrap")
        self._rewrap_timer.setSingleShot(True)
        self._rewrap_timer.setInterval(50)
        self._rewrap_timer.timeout.connect(self._rewrap_all)
        header.sectionResized.connect(self._rewrap)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.currentItemChanged.connect(self._current_changed)
        self.tree.itemClicked.connect(self._select_position)
        self.pointer = PointerWatch(self.tree)  # it notices the pointer leaving (or the list hidden) by itself
        self.pointer.changed.connect(self.set_held)
        self.tree.setMouseTracking(True)
        self.tree.entered.connect(self._pointer_in)  # over a row
        self.tree.viewportEntered.connect(self._pointer_in)  # over the list below the rows
        self.count_label = QLabel(self)
        self.count_label.setObjectName("alerts-count")
        self.count_label.setWordWrap(True)
        self.ack_button = QPushButton("Acknowledge", self)
        self.ack_button.setObjectName("alerts-ack")
        self.ack_button.setToolTip("Acknowledge the selected row (double-click works too; Ctrl+K)")
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.ack_all_button = QPushButton("Acknowledge all", self)
        self.ack_all_button.setObjectName("alerts-ack-all")
        self.ack_all_button.setToolTip("Acknowledge every alert in the list (Ctrl+Shift+K)")
        self.ack_all_button.clicked.connect(self.acknowledge_all)
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 0, 6, 0)
        bar.addWidget(self.ack_button)
        bar.addWidget(self.ack_all_button)
        bar.addStretch(1)
        self.count_label.setContentsMargins(6, 4, 6, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.count_label)
        layout.addLayout(bar)
        layout.addWidget(self.tree, 1)
        self._bold = QFont(self.tree.font())
        self._bold.setBold(True)
        self._plain = QFont(self.tree.font())
        self._brushes: dict[int, tuple[QBrush, QBrush]] = {}
        self.set_theme(self._theme)
        self._update_count()
        self._update_buttons()

    # -- public -----------------------------------------------------------------------------------------

    @property
    def unacknowledged(self) -> int:
        """How many alerts (stored alert ids, shown or held) are not acknowledged."""
        return self._unacked

    def count(self) -> int:
        """How many rows are shown."""
        return self.tree.topLevelItemCount()

    def alert_ids(self) -> list[int | None]:
        """The newest alert id of each row in display order (newest first; None for events without one)."""
        return [row.ids[-1] if row.ids else None for row in self._rows]

    def row_alert_ids(self, index: int) -> list[int]:
        """Every alert id a shown row collects (oldest first)."""
        return list(self._rows[index].ids)

    def row_count_text(self, index: int) -> str:
        """The count shown on a row (``×7``, or empty for a single alert)."""
        return self.tree.topLevelItem(index).text(COL_COUNT)

    def held(self) -> int:
        """How many events wait while the pointer is over the list."""
        return len(self._pending)

    def set_alerts(self, alerts: Sequence[Alert], labels: Mapping[int, str]) -> None:
        """Replace the list with stored alerts (any order; grouped as live events are, shown newest first)."""
        self.tree.clear()
        self._rows.clear()
        self._row_of_id.clear()
        self._latest.clear()
        self._pending.clear()
        self._backlog.clear()
        self._shown_unacked = 0
        ordered = sorted(alerts, key=lambda a: (a.ts, a.id))[-MAX_ROWS * 4:]
        touched: dict[int, _Row] = {}
        for a in ordered:
            label = labels.get(a.position_id, "") if a.position_id is not None else "book"
            self._add(_Entry(a.id, a.ts, a.position_id, label, a.level, a.kind, a.message, a.acknowledged,
                             count=a.count, previous=a.previous), touched)
        self._commit(touched)
        self._recount()
        self._update_buttons()

    def add_events(self, events: Sequence[PositionEvent]) -> None:
        """Add live events (given oldest first); held while the pointer is over the list. One beep
        when any of them asks for a sound (held or not: a sound does not wait for the pointer)."""
        if self.beep is not None and any(e.sound for e in events):
            self.beep()
        if not events:
            return
        if self._held:
            self._hold(events)
            return
        self._backlog.extend(events)  # looked at in slices (_drain): a burst costs the caller nothing
        if not self._drain_timer.isActive():  # else they wait their turn behind the backlog, in order
            self._drain()

    def _hold(self, events: Iterable[PositionEvent]) -> None:
        """Keep events for when the pointer leaves (counted as unacknowledged at once)."""
        entries = [_entry(e) for e in events if not self._known(e.alert_id, e.count)]
        if entries:
            self._pending.extend(entries)
            self._recount()

    def _drain(self) -> None:
        """Show waiting entries, oldest first, for at most ``_DRAIN_S`` of the GUI thread (at least
        ``_DRAIN_MIN`` entries), counting what showing the touched rows will cost (:meth:`_commit`,
        ``_fill_s`` per row as measured); the rest ``_DRAIN_GAP_MS`` later. A burst of thousands of
        level changes (a market move across a 10,000-position book) costs ~0.25 ms a shown row:
        shown in one go it froze the window; in spaced slices the window stays live while the list
        catches up, and every entry is still shown, in order."""
        backlog = self._backlog
        if self._held:  # the pointer came over the list meanwhile: they wait with the held ones
            waiting = list(backlog)
            backlog.clear()
            self._hold(waiting)
            self._update_count()
            return
        started = time.perf_counter()
        deadline = started + _DRAIN_S
        touched: dict[int, _Row] = {}
        done = 0
        fill = self._fill_s
        while done < len(backlog) and (done < _DRAIN_MIN
                                       or time.perf_counter() + fill * len(touched) < deadline):
            event = backlog[done]
            if not self._known(event.alert_id, event.count):
                self._add(_entry(event), touched)
            done += 1
        del backlog[:done]
        filled = self._commit(touched)
        if filled:  # what showing a row costs here (its item filled, measured), for the next slice's budget
            ended = time.perf_counter()
            self._fill_s = 0.5 * fill + 0.5 * min((ended - started) / filled, 0.002)
        self._recount()
        self._update_buttons()
        if backlog:
            self._drain_timer.start()

    def set_held(self, held: bool) -> None:
        """Hold new rows (the pointer is over the list) or show the held ones (it left)."""
        if held == self._held:
            return
        self._held = held
        if not held and self._pending:
            pending, self._pending = self._pending, []
            touched: dict[int, _Row] = {}
            for entry in pending:
                self._add(entry, touched)
            self._commit(touched)
            self._recount()
            self._update_buttons()
        else:
            self._update_count()

    def mark_acknowledged(self, alert_id: int) -> bool:
        """Show an alert as acknowledged; False if it is not in the list (nor held)."""
        return self.mark_all_acknowledged((alert_id,)) == 1

    def mark_all_acknowledged(self, alert_ids: Iterable[int]) -> int:
        """Show alerts as acknowledged (one recount for all); how many of them are in the list or held."""
        wanted = set(alert_ids)
        found = 0
        touched: list[_Row] = []
        for alert_id in wanted:
            row = self._row_of_id.get(alert_id)
            if row is None:
                continue
            found += 1
            if alert_id not in row.acked:
                row.acked.add(alert_id)
                self._shown_unacked -= 1
                touched.append(row)
        for i, entry in enumerate(self._pending):
            if entry.alert_id in wanted:
                if entry.alert_id not in self._row_of_id:
                    found += 1
                self._pending[i] = _Entry(entry.alert_id, entry.ts, entry.position_id, entry.label, entry.level,
                                          entry.kind, entry.message, True, entry.count, entry.previous)
        self._show_in_place(list(dict.fromkeys(touched)))
        self._recount()
        return found

    def attach(self, desk: Any) -> None:
        """Acknowledge through ``desk`` (the window's :class:`~isodesk.ui.worker.DeskController`:
        ``send(command)`` and a ``result`` signal): each request is one ``AcknowledgeAlerts``."""
        self._send = desk.send
        desk.result.connect(self._on_result)

    def selected_alert_id(self) -> int | None:
        """The newest alert id of the selected row, or None."""
        row = self._current_row()
        return row.ids[-1] if row is not None and row.ids else None

    def select_alert(self, alert_id: int) -> bool:
        """Make the row of an alert the current row; False if it is not shown."""
        row = self._row_of_id.get(alert_id)
        if row is None or row.item is None:
            return False
        self.tree.setCurrentItem(row.item)
        return True

    def acknowledge_selected(self) -> None:
        """Ask to acknowledge every unacknowledged alert of the selected row."""
        row = self._current_row()
        if row is not None:
            self._request(row)

    def acknowledge_all(self) -> None:
        """Ask to acknowledge every unacknowledged alert, shown or held (one command when attached)."""
        ids = [i for row in self._rows for i in row.unacknowledged_ids()]
        ids += [int(e.alert_id) for e in self._pending
                if e.alert_id is not None and not e.acknowledged and e.alert_id not in self._row_of_id]
        self._ask(list(dict.fromkeys(ids)))

    def set_theme(self, theme: Theme) -> None:
        """Level colours of the rows."""
        self._theme = theme
        self._brushes = {lv: (QBrush(theme.level_color(lv)), QBrush(theme.tint(lv, 30)))
                         for lv in (Level.SAFE, Level.WARNING, Level.DANGER, Level.LIQUIDATED, STALE)}
        self._wrap.font_changed()  # a theme may bring its font: wrapped heights measured anew
        self._show_in_place(self._rows)

    def _show_in_place(self, rows: Sequence[_Row]) -> None:
        """Refresh rows where they are. Several rows are refreshed with the tree's model silent (each
        field change of an item is otherwise a signal that re-measures its row) and then laid out
        and repainted once: acknowledging 5,000 rows stays one pass."""
        if len(rows) <= 1:
            for row in rows:
                self._show(row)
            return
        model = self.tree.model()
        model.blockSignals(True)
        try:
            for row in rows:
                self._show(row)
        finally:
            model.blockSignals(False)
        self.tree.scheduleDelayedItemsLayout()
        self.tree.viewport().update()

    # -- internals --------------------------------------------------------------------------------------

    def _known(self, alert_id: int | None, count: int) -> bool:
        """True when the list already shows this alert with at least this count (a repeated delivery)."""
        if alert_id is None:
            return False
        row = self._row_of_id.get(alert_id)
        return row is not None and row.counts.get(alert_id, 1) >= count

    def _add(self, entry: _Entry, touched: dict[int, _Row]) -> None:
        """Count on the row of the entry's alert when the desk collapsed it there; else join the
        position's newest row when it collects this kind of change; else a new row on top.

        Only the rows' content changes here: the row goes (back) to the end of ``touched`` (newest
        last), and :meth:`_commit` shows every touched row on top of the list in one go."""
        group = _GROUPS.get(entry.kind)
        pid = entry.position_id
        known = self._row_of_id.get(entry.alert_id) if entry.alert_id is not None else None
        if known is not None and entry.alert_id is not None:
            if known.counts.get(entry.alert_id, 1) >= entry.count:
                return  # delivered before
            known.counts[entry.alert_id] = entry.count
            known.levels.append(entry.level)
            known.messages.append(entry.message)
            known.last_ts = max(known.last_ts, entry.ts)
            _touch(touched, known)
            return
        latest = self._latest.get(pid) if pid is not None else None
        if (latest is not None and group is not None and latest.group == group and not latest.acknowledged
                and not entry.acknowledged and latest.ids
                and (group == "feed" or _SEVERITY.get(entry.level, 0) <= _SEVERITY.get(latest.peak, 0))):
            row = latest
            row.levels.append(entry.level)
            row.messages.append(entry.message)
            row.last_ts = entry.ts
            if entry.alert_id is not None:
                row.ids.append(entry.alert_id)
                row.counts[entry.alert_id] = entry.count
                self._row_of_id[entry.alert_id] = row
                self._shown_unacked += 1
            else:
                row.loose += 1
            _touch(touched, row)
            return
        levels = [entry.level]
        if entry.count > 1 and entry.previous in _SEVERITY:  # a stored run between two levels: both count
            levels.insert(0, entry.previous)
        row = _Row(position_id=pid, group=group, label=entry.label, first_ts=entry.ts, last_ts=entry.ts,
                   levels=levels, messages=[entry.message])
        if entry.alert_id is not None:
            row.ids.append(entry.alert_id)
            row.counts[entry.alert_id] = entry.count
            self._row_of_id[entry.alert_id] = row
            if entry.acknowledged:
                row.acked.add(entry.alert_id)
            else:
                self._shown_unacked += 1
        else:
            row.loose = 1
        _touch(touched, row)
        if pid is not None:
            self._latest[pid] = row

    def _commit(self, touched: dict[int, _Row]) -> int:
        """Show the rows :meth:`_add` touched on top of the list, newest first, in one go, and drop the
        oldest rows past :data:`MAX_ROWS`; returns how many items were filled.

        The touched rows already in the tree are taken out, every touched row's item is filled while
        out of the tree (a field change of an item in the tree is a model signal that re-measures its
        row), and they go back in with one ``insertTopLevelItems``: one insertion, one layout and one
        repaint of the list per batch, where a row at a time laid the list out and repainted it per
        event. A row that falls past :data:`MAX_ROWS` in the same batch (stored alerts at start:
        up to four times as many) never gets an item. A current item that moves stays current; one that is dropped
        is let go first: the tree would make the next row current at each take and scroll to it
        (``QAbstractItemView.currentChanged`` → ``scrollTo``), laying out the list down to its last
        row — 2–5 ms a take at 5,000 rows, and a list without a chosen row ended up scrolled to its
        oldest alerts (measured with the events of a 10,000-position benchmark run: the list's work
        went from 23 s to under 3 s).
        """
        if not touched:
            return 0
        fresh = list(touched.values())[::-1]  # newest first
        moved = [row for row in fresh if row.item is not None]  # in the tree now, going to the top
        if moved:
            gone = {id(row) for row in moved}
            rest = [row for row in self._rows if id(row) not in gone]
        else:  # only new rows (the usual case): nothing to look for in the list
            rest = self._rows
        rows = fresh + rest
        kept, dropped = rows[:MAX_ROWS], rows[MAX_ROWS:]
        tree = self.tree
        current = tree.currentItem()
        current_row = next((row for row in fresh if row.item is current), None) if current is not None else None
        tree.blockSignals(True)  # a moved row is not a new choice of the user
        try:
            if moved:
                # a few scans of the list in C beat a dict of 5,000 rows
                where = {id(row): i for i, row in enumerate(self._rows)} if len(moved) > 32 else None
                indexes = sorted(((where[id(row)] if where is not None else self._rows.index(row)) for row in moved),
                                 reverse=True)
                if current_row is not None:  # made current again once back on top
                    self._let_go_of_current()
                for i in indexes:  # bottom up: the indexes above stay valid
                    tree.takeTopLevelItem(i)
            # the tree now holds ``rest`` in order; the old rows that fall off are its tail
            old_dropped = max(0, len(rest) - (MAX_ROWS - min(len(fresh), MAX_ROWS)))
            if old_dropped:
                if current_row is None and current is not None \
                        and tree.indexOfTopLevelItem(current) >= len(rest) - old_dropped:
                    self._let_go_of_current()
                for i in range(len(rest) - 1, len(rest) - 1 - old_dropped, -1):
                    tree.takeTopLevelItem(i)
            for row in dropped:
                self._shown_unacked -= len(row.ids) - len(row.acked)
                for alert_id in row.ids:
                    self._row_of_id.pop(alert_id, None)
                if row.position_id is not None and self._latest.get(row.position_id) is row:
                    del self._latest[row.position_id]
                row.item = None
            shown = kept[:len(fresh)]  # the touched rows that stay
            for row in shown:
                if row.item is None:
                    row.item = QTreeWidgetItem(["", "", "", "", ""])
                    row.item.setTextAlignment(COL_LEVEL, Qt.AlignmentFlag.AlignCenter)
                    row.item.setTextAlignment(COL_COUNT, Qt.AlignmentFlag.AlignCenter)
                    row.item.setTextAlignment(COL_ACK, Qt.AlignmentFlag.AlignCenter)
                self._show(row)
            tree.insertTopLevelItems(0, [row.item for row in shown])
            self._rows = kept
            if current_row is not None and current_row.item is not None:
                tree.setCurrentItem(current_row.item)
        finally:
            tree.blockSignals(False)
        return len(shown)

    def _let_go_of_current(self) -> None:
        """Leave the list without a current item, quietly (before its item is taken out or moved).

        The view is not told (the selection model's signals are held): it would repaint the old
        current row, and finding where a row far down the list is means measuring every row above
        it (``QTreeView`` in per-item scrolling caches row heights only until the next insertion) —
        160 ms for a current item at row 5,000, where Qt's own focus handling puts the first row
        alerts get when the list takes the focus, and new rows push it down from there."""
        selection = self.tree.selectionModel()
        selection.blockSignals(True)
        try:
            selection.clearCurrentIndex()
        finally:
            selection.blockSignals(False)

    def _show(self, row: _Row) -> None:
        item = row.item
        if item is None:
            return
        n = row.changes
        peak = row.peak
        item.setText(COL_TIME, _clock_text(row.last_ts))
        item.setToolTip(COL_TIME, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.last_ts)))
        item.setText(COL_LEVEL, peak.upper())
        item.setText(COL_MESSAGE, row.messages[-1])
        item.setToolTip(COL_MESSAGE, row.messages[-1])
        item.setSizeHint(COL_MESSAGE, self._wrap.size(row.messages[-1]))
        if n > 1:
            item.setText(COL_COUNT, f"×{n}")
            changes = " → ".join(lv.upper() for lv in row.levels[-12:])
            item.setToolTip(COL_COUNT, f"{n} changes of {row.label} since {_clock_text(row.first_ts)}, "
                                       f"not acknowledged: {'… → ' if len(row.levels) > 12 else ''}{changes}")
            item.setToolTip(COL_LEVEL, f"worst of {n} changes; now {row.levels[-1].upper()}")
        else:
            item.setText(COL_COUNT, "")
            item.setToolTip(COL_COUNT, "")
            item.setToolTip(COL_LEVEL, "")
        acknowledged = row.acknowledged
        item.setText(COL_ACK, "✓" if acknowledged else "")
        item.setToolTip(COL_ACK, "acknowledged" if acknowledged else "not acknowledged")
        item.setData(COL_TIME, AlertIdRole, row.ids[-1] if row.ids else None)
        item.setData(COL_TIME, PositionRole, row.position_id)
        font = self._bold if row.ids and not acknowledged else self._plain
        for col in (COL_LEVEL, COL_COUNT):
            item.setFont(col, font)
        level = _LEVEL_VALUE.get(peak, STALE)
        fg, bg = self._brushes.get(level, self._brushes[STALE])
        item.setForeground(COL_LEVEL, fg)
        clear = QBrush()
        for col in range(len(HEADERS)):
            item.setBackground(col, bg if level in (Level.WARNING, Level.DANGER, Level.LIQUIDATED) else clear)

    def _rewrap(self, column: int, _old: int, _new: int) -> None:
        """Row heights follow the message column's width (re-measured once the width settles)."""
        if column == COL_MESSAGE:
            self._rewrap_timer.start()

    def _rewrap_all(self) -> None:
        """Measure every row's message at the column's new width (one layout for all)."""
        width = self._wrap.width()
        model = self.tree.model()
        model.blockSignals(True)  # one layout below, not a signal and a re-measure per row
        try:
            for row in self._rows:
                if row.item is not None:
                    row.item.setSizeHint(COL_MESSAGE, self._wrap.size(row.messages[-1], width))
        finally:
            model.blockSignals(False)
        self.tree.scheduleDelayedItemsLayout()
        self.tree.viewport().update()

    @Slot()
    @Slot(QModelIndex)
    def _pointer_in(self, _index: QModelIndex | None = None) -> None:
        """The pointer moved over the list: new rows wait (:class:`PointerWatch` tells when it left)."""
        self.pointer.enter()

    def _current_row(self) -> _Row | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        index = self.tree.indexOfTopLevelItem(item)
        return self._rows[index] if 0 <= index < len(self._rows) else None

    def _request(self, row: _Row) -> None:
        self._ask(row.unacknowledged_ids())

    def _ask(self, alert_ids: Sequence[int]) -> None:
        """Acknowledge these alerts: one command to the attached desk, or a signal per id."""
        if not alert_ids:
            return
        if self._send is None:
            for alert_id in alert_ids:
                self.acknowledge_requested.emit(int(alert_id))
            return
        command = AcknowledgeAlerts(tuple(int(i) for i in alert_ids))
        self._acks[command.request_id] = command.alert_ids
        self._send(command)

    def _on_result(self, result: Result) -> None:
        """The desk's answer to one of this list's acknowledgements: mark them when accepted (a
        refusal is shown by the window's status bar, as every refusal)."""
        ids = self._acks.pop(result.request_id, None)
        if ids is not None and result.accepted:
            self.mark_all_acknowledged(ids)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        index = self.tree.indexOfTopLevelItem(item)
        if 0 <= index < len(self._rows):
            self._request(self._rows[index])

    def _current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        self._update_buttons()
        if current is not None:
            self._select_position(current)

    def _select_position(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        pid = item.data(COL_TIME, PositionRole)
        if pid is not None:
            self.position_selected.emit(int(pid))

    def _recount(self) -> None:
        """The unacknowledged count: kept for the shown rows as they change (a sum over 5,000 rows on
        every batch of events was O(list length)), counted for the held entries."""
        n = self._shown_unacked
        if self._pending:
            n += sum(1 for e in self._pending if e.alert_id is not None and not e.acknowledged)
        if n != self._unacked:
            self._unacked = n
            self.unacknowledged_changed.emit(n)
        self._update_count()
        self._update_buttons()

    def _update_count(self) -> None:
        rows = self.count()
        text = f"{self._unacked} unacknowledged · {rows} row{'' if rows == 1 else 's'}"
        if self._pending:
            text += f" · {len(self._pending)} new, shown when the pointer leaves the list"
        self.count_label.setText(text)

    def _update_buttons(self) -> None:
        row = self._current_row()
        self.ack_button.setEnabled(row is not None and bool(row.unacknowledged_ids()))
        self.ack_all_button.setEnabled(self._unacked > 0)
