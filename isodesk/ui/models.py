"""The positions model: one table model over the latest :class:`Snapshot`, shared by the cards and the table.

View rows map to snapshot rows through an order array (QT-PRACTICES §5.3): by default the risk
order ("nearest to liquidation": open positions by level, most severe first, then by distance to
liquidation; closed and liquidated ones last), or a stable numpy argsort on one column (money
columns by their USD value, :func:`~isodesk.ui.columns.usd_values`); text, venue, level and
stale filters are boolean masks. The sort state is one for every view (:meth:`sort_state`,
:attr:`sort_changed`).

Live re-sorts can be held (:meth:`hold_order`): while the pointer is over a view, or a menu or a
dialog is open, a new snapshot updates the figures in place and the rows keep their order; the
deferred re-sort happens when the last hold is released.

**The model never resets** after its first snapshot. A new book (a liquidation, an import, a
venue sync, a close), a filter or a sort is a transition from the positions shown to the
positions to show, matched by position id (:meth:`_morph`): rows of positions that leave are
removed (``beginRemoveRows``, in runs), rows of positions that come are inserted at their place
(``beginInsertRows``), and what remains is changed in place — so the views keep their scroll
position, selection and layout (a reset of 10,000 cards re-lays out every card and loses both).
Otherwise ``apply`` emits one ``dataChanged`` for the span of rows whose *displayed* values changed.

A reorder (same rows, new order) is *not* a ``layoutChanged`` nor row moves: rows are ranks, and a
new order is new data in the ranks whose position changed — one ``dataChanged`` over the span of
those ranks (and of those whose values changed), between :attr:`order_about_to_change` and
:attr:`order_changed`. A layout change would make the views re-lay-out every item and remap every
persistent index (two Python ``rowCount``/``columnCount`` calls per index at 1,000 rows); row moves
cost one signal per moved run and a relayout of the card grid, while the grid has uniform cells,
so nothing but the painted content moves. Persistent indexes therefore stay on their *row*;
whoever follows a position across reorders does it by ``PositionIdRole`` (the views re-select
their position on ``order_changed``).

**Texts are formatted once per row version.** The cell texts of a snapshot row are made on first
use (:class:`RowTexts`: each cell formatted by :func:`~isodesk.ui.columns.cell_text` the first
time a view asks for it — a card needs a dozen columns, the table the visible ones) and kept until that row's
displayed values change (the same display keys that decide the repaint), so a repaint of the
table or of a card formats nothing; the delegates read the same cache (:meth:`row_texts`).
"""

from __future__ import annotations

import gc
import math
from typing import NamedTuple

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QElapsedTimer,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont

from isodesk.desk.funding import funding_text
from isodesk.desk.levels import Level
from isodesk.desk.snapshot import BookInfo, Snapshot
from isodesk.ui.columns import (
    COLUMNS,
    Column,
    DisplayKeys,
    book_value,
    card_keys,
    cell_text,
    changed_rows,
    column_for,
    column_values,
    money_decimals_of,
    per_book,
    status_rows,
    usd_values,
)
from isodesk.ui.theme import STALE, Theme

PositionIdRole = Qt.ItemDataRole.UserRole + 1
"""int: the position id of the row (stable across reorders; use it, never the row number)."""
RowRole = Qt.ItemDataRole.UserRole + 2
"""int: the row of the position in the current snapshot's arrays."""
LevelRole = Qt.ItemDataRole.UserRole + 3
"""int: the position's :class:`Level` (a stale price keeps its last level; see :data:`StaleRole`)."""
PulseRole = Qt.ItemDataRole.UserRole + 4
"""float: 0..1 phase of the row's pulse, or 0.0 when it does not pulse."""
SortKeyRole = Qt.ItemDataRole.UserRole + 5
"""The raw value the column sorts by (float — money in USD —, or str for text columns)."""
StaleRole = Qt.ItemDataRole.UserRole + 6
"""bool: the position's price is stale (no fresh tick within the staleness limit)."""

CLOSED = 5
"""The level filter value that shows the closed positions the desk keeps (and only them); every
other filter hides them (:meth:`PositionsModel.set_filter`)."""

LEVEL_FILTER_NAMES = {"safe": Level.SAFE, "warning": Level.WARNING, "danger": Level.DANGER,
                      "liquidated": Level.LIQUIDATED, "stale": STALE, "closed": CLOSED}

_VALUE_ROLES = [Qt.ItemDataRole.DisplayRole, SortKeyRole, Qt.ItemDataRole.ForegroundRole]
_LEVEL_ROLES = [*_VALUE_ROLES, LevelRole, StaleRole, Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole]

