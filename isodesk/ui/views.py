"""The two views of the positions model: a grid of cards and a table (QT-PRACTICES §5.2), and their one selection.

One :class:`PositionSelection` (a ``QItemSelectionModel`` over the shared model) serves the cards,
the table, the chart and the window's actions: whatever view the trader selects in, every other
one shows the same position. It selects whole rows and follows its *position* (not the row)
across reorders and row insertions/removals; the model's rows are ranks, so a reorder is new data
in the ranks that moved and the selection re-finds its position by id on ``order_changed`` (the
model never resets after its first snapshot; rows in and out move the selection with them). The
table paints each visible row from a cached pixmap of the row (:mod:`isodesk.ui.table_paint`),
drawn from the model's cached row looks with the cell delegates' own drawing functions, so a
repaint costs a blit per row and a changed row is drawn once; ``ISODESK_TABLE_PAINT=cells`` (or
``PositionsTable.row_paint = False``) paints through the cell delegates as Qt does.

Calm views: a re-selection made because the order moved never scrolls the view (the selected card
is not chased; a view at the top stays at the top, where the riskiest positions are), and while
the pointer is over a view the model holds its live re-sorts (:meth:`PositionsModel.hold_order`),
so nothing moves between aiming and clicking. The card grid adapts the card width to its
viewport, so columns × width fill it at any window size.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QPainter
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QListView, QTableView, QWidget

from isodesk.ui.columns import COLUMN_INDEX, COLUMNS
from isodesk.ui.delegates import CARD_SIZE, CardDelegate, GaugeDelegate, LevelDelegate, TextCellDelegate
from isodesk.ui.models import PositionIdRole, PositionsModel, PulseRole
from isodesk.ui.table_paint import RowPixmaps, paint_rows
from isodesk.ui.theme import Theme, light_theme

TABLE_ROW_HEIGHT = 26
TABLE_PAINT = os.environ.get("ISODESK_TABLE_PAINT", "rows")
"""How the table paints by default: ``rows`` (a cached pixmap per row, :mod:`isodesk.ui.table_paint`) or
``cells`` (Qt's per-cell delegate calls); the environment variable ``ISODESK_TABLE_PAINT`` chooses."""
CARD_SPACING = 4

_SELECT_ROW = (QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
               | QItemSelectionModel.SelectionFlag.Current)


class PointerWatch(QObject):
    """Tells (``changed``) when the pointer enters the widget it is a child of, and when it leaves.

    The widget forwards its ``enterEvent``/``leaveEvent``/``hideEvent`` to :meth:`enter` and
    :meth:`leave` (virtual overrides, not an event filter: a Python event filter would be called
    with the widget half-destroyed). Leave events can be missed (a popup grabbing the pointer,
    synthetic pointer moves), so while the pointer is in, a timer also checks every ``poll_ms``
    that the cursor is still over the widget; a hidden widget counts as left.

    It keeps no Python reference to the widget (only Qt's parent link) and owners connect to its
    signal: a reference cycle would leave the widget to the cyclic garbage collector, which may run
    in the desk's thread and destroy widgets there.

    Signals:
        changed(bool): the pointer is now over the widget (True) or not (False).
    """

    changed = Signal(bool)

    def __init__(self, widget: QWidget, poll_ms: int = 150):
        super().__init__(widget)
        self._inside = False
        self._timer = QTimer(self)
        self._timer.setObjectName("pointer-watch")
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    def inside(self) -> bool:
        """True while the pointer is over the widget."""
        return self._inside

    def enter(self) -> None:
        """The pointer entered the widget."""
        self._set(True)

    def leave(self) -> None:
        """The pointer left the widget (or it was hidden)."""
        self._set(False)

    def _poll(self) -> None:
        w = self.parent()
        if w is None or not w.isVisible() or not w.rect().contains(w.mapFromGlobal(QCursor.pos())):
            self._set(False)

    def _set(self, inside: bool) -> None:
        if inside == self._inside:
            return
        self._inside = inside
        if inside:
            self._timer.start()
        else:
            self._timer.stop()
        self.changed.emit(inside)


class PositionSelection(QItemSelectionModel):
    """The one selection of the live view: a row of the positions model, followed by position id.

    ``following`` is True while the selection re-finds its position after a reorder or a reset;
    views do not scroll for such a change.

    Signals:
        position_changed(object): the selected position id (int), or None when nothing is selected.
    """

    position_changed = Signal(object)

    def __init__(self, model: PositionsModel, parent: QObject | None = None):
        # owned by a view or the window (``parent``): a view must never outlive its selection model
        super().__init__(model, parent)
        self._positions = model
        self._pid: int | None = None
        self.following = False
        model.order_changed.connect(self.restore)
        model.modelReset.connect(self.restore)
        self.currentChanged.connect(self._changed)
        self.selectionChanged.connect(self._changed)

    def position_id(self) -> int | None:
        """The selected position id, or None."""
        return self._pid

    def select_position(self, position_id: int) -> bool:
        """Select a position (its whole row); False when it is not shown (unknown or filtered out)."""
        index = self._positions.index_of(position_id)
        if not index.isValid():
            return False
        self.setCurrentIndex(index, _SELECT_ROW)
        return True

    def restore(self) -> None:
        """Re-select the selected position's row after the rows moved (idempotent; views call it after a reset)."""
        pid = self._pid
        if pid is None:
            return
        index = self._positions.index_of(pid)
        if not index.isValid():
            self.clear()
            self._set(None)
            return
        if self.currentIndex().row() == index.row() and self.isRowSelected(index.row(), QModelIndex()):
            return
        self.following = True
        try:
            self.setCurrentIndex(index, _SELECT_ROW)
        finally:
            self.following = False

    def _changed(self, *_args) -> None:
        if self.following:
            return
        current = self.currentIndex()
        pid = None
        if current.isValid() and self.isRowSelected(current.row(), QModelIndex()):
            value = current.data(PositionIdRole)
            pid = None if value is None else int(value)
        elif self.hasSelection():
            rows = self.selectedRows()
            value = rows[0].data(PositionIdRole) if rows else None
            pid = None if value is None else int(value)
        self._set(pid)

    def _set(self, pid: int | None) -> None:
        if pid != self._pid:
            self._pid = pid
            self.position_changed.emit(pid)


class _SelectByPosition:
    """Selection by position id, calm scrolling and the pointer hold, for a view over a :class:`PositionsModel`."""

    position_selected: Signal
    _hold_name: str

    def _init_selection(self, model: PositionsModel, selection: PositionSelection | None) -> None:
        self._positions = model
        self._scroll_kept: tuple[int, int] | None = None
        old = self.selectionModel()
        self._selection = selection if selection is not None else PositionSelection(model, self)
        self.setSelectionModel(self._selection)
        del old  # the view's first selection model is its child: it goes with the view
        self._selection.position_changed.connect(self._position_changed)
        model.modelAboutToBeReset.connect(self._keep_scroll)
        self.pointer = PointerWatch(self)
        self.pointer.changed.connect(self._pointer_changed)

    def _pointer_changed(self, inside: bool) -> None:
        """Hold the model's live re-sorts while the pointer is over this view."""
        self._positions.hold_order(self._hold_name, inside)

    def enterEvent(self, event) -> None:
        """The pointer is over the view: nothing moves under it."""
        if getattr(self, "pointer", None) is not None:
            self.pointer.enter()
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        """The pointer left: a deferred re-sort happens now."""
        if getattr(self, "pointer", None) is not None:
            self.pointer.leave()
        super().leaveEvent(event)

    def hideEvent(self, event) -> None:
        """A hidden view holds nothing (the other view was chosen while the pointer was here)."""
        if getattr(self, "pointer", None) is not None:
            self.pointer.leave()
        super().hideEvent(event)

    @property
    def position_selection(self) -> PositionSelection:
        """The selection this view shows (shared when given at construction)."""
        return self._selection

    def selected_position_id(self) -> int | None:
        """The selected position id, or None."""
        return self._selection.position_id()

    def select_position(self, position_id: int) -> bool:
        """Select a position and bring it into view (the trader asked for it); False when it is not shown."""
        if not self._selection.select_position(position_id):
            return False
        self.scrollTo(self._positions.index_of(position_id))
        return True

    def _position_changed(self, pid) -> None:
        if pid is not None:
            self.position_selected.emit(int(pid))

    # -- calm scrolling ---------------------------------------------------------------------------------

    def currentChanged(self, current: QModelIndex, previous: QModelIndex) -> None:
        """As usual, except that a re-selection after a reorder or reset does not scroll the view."""
        selection = getattr(self, "_selection", None)  # setModel() calls this before the selection is set up
        if selection is not None and selection.following:
            kept = self.horizontalScrollBar().value(), self.verticalScrollBar().value()
            super().currentChanged(current, previous)
            self.horizontalScrollBar().setValue(kept[0])
            self.verticalScrollBar().setValue(kept[1])
        else:
            super().currentChanged(current, previous)

    def _keep_scroll(self) -> None:
        self._scroll_kept = self.horizontalScrollBar().value(), self.verticalScrollBar().value()

    def reset(self) -> None:
        """After a model reset: the selection back on its position, the scroll where it was."""
        super().reset()
        selection = getattr(self, "_selection", None)  # setModel() resets before the selection is set up
        if selection is None:
            return
        kept, self._scroll_kept = self._scroll_kept, None
        selection.restore()
        if kept is not None:
            self.executeDelayedItemsLayout()
            self.horizontalScrollBar().setValue(kept[0])
            self.verticalScrollBar().setValue(kept[1])


class CardView(_SelectByPosition, QListView):
    """A wrapping grid of position cards painted by one :class:`CardDelegate`, filling the viewport's width.

    Signals:
        position_selected(int): a position was selected (here, in another view sharing the selection,
            or by :meth:`select_position`).
    """

    position_selected = Signal(int)
    _hold_name = "pointer:cards"

    def __init__(self, model: PositionsModel, parent=None, theme: Theme | None = None,
                 selection: PositionSelection | None = None):
        super().__init__(parent)
        self.setObjectName("cards")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        # lay out a new book in batches between events: a reset of 10,000 cards otherwise stalls ~180 ms
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(CARD_SPACING)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        # always there, so the width the cards share does not change when the grid starts to scroll
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.delegate = CardDelegate(self, theme or light_theme())
        self.setItemDelegate(self.delegate)
        self.setModel(model)
        self.setModelColumn(0)
        self._init_selection(model, selection)

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        """Repaint changed cards, skipping QListView's per-row re-measure when all cells have one size.

        In icon mode QListView re-measures every row of a changed range (a model index — two Python
        ``rowCount``/``columnCount`` calls — per row: ~2.5 ms for 1,000 rows, on every tick and pulse
        frame); with uniform item sizes no cell can change size, so only the repaint is needed.
        """
        if self.uniformItemSizes():
            if len(roles) == 1 and roles[0] == PulseRole:
                self._update_pulsing()
                return
            QAbstractItemView.dataChanged(self, top_left, bottom_right, roles)
        else:
            super().dataChanged(top_left, bottom_right, roles)

    def _update_pulsing(self) -> None:
        """A pulse frame: repaint the cards of the pulsing rows that are in view, and nothing else.

        The model signals a pulse frame as one range from the first to the last pulsing row, which
        Qt repaints as the whole viewport (every visible card drawn again, ~30 times a second while
        anything pulses — in a 10,000-position book something nearly always does, mostly out of
        view). Only the rows of :meth:`PositionsModel.pulse_rows` within the lines in view (one line
        of slack on each side) get their cell updated.
        """
        model = self._positions
        rows = model.pulse_rows()
        if not rows.size or not self.isVisible():
            return
        per_line = max(1, self.columns())
        step = self.delegate.cell_size().height() + CARD_SPACING
        top = self.verticalOffset()
        first = max(0, (top // step - 1) * per_line)
        last = ((top + self.viewport().height()) // step + 2) * per_line
        shown = self.viewport().rect()
        for row in rows[(rows >= first) & (rows < last)].tolist():
            rect = self.visualRect(model.index(row, 0))
            if rect.intersects(shown):
                self.viewport().update(rect)

    def resizeEvent(self, event) -> None:
        """Share the viewport's width between as many cards as fit (no empty band at the right)."""
        self._fit_cards()
        super().resizeEvent(event)

    def columns(self) -> int:
        """How many cards a row of the grid holds at the viewport's width."""
        return self._columns_for(self.viewport().width())

    def _columns_for(self, width: int) -> int:
        step = self.delegate.min_cell_width() + CARD_SPACING
        return max(1, (width - CARD_SPACING - 1) // step)

    def _fit_cards(self) -> None:
        width = self.viewport().width()
        if width <= 0:
            return
        n = self._columns_for(width)
        # QListView puts `spacing` before every cell and wraps a cell that would touch the edge
        cell = (width - CARD_SPACING - 1) // n - CARD_SPACING
        if self.delegate.set_cell_width(cell) and self.model() is not None and self.model().rowCount():
            self.delegate.sizeHintChanged.emit(self.model().index(0, 0))

    def set_theme(self, theme: Theme) -> None:
        """Repaint the cards in a theme's colours."""
        self.delegate.set_theme(theme)
        self._fit_cards()
        self.viewport().update()

    def card_rect(self, position_id: int):
        """The painted card of a position in viewport coordinates (an empty QRect when not shown)."""
        index = self.model().index_of(position_id)
        if not index.isValid():
            return self.visualRect(QModelIndex())
        return self.delegate.card_rect(self.visualRect(index))

    def gauge_rect(self, position_id: int):
        """The gauge box of a position's card in viewport coordinates (a QRectF)."""
        return self.delegate.gauge_rect(self.visualRect(self.model().index_of(position_id)))

    def card_size(self):
        """The current (uniform) cell size of a card."""
        return self.delegate.cell_size()


class PositionsTable(_SelectByPosition, QTableView):
    """The positions as rows: fixed row height, header-click sorting in the model, a gauge and a badge column.

    The header's sort indicator shows the model's one sort state, whoever changed it. Rows are
    painted from a cached pixmap per row (:mod:`isodesk.ui.table_paint`: one blit per visible row,
    re-drawn when the row's data, its selection, the columns or the theme change) unless
    ``row_paint`` is False (then Qt calls the cell delegates, which draw the same pixels).

    Signals:
        position_selected(int): a position was selected (here, in another view sharing the selection,
            or by :meth:`select_position`).
    """

    position_selected = Signal(int)
    _hold_name = "pointer:table"

    def __init__(self, model: PositionsModel, parent=None, theme: Theme | None = None,
                 selection: PositionSelection | None = None):
        super().__init__(parent)
        self.setObjectName("table")
        self.row_paint = TABLE_PAINT != "cells"
        self.row_pixmaps = RowPixmaps()
        theme = theme or light_theme()
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(False)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(TABLE_ROW_HEIGHT)
        hh = self.horizontalHeader()
        hh.setSectionsMovable(True)
        hh.setHighlightSections(False)
        hh.setStretchLastSection(False)
        hh.setSortIndicatorClearable(True)  # a third click returns to the risk order
        hh.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        for i, column in enumerate(COLUMNS):
            self.setColumnWidth(i, column.width)
        self.text_delegate = TextCellDelegate(self)  # cached texts, one call per cell (delegates.py)
        self.setItemDelegate(self.text_delegate)
        self.gauge_delegate = GaugeDelegate(self, theme)
        self.level_delegate = LevelDelegate(self, theme)
        self.setItemDelegateForColumn(COLUMN_INDEX["liq_used"], self.gauge_delegate)
        self.setItemDelegateForColumn(COLUMN_INDEX["level"], self.level_delegate)
        self._show_sort()  # first: enabling sorting sorts the model by the header's indicator
        self.setSortingEnabled(True)  # header clicks call model.sort(column, order)
        self._init_selection(model, selection)
        model.sort_changed.connect(self._show_sort)
        model.set_theme(theme)

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        """As ``QTableView`` does, except for pulse frames (only :data:`PulseRole`): the table draws no
        pulse, and Qt would repaint the whole span of pulsing rows ~30 times a second."""
        if len(roles) == 1 and roles[0] == PulseRole:
            return
        super().dataChanged(top_left, bottom_right, roles)

    def _show_sort(self) -> None:
        """The header's indicator from the model's sort state (no re-sort: the model is already sorted)."""
        model = self.model()
        column = model.sort_column()
        _, descending = model.sort_state()
        hh = self.horizontalHeader()
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        if (hh.sortIndicatorSection(), hh.sortIndicatorOrder()) == (column, order):
            return
        hh.blockSignals(True)
        try:
            hh.setSortIndicator(column, order)
        finally:
            hh.blockSignals(False)
        hh.viewport().update()

    def paintEvent(self, event) -> None:
        """Paint the visible rows from their cached pixmaps (:func:`~isodesk.ui.table_paint.paint_rows`),
        or as ``QTableView`` does when ``row_paint`` is off or the model has no cached row looks."""
        if self.row_paint:
            painter = QPainter(self.viewport())
            try:
                done = paint_rows(self, self.row_pixmaps, painter, event.rect())
            finally:
                painter.end()
            if done:
                return
        super().paintEvent(event)

    def set_theme(self, theme: Theme) -> None:
        """Repaint in a theme's colours (the model's foreground/background roles too)."""
        self.row_pixmaps.clear()
        self.text_delegate.reset_fonts()
        self.gauge_delegate.set_theme(theme)
        self.level_delegate.set_theme(theme)
        self.model().set_theme(theme)
        self.viewport().update()

    def save_header(self) -> QByteArray:
        """The header state (column order, widths, sort indicator) for the settings."""
        return self.horizontalHeader().saveState()

    def restore_header(self, state: QByteArray) -> bool:
        """Restore a state from :meth:`save_header`; False (and nothing changed) if it does not fit.

        The sort indicator in the state is not applied: the sort state lives in the model.
        """
        hh = self.horizontalHeader()
        hh.blockSignals(True)
        try:
            ok = bool(hh.restoreState(state))
        finally:
            hh.blockSignals(False)
        self._show_sort()
        return ok


__all__ = ["CARD_SIZE", "CARD_SPACING", "TABLE_ROW_HEIGHT", "CardView", "PositionSelection", "PositionsTable"]