class RowTexts:
    """The cell texts of one snapshot row, in column order, each formatted on first use
    (:func:`~isodesk.ui.columns.cell_text` on the model's current snapshot) and then kept: the
    model drops the whole object when the row's displayed values change or the book changes."""

    __slots__ = ("_model", "_row", "_texts")

    def __init__(self, model: PositionsModel, row: int):
        self._model = model
        self._row = row
        self._texts: list[str | None] = [None] * _NCOLS

    def __getitem__(self, column: int) -> str:
        text = self._texts[column]
        if text is None:
            text = self._texts[column] = cell_text(COLUMNS[column], self._model._snap, self._row)
        return text

    def __len__(self) -> int:
        return _NCOLS

    def __iter__(self):
        return (self[c] for c in range(_NCOLS))


class RowLook(NamedTuple):
    """What a table row paints with, for one row version (:meth:`PositionsModel.row_look`).

    ``colours``: per column the text colour (a ``QColor``) or None for the palette's text;
    ``tint``: the row's background colour or None; ``font``/``first_font``: ``""`` (the view's
    font), ``"italic"`` (a stale price) or ``"bold"`` (the first column).
    """

    row: int
    texts: RowTexts
    colours: tuple[object, ...]
    tint: object
    level: int
    stale: bool
    font: str
    first_font: str


_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

_PULSE_MS = 1200
_PULSE_TICK_MS = 33


class PositionsModel(QAbstractTableModel):
    """A read-only table of positions over the latest snapshot (columns: :data:`~isodesk.ui.columns.COLUMNS`).

    Signals:
        applied(int): a snapshot (its version) has been applied; views are up to date.
        order_about_to_change(): the rows are about to show positions in a new order (same count).
        order_changed(): they now do (after one ``dataChanged`` over all rows); re-find positions by id.
        level_crossed(int, int, int): position id, old level, new level — a move to a more severe
            level (or a liquidation) seen between two applied snapshots.
        sort_changed(): the sort state changed (:meth:`sort_state`), by a header click or a sort box.
        hold_changed(bool): live re-sorts are now held (True) or flow again (False).
    """

    applied = Signal(int)
    level_crossed = Signal(int, int, int)
    order_about_to_change = Signal()
    order_changed = Signal()
    sort_changed = Signal()
    hold_changed = Signal(bool)

    def __init__(self, parent=None, *, pulse_ms: int = _PULSE_MS, reorder_ms: int = 0):
        super().__init__(parent)
        # Live values re-sort the rows at most every ``reorder_ms``: cards that jump on every tick
        # cannot be read, and a relayout of 1,000 icons costs more than the values themselves.
        self._reorder_ms = reorder_ms
        self._last_reorder_ms = -reorder_ms
        self._snap: Snapshot | None = None
        self._order = np.zeros(0, dtype=np.intp)  # view row -> snapshot row
        self._rows = 0  # len(self._order), for the hot rowCount
        self._sort_column = -1  # -1: the desk's risk order
        self._descending = False
        self._text: str | None = None
        self._venue: str | None = None
        self._level: int | None = None
        self._holds: set[str] = set()
        self._italic = QFont()
        self._italic.setItalic(True)
        self._shown_level = np.zeros(0, dtype=np.int16)  # per snapshot row: its Level (stale keeps it)
        self._money_dec = np.zeros(0, dtype=np.int16)
        self._keyer = DisplayKeys((), np.zeros(0, dtype=np.int16))  # per book: display keys of _NUMERIC
        self._keys = np.zeros((0, 0), dtype=np.float64)  # the shown snapshot's display keys (column × row)
        self._texts: dict[int, RowTexts] = {}  # snapshot row -> its cell texts (this row version)
        self._looks: dict[int, RowLook] = {}  # snapshot row -> texts, colours, fonts, tint (this row version)
        self._theme: Theme | None = None
        self._tints: dict[int, object] = {}
        self._haystack: np.ndarray | None = None
        self._bold = QFont()
        self._bold.setBold(True)
        self._pulse_ms = pulse_ms
        self._pulses: dict[int, int] = {}  # position id -> start (ms on the elapsed clock)
        self._pulse_rows = np.zeros(0, dtype=np.intp)  # view rows of the last pulse frame
        self._clock = QElapsedTimer()
        self._clock.start()
        self._pulse_timer = QTimer(self)
        self._pulse_timer.setObjectName("card-pulse")
        self._pulse_timer.setInterval(_PULSE_TICK_MS)
        self._pulse_timer.timeout.connect(self._advance_pulses)

    # -- Qt model interface ---------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Visible positions (after filters)."""
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        """Number of :data:`COLUMNS`."""
        return 0 if parent.isValid() else _NCOLS

    # flags(): QAbstractTableModel's own (enabled, selectable, never a parent; none for an invalid
    # index) are exactly this model's (_FLAGS). Not overridden on purpose: the views ask for every cell
    # they paint, and a Python override is a Python call (and a take of the GIL) per painted cell.

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        """Column headers, alignments and tooltips."""
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        column = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.header
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return column.align
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip or None
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        """Cell values; the custom roles serve the delegates (one call gives the snapshot row)."""
        snap = self._snap
        if snap is None or not index.isValid():
            return None
        view_row = index.row()
        if not 0 <= view_row < len(self._order):
            return None
        row = int(self._order[view_row])
        if role == Qt.ItemDataRole.DisplayRole:
            texts = self._texts.get(row)
            if texts is None:
                texts = self._texts[row] = RowTexts(self, row)
            return texts[index.column()]
        if role == RowRole:
            return row
        if role == PositionIdRole:
            return int(snap.book.position_ids[row])
        if role == LevelRole:
            return int(self._shown_level[row])
        if role == StaleRole:
            return bool(snap.stale[row])
        if role == PulseRole:
            return self._pulse_phase(int(snap.book.position_ids[row]))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return COLUMNS[index.column()].align
        if role == SortKeyRole:
            column = COLUMNS[index.column()]
            if column.source == "book":
                return book_value(snap, column.key, row)
            if column.source == "level":
                return int(self._shown_level[row])
            return float(self._sort_values(column)[row])
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(COLUMNS[index.column()], snap, row)
        if role == Qt.ItemDataRole.BackgroundRole:
            theme = self._theme
            if theme is None:
                return None
            level = int(self._shown_level[row])
            return self._tints.get(level)
        if role == Qt.ItemDataRole.FontRole:
            if snap.stale[row]:
                return self._italic  # the figures are as old as the last price
            return self._bold if index.column() == 0 else None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 0:
            funding = funding_text(snap.cols, row, snap.book.currencies[row], snap.clock)  # desk.funding
            return f"{snap.book.labels[row]} · {snap.book.accounts[row]} · {snap.book.statuses[row]}" \
                + (f"\n{funding}" if funding else "")
        return None

    def _foreground(self, column: Column, snap: Snapshot, row: int):
        theme = self._theme
        if theme is None:
            return None
        if column.source == "level":
            return theme.level_color(int(self._shown_level[row]))
        if snap.stale[row] and column.source != "book":
            return theme.muted
        if column.key in ("unrealized_pnl", "roe"):
            v = float(snap.cols[column.key][row])
            if math.isfinite(v) and round(v, 8) != 0:
                return theme.safe if v > 0 else theme.danger
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort by a column (stable numpy argsort, NaN last); a negative column restores the risk order.

        The trader's own sort applies at once, held or not (holds only defer live re-sorts).
        """
        column = column if 0 <= column < len(COLUMNS) and COLUMNS[column].sortable else -1
        descending = order == Qt.SortOrder.DescendingOrder and column >= 0
        if (column, descending) == (self._sort_column, self._descending):
            return
        self._sort_column, self._descending = column, descending
        self._reorder()
        self.sort_changed.emit()

    # -- the public API -------------------------------------------------------------------------------

    def sort_by_key(self, key: str | None, descending: bool | None = None) -> None:
        """Sort by a column key (``margin_ratio``, ``label``…) in its natural order, or the risk order for None."""
        if key is None:
            self.sort(-1)
            return
        column = column_for(key)
        desc = column.descending if descending is None else descending
        self.sort(COLUMNS.index(column), Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder)

    def sort_column(self) -> int:
        """The sorted column, or -1 for the risk order."""
        return self._sort_column

    def sort_state(self) -> tuple[str | None, bool]:
        """The one sort state of every view: (column key or None for the risk order, descending)."""
        if self._sort_column < 0:
            return None, False
        return COLUMNS[self._sort_column].key, self._descending

    def hold_order(self, reason: str, held: bool) -> None:
        """Hold (or release) live re-sorts for ``reason`` (``pointer:cards``, ``menu``, ``form:…``).

        While any reason holds, new snapshots update figures but rows keep their order (and their
        set, under a level filter); releasing the last hold re-sorts at once.
        """
        was = bool(self._holds)
        if held:
            self._holds.add(reason)
        else:
            self._holds.discard(reason)
        now = bool(self._holds)
        if was and not now:
            self._reorder()
        if was != now:
            self.hold_changed.emit(now)

    def order_held(self) -> bool:
        """True while live re-sorts are held."""
        return bool(self._holds)

    def set_filter(self, text: str | None = None, venue: str | None = None, level: int | str | None = None) -> None:
        """Show only rows matching all given filters (None: no filter on that field).

        ``text`` matches label, symbol or venue (substring, case-insensitive); ``level`` is a
        :class:`Level`, :data:`STALE` (positions whose price is stale, whatever their level),
        :data:`CLOSED` (the recently closed positions the desk keeps, :mod:`isodesk.desk.book`), or a
        name (``safe`` … ``liquidated``, ``stale``, ``closed``). Closed positions show only under
        :data:`CLOSED`: the live view is about what can still be liquidated.
        """
        if isinstance(level, str):
            try:
                level = LEVEL_FILTER_NAMES[level.lower()]
            except KeyError:
                raise ValueError(f"level filter must be one of {', '.join(LEVEL_FILTER_NAMES)}; "
                                 f"got {level!r}") from None
        self._text = text.strip().lower() if text and text.strip() else None
        self._venue = venue or None
        self._level = None if level is None else int(level)
        self._haystack = None
        self._refilter()

    def snapshot(self) -> Snapshot | None:
        """The snapshot shown, or None before the first."""
        return self._snap

    def set_theme(self, theme: Theme) -> None:
        """Colours for the table's foreground/background roles."""
        self._theme = theme
        self._tints = {Level.WARNING: theme.tint(Level.WARNING, 36), Level.DANGER: theme.tint(Level.DANGER, 44),
                       Level.LIQUIDATED: theme.tint(Level.LIQUIDATED, 40), STALE: theme.tint(STALE, 30)}
        self._looks.clear()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1),
                                  [Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole])

    def position_id(self, view_row: int) -> int | None:
        """The position id shown at a view row, or None out of range."""
        if self._snap is None or not 0 <= view_row < len(self._order):
            return None
        return int(self._snap.book.position_ids[self._order[view_row]])

    def view_row_of(self, position_id: int) -> int | None:
        """The view row showing a position, or None (unknown or filtered out)."""
        if self._snap is None:
            return None
        row = self._snap.book.row_of(position_id)
        if row is None:
            return None
        hits = np.flatnonzero(self._order == row)
        return int(hits[0]) if hits.size else None

    def index_of(self, position_id: int, column: int = 0) -> QModelIndex:
        """The model index showing a position (invalid if not shown)."""
        view_row = self.view_row_of(position_id)
        return QModelIndex() if view_row is None else self.index(view_row, column)

    def card_row(self, view_row: int) -> tuple[Snapshot, int, float] | None:
        """The snapshot, its row and the pulse phase shown at a view row (the card delegate's one call)."""
        snap = self._snap
        if snap is None or not 0 <= view_row < len(self._order):
            return None
        row = int(self._order[view_row])
        return snap, row, self._pulse_phase(int(snap.book.position_ids[row])) if self._pulses else 0.0

    def row_texts(self, row: int) -> RowTexts:
        """The cell texts of a *snapshot* row (``RowRole``), in column order, from the cache (made on
        first use, kept until the row's displayed values change): what the delegates draw."""
        texts = self._texts.get(row)
        if texts is None:
            texts = self._texts[row] = RowTexts(self, row)
        return texts

    def row_look(self, view_row: int) -> RowLook | None:
        """Everything a table cell of a view row paints with, cached per row version (one call per
        cell instead of one ``data()`` call per role): None out of range."""
        if self._snap is None or not 0 <= view_row < self._rows:
            return None
        row = int(self._order[view_row])
        look = self._looks.get(row)
        if look is None:
            look = self._looks[row] = self._make_look(row)
        return look

    def _make_look(self, row: int) -> RowLook:
        snap = self._snap
        stale = bool(snap.stale[row])
        colours = tuple(self._foreground(column, snap, row) for column in COLUMNS)
        level = int(self._shown_level[row])
        return RowLook(row, self.row_texts(row), colours, self._tints.get(level) if self._theme is not None else None,
                       level, stale, "italic" if stale else "", "italic" if stale else "bold")

    def pulsing(self) -> frozenset[int]:
        """Position ids whose pulse is running."""
        return frozenset(self._pulses)

    def pulse_rows(self) -> np.ndarray:
        """The view rows of the last pulse frame (``dataChanged`` with only :data:`PulseRole`): the
        rows whose glow moved or just ended, ascending (the signal itself spans first to last)."""
        return self._pulse_rows

    def apply(self, snapshot: Snapshot) -> None:
        """Show a new snapshot: rows in, out or changed in place (never a reset), one ``dataChanged``."""
        old = self._snap
        new_shown = snapshot.level.astype(np.int16)
        if old is None:
            self._adopt(snapshot, new_shown)
            order = self._compute_order()
            if len(order):
                self.beginInsertRows(QModelIndex(), 0, len(order) - 1)
                self._set_order(order)
                self.endInsertRows()
        elif snapshot.book is not old.book and (moved := spliced_rows(old.book, snapshot.book)) is None:
            kept = self._kept_ids() if self._holds else None
            self._morph(snapshot, new_shown, kept)
        elif snapshot.book is not old.book:
            self._splice(snapshot, new_shown, moved)
        else:
            changed = self._changed_rows(old, snapshot, new_shown)
            level_moved = bool(np.any(self._shown_level != new_shown) or np.any(old.stale != snapshot.stale))
            if snapshot.catalog is not old.catalog or snapshot.reconcile_tolerance_pct != old.reconcile_tolerance_pct:
                self._forget()  # fees (break-even) or the reconcile flag may read differently
            else:
                self._forget(changed)
            old_order = self._order
            self._snap = snapshot
            self._shown_level = new_shown
            new_order = old_order if self._holds else self._compute_order()
            if len(new_order) != len(old_order):
                self._morph(snapshot, new_shown, None, order=new_order, changed=changed)  # a level filter
            elif not np.array_equal(new_order, old_order) and self._reorder_due():
                self._swap_order(new_order, changed)
            else:
                self._emit_changed(changed[self._order], level_moved)
        if old is not None:
            self._start_pulses(old, snapshot)
        self.applied.emit(snapshot.version)

    def _splice(self, snapshot: Snapshot, shown: np.ndarray, moved: np.ndarray) -> None:
        """Show a snapshot of a new book that has the old one's positions in the same rows and the same
        descriptions, only some statuses changed (``moved``, per row: a liquidation step splices the
        liquidated rows, :func:`isodesk.desk.book_rows.refreshed_book`): an in-place change. Only the
        rows whose displayed values or status changed lose their cached texts; the per-book caches
        that depend on the equal fields (display-key scales, search haystack) are kept. The new order
        is taken at once, as for any new book (held: the shown order kept, closed positions out)."""
        old = self._snap
        changed = self._changed_rows(old, snapshot, shown) | moved
        kept = self._kept_ids() if self._holds else None
        if snapshot.catalog is not old.catalog or snapshot.reconcile_tolerance_pct != old.reconcile_tolerance_pct:
            self._forget()
        else:
            self._forget(changed)
        self._snap = snapshot
        self._shown_level = shown
        if len(snapshot) >= SETTLE_FROM:
            settle_heap()
        new_order = self._compute_order() if kept is None else self._order_keeping(kept)
        if len(new_order) != len(self._order):
            self._morph(snapshot, shown, None, order=new_order, changed=changed)
        elif not np.array_equal(new_order, self._order):
            self._swap_order(new_order, changed)
        else:
            self._emit_changed(changed[self._order], True)

    def _adopt(self, snapshot: Snapshot, shown: np.ndarray) -> None:
        """Take a snapshot of a new book as the model's (per-book caches rebuilt; no signal)."""
        self._snap = snapshot
        self._shown_level = shown
        self._money_dec = money_decimals_of(snapshot)
        self._keyer = DisplayKeys(_NUMERIC, self._money_dec)
        self._haystack = None
        self._forget()
        self._keys = self._keyer.keys(snapshot)
        if len(snapshot) >= SETTLE_FROM:
            settle_heap()

    def _forget(self, rows: np.ndarray | None = None) -> None:
        """Drop the cached texts and looks of the snapshot rows where ``rows`` is True (None: all)."""
        if rows is None:
            self._texts.clear()
            self._looks.clear()
            return
        for cache in (self._texts, self._looks):  # a few visible rows cached, thousands may change
            if cache:
                for row in [r for r in cache if rows[r]]:
                    del cache[row]

    def _morph(self, snapshot: Snapshot, shown: np.ndarray, kept: np.ndarray | None, *,
               order: np.ndarray | None = None, changed: np.ndarray | None = None) -> None:
        """Go from the rows shown to the rows of ``snapshot`` by position id, without a reset.

        Positions no longer shown are removed (``beginRemoveRows``, in runs, bottom up, while the
        old snapshot still answers), then the snapshot is adopted (a new book: per-book caches
        rebuilt), positions newly shown are inserted at their place in the new order (runs, top
        down), and what is left differs from the new order only by ranks: one ``dataChanged`` over
        the changed span, as a reorder. ``kept``: ids to keep in this order (held re-sorts);
        ``order``: the new order if already computed; ``changed``: per snapshot row, its displayed
        values changed (None: a new book, every row counts as changed).
        """
        old_snap = self._snap
        old_ids = np.asarray(old_snap.book.position_ids)[self._order]
        new_book = snapshot.book is not old_snap.book
        # removals first, answered by the old snapshot (its rows are still the ones shown)
        if new_book:
            # what the new book will show, computed on the new snapshot before adopting it
            saved = self._snap, self._shown_level, self._haystack
            self._snap, self._shown_level, self._haystack = snapshot, shown, None
            try:
                new_order = self._compute_order() if kept is None else self._order_keeping(kept)
            finally:
                self._snap, self._shown_level, self._haystack = saved
        else:
            new_order = self._compute_order() if order is None else order
        new_ids = np.asarray(snapshot.book.position_ids)[new_order]
        stay = np.isin(old_ids, new_ids)
        for first, last in reversed(_runs(~stay)):
            self.beginRemoveRows(QModelIndex(), first, last)
            self._set_order(np.delete(self._order, np.s_[first:last + 1]))
            self.endRemoveRows()
        if new_book:
            self._adopt(snapshot, shown)
            self._set_order(_rows_of(np.asarray(snapshot.book.position_ids), old_ids[stay]))
        else:
            self._snap, self._shown_level = snapshot, shown
        # insertions at their final place: rows before each run are final by then
        for first, last in _runs(~np.isin(new_ids, old_ids)):
            self.beginInsertRows(QModelIndex(), first, last)
            self._set_order(np.insert(self._order, first, new_order[first:last + 1]))
            self.endInsertRows()
        if changed is None:
            changed = np.ones(len(snapshot), dtype=bool)
        if not np.array_equal(self._order, new_order):
            self._swap_order(new_order, changed)
        else:
            self._emit_changed(changed[self._order], True)

    # -- internals ---------------------------------------------------------------------------------------

    def _reorder_due(self) -> bool:
        now = self._clock.elapsed()
        if now - self._last_reorder_ms < self._reorder_ms:
            return False
        self._last_reorder_ms = now
        return True


    def _kept_ids(self) -> np.ndarray:
        """The position ids in the order shown (to keep it across a reset while re-sorts are held)."""
        return np.asarray(self._snap.book.position_ids)[self._order]

    def _order_keeping(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the new book in the order of ``ids``; positions new to the book follow in risk order."""
        book_ids = np.asarray(self._snap.book.position_ids)
        order = self._compute_order()
        if not len(book_ids):
            return order
        # the book row of each kept id, vectorised (a dict and list comprehensions over 10,000 ids were
        # ~40 ms of the GUI thread at each liquidation while the pointer was over the cards)
        by_id = np.argsort(book_ids, kind="stable")
        at = np.clip(np.searchsorted(book_ids[by_id], ids), 0, len(book_ids) - 1)
        rows = by_id[at]
        rows = rows[book_ids[rows] == ids]
        # a position closed meanwhile leaves the live view at once, held or not (as when a closed
        # position left the book); under the "closed" filter, only closed positions are kept
        closed = self._closed_rows()
        hidden = ~closed if self._level == CLOSED else closed
        kept = rows[~hidden[rows]]
        seen = np.zeros(len(book_ids), dtype=bool)
        seen[kept] = True
        return np.concatenate((kept, order[~seen[order]])).astype(np.intp)

    def _changed_rows(self, old: Snapshot, new: Snapshot, new_shown: np.ndarray) -> np.ndarray:
        keys = self._keyer.keys(new)
        changed = (new_shown != self._shown_level) | (old.stale != new.stale)
        changed |= changed_rows(self._keys, keys)
        changed |= new.stale  # a stale card shows its age, which moves with the clock
        self._keys = keys
        return changed

    def _emit_changed(self, changed_view: np.ndarray, level_moved: bool) -> None:
        hits = np.flatnonzero(changed_view)
        if not hits.size:
            return
        roles = _LEVEL_ROLES if level_moved else _VALUE_ROLES
        self.dataChanged.emit(self.index(int(hits[0]), 0), self.index(int(hits[-1]), len(COLUMNS) - 1), roles)

    def _set_order(self, order: np.ndarray) -> None:
        self._order = order
        self._rows = len(order)

    def _swap_order(self, new_order: np.ndarray, changed: np.ndarray | None = None) -> None:
        """Show the same number of rows in a new order: the ranks whose position changed (and those
        whose values changed, ``changed`` per snapshot row) get one ``dataChanged`` over their span."""
        self.order_about_to_change.emit()
        moved = self._order != new_order
        if changed is not None:
            moved |= changed[new_order]
        self._set_order(new_order)
        hits = np.flatnonzero(moved)
        if hits.size:
            self.dataChanged.emit(self.index(int(hits[0]), 0), self.index(int(hits[-1]), _NCOLS - 1), [])
        self.order_changed.emit()

    def _reorder(self) -> None:
        if self._snap is None:
            return
        new_order = self._compute_order()
        if len(new_order) != len(self._order):
            self._morph(self._snap, self._shown_level, None, order=new_order,
                        changed=np.zeros(len(self._snap), dtype=bool))
        elif not np.array_equal(new_order, self._order):
            self._swap_order(new_order)

    def _refilter(self) -> None:
        self._reorder()

    def _compute_order(self) -> np.ndarray:
        snap = self._snap
        base = risk_order(snap)
        if 0 <= self._sort_column < len(COLUMNS):
            base = base[_stable_argsort(self._sort_values(COLUMNS[self._sort_column])[base], self._descending)]
        mask = self._mask()
        return base if mask is None else base[mask[base]]

    def _sort_values(self, column: Column) -> np.ndarray:
        snap = self._snap
        if column.source == "book":
            return per_book(snap, f"rank:{column.key}", lambda book: _text_ranks(getattr(book, column.key)),
                            (column.key,))
        if column.source == "level":
            return self._shown_level.astype(np.float64)
        values = column_values(column, snap)
        if column.kind == "money":
            return usd_values(values, snap.book.currencies, snap.cols["mark"])
        return values

    def _mask(self) -> np.ndarray | None:
        snap = self._snap
        mask = None
        if self._text:
            if self._haystack is None:
                b = snap.book
                self._haystack = np.array([f"{lab}\n{sym}\n{ven}".lower()
                                           for lab, sym, ven in zip(b.labels, b.symbols, b.venues, strict=True)],
                                          dtype=object)
            needle = self._text
            mask = np.fromiter((needle in h for h in self._haystack), dtype=bool, count=len(self._haystack))
        if self._venue is not None:
            m = np.asarray(snap.book.venues, dtype=object) == self._venue
            mask = m if mask is None else mask & m
        closed = self._closed_rows()
        if self._level == CLOSED:
            mask = closed if mask is None else mask & closed
        elif closed.any():
            mask = ~closed if mask is None else mask & ~closed
        if self._level == STALE:
            m = np.asarray(snap.stale, dtype=bool)
            mask = m if mask is None else mask & m
        elif self._level is not None and self._level != CLOSED:
            m = self._shown_level == self._level
            mask = m if mask is None else mask & m
        return mask

    def live_count(self) -> int:
        """Positions of the snapshot that are not closed (open and liquidated): the live view's book."""
        if self._snap is None:
            return 0
        return int(len(self._snap) - self._closed_rows().sum())

    def population(self) -> int:
        """How many positions the current filters choose from: the closed ones under the closed
        filter, the others otherwise (the "n of N" count)."""
        if self._snap is None:
            return 0
        closed = int(self._closed_rows().sum())
        return closed if self._level == CLOSED else len(self._snap) - closed

    def _closed_rows(self) -> np.ndarray:
        """Per snapshot row: the position is closed (computed once per book)."""
        return status_rows(self._snap, "closed")

    # -- pulse -----------------------------------------------------------------------------------------

    def _start_pulses(self, old: Snapshot, snap: Snapshot) -> None:
        """Pulse every position whose level rose since ``old`` (matched by position id, vectorised)."""
        if old.book is snap.book or (len(old.book) == len(snap.book)
                                     and np.array_equal(old.book.position_ids, snap.book.position_ids)):
            before = old.level  # the same positions in the same rows (a spliced book too)
            known = np.ones(len(snap.level), dtype=bool)
        else:
            old_ids = old.book.position_ids
            by_id = np.argsort(old_ids, kind="stable")
            ids = snap.book.position_ids
            at = np.clip(np.searchsorted(old_ids[by_id], ids), 0, max(len(old_ids) - 1, 0))
            if not len(old_ids):
                return
            known = old_ids[by_id[at]] == ids
            before = old.level[by_id[at]]
        # a close is the trader's own act, not a crossing: a closed row never pulses
        rose = np.flatnonzero(known & (snap.level > before) & ~self._closed_rows())
        if not rose.size:
            return
        now = self._clock.elapsed()
        for row in rose:
            pid = int(snap.book.position_ids[row])
            self._pulses[pid] = now
            self.level_crossed.emit(pid, int(before[row]), int(snap.level[row]))
        if not self._pulse_timer.isActive():
            self._pulse_timer.start()

    def _pulse_phase(self, position_id: int) -> float:
        start = self._pulses.get(position_id)
        if start is None:
            return 0.0
        return min(max((self._clock.elapsed() - start) / self._pulse_ms, 0.0), 1.0)

    def _advance_pulses(self) -> None:
        now = self._clock.elapsed()
        done = [pid for pid, start in self._pulses.items() if now - start >= self._pulse_ms]
        rows = None
        if self._snap is not None and self._rows:
            shown = self._snap.book.position_ids[self._order]
            rows = np.flatnonzero(np.isin(shown, np.fromiter(self._pulses, dtype=shown.dtype,
                                                             count=len(self._pulses))))
        for pid in done:
            del self._pulses[pid]
        if rows is not None and rows.size:
            self._pulse_rows = rows
            self.dataChanged.emit(self.index(int(rows[0]), 0), self.index(int(rows[-1]), _NCOLS - 1), [PulseRole])
        if not self._pulses:
            self._pulse_timer.stop()


_NUMERIC = tuple(c for c in COLUMNS if c.source in ("cols", "derived"))
_NCOLS = len(COLUMNS)
assert {c.key for c in _NUMERIC} >= set(card_keys()), "every figure a card shows must be a column"


SETTLE_FROM = 500
"""Books of at least this many positions make the model call :func:`settle_heap` when it takes
them (a smaller book's full collection stays well under a frame; tests never freeze)."""


def settle_heap() -> None:
    """Tell the cyclic garbage collector that what exists now is long-lived (``gc.freeze()``).

    A desk of 10,000 positions is a few hundred thousand tracked Python objects (the store's
    records, the desk's and the widgets' state); a full collection walks all of them — 0.2–0.7 s
    measured here (benchmarks/gui.py reports the collector's pauses by generation), a frozen window
    every few seconds while snapshots churn. Frozen objects are never walked again; reference
    counting still frees them when dropped (only a reference *cycle* among them would stay). It
    costs O(1), so it runs on every new large book (:data:`SETTLE_FROM`).
    """
    gc.freeze()


#: the fields of a book compared one by one (the ids are an array, compared first; statuses may change)
_BOOK_FIELDS = tuple(f for f in BookInfo.__dataclass_fields__ if f not in ("statuses", "position_ids"))


def spliced_rows(old: BookInfo, new: BookInfo) -> np.ndarray | None:
    """Per row, the status changed between two books that are the same positions in the same rows
    with every other field equal (a spliced book: a liquidation step's); None when they are not."""
    if len(old) != len(new) or not np.array_equal(old.position_ids, new.position_ids):
        return None
    for field in _BOOK_FIELDS:
        a, b = getattr(old, field), getattr(new, field)
        if a is not b and a != b:
            return None
    if old.statuses is new.statuses:
        return np.zeros(len(new), dtype=bool)
    return np.asarray(np.asarray(old.statuses, dtype=object) != np.asarray(new.statuses, dtype=object),
                      dtype=bool).reshape(len(new))


def risk_order(snapshot: Snapshot) -> np.ndarray:
    """Snapshot rows "nearest to liquidation" first: open positions by level (DANGER, WARNING,
    SAFE — a stale price keeps its level), then by distance to liquidation (unknown last), then
    closed and liquidated positions."""
    n = len(snapshot)
    if not n:
        return np.zeros(0, dtype=np.intp)
    open_rows = status_rows(snapshot, "open")
    distance = np.asarray(snapshot.cols["distance_frac"], dtype=np.float64)
    distance = np.where(np.isnan(distance), np.inf, distance)
    level = np.where(open_rows, snapshot.level.astype(np.int16), -1)
    return np.lexsort((distance, -level, ~open_rows)).astype(np.intp)


def _text_ranks(values) -> np.ndarray:
    """Case-insensitive ranks of texts (float64; equal texts share a rank)."""
    if not len(values):
        return np.zeros(0, dtype=np.float64)
    _, ranks = np.unique(np.array([str(v).lower() for v in values], dtype=str), return_inverse=True)
    out = np.asarray(ranks, dtype=np.float64)
    out.flags.writeable = False
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The (first, last) index of each run of True in a boolean array, in order."""
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _rows_of(book_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The rows of ``ids`` in a book's ``position_ids`` (each id must be there)."""
    by_id = np.argsort(book_ids, kind="stable")
    at = np.searchsorted(book_ids[by_id], ids)
    return by_id[at].astype(np.intp)


def _stable_argsort(values: np.ndarray, descending: bool) -> np.ndarray:
    """Indices sorting ``values`` stably, NaN last in either direction."""
    nan = np.isnan(values)
    key = np.where(nan, 0.0, -values if descending else values)
    return np.lexsort((key, nan))
