"""The two views of the positions model: a grid of cards and a table (QT-PRACTICES §5.2).

Both select by position id (rows move when the order changes) and keep the selection across a
model reset (a position opened, closed or liquidated rebuilds the model) and across a reorder (the
model's rows are ranks: a reorder is new data in every row, so the views re-select the position,
without scrolling, on ``order_changed``).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QListView, QTableView

from isodesk.ui.columns import COLUMN_INDEX, COLUMNS
from isodesk.ui.delegates import CARD_SIZE, CardDelegate, GaugeDelegate, LevelDelegate
from isodesk.ui.models import PositionIdRole, PositionsModel
from isodesk.ui.theme import Theme, light_theme

TABLE_ROW_HEIGHT = 26


class _SelectByPosition:
    """Selection by position id for an item view over a :class:`PositionsModel` (a mixin)."""

    position_selected: Signal

    def _init_selection(self, model: PositionsModel) -> None:
        self._kept: int | None = None
        self._emitted: int | None = None
        model.modelAboutToBeReset.connect(self._remember)
        model.modelReset.connect(self._reselect)
        model.order_about_to_change.connect(self._remember)
        model.order_changed.connect(self._follow)
        self.selectionModel().currentChanged.connect(self._current_changed)

    def selected_position_id(self) -> int | None:
        """The position id of the current (selected) item, or None."""
        index = self.currentIndex()
        if not index.isValid() or not self.selectionModel().isSelected(index):
            return None
        value = index.data(PositionIdRole)
        return None if value is None else int(value)

    def select_position(self, position_id: int) -> bool:
        """Select and scroll to a position; False when it is not shown (unknown or filtered out)."""
        index = self.model().index_of(position_id)
        if not index.isValid():
            return False
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | self._selection_unit()
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)
        return True

    def _selection_unit(self) -> QItemSelectionModel.SelectionFlag:
        return QItemSelectionModel.SelectionFlag.NoUpdate

    def _remember(self) -> None:
        self._kept = self.selected_position_id()

    def _reselect(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            self.select_position(kept)

    def _follow(self) -> None:
        """After a reorder: the selection stays on the position (not the row), and the view does not scroll."""
        kept, self._kept = self._kept, None
        if kept is None:
            return
        index = self.model().index_of(kept)
        selection = self.selectionModel()
        if not index.isValid():
            selection.clear()
        elif index.row() != self.currentIndex().row():
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect | self._selection_unit())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        value = current.data(PositionIdRole)
        if value is not None and int(value) != self._emitted:
            self._emitted = int(value)
            self.position_selected.emit(int(value))


class CardView(_SelectByPosition, QListView):
    """A wrapping grid of position cards painted by one :class:`CardDelegate`.

    Signals:
        position_selected(int): the user (or :meth:`select_position`) made a position current.
    """

    position_selected = Signal(int)

    def __init__(self, model: PositionsModel, parent=None, theme: Theme | None = None):
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
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(False)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.delegate = CardDelegate(self, theme or light_theme())
        self.setItemDelegate(self.delegate)
        self.setModel(model)
        self.setModelColumn(0)
        self._init_selection(model)

    def _selection_unit(self) -> QItemSelectionModel.SelectionFlag:
        return QItemSelectionModel.SelectionFlag.NoUpdate

    def dataChanged(self, top_left: QModelIndex, bottom_right: QModelIndex, roles=()) -> None:
        """Repaint changed cards, skipping QListView's per-row re-measure when all cells have one size.

        In icon mode QListView re-measures every row of a changed range (a model index — two Python
        ``rowCount``/``columnCount`` calls — per row: ~2.5 ms for 1,000 rows, on every tick and pulse
        frame); with uniform item sizes no cell can change size, so only the repaint is needed.
        """
        if self.uniformItemSizes():
            QAbstractItemView.dataChanged(self, top_left, bottom_right, roles)
        else:
            super().dataChanged(top_left, bottom_right, roles)

    def set_theme(self, theme: Theme) -> None:
        """Repaint the cards in a theme's colours."""
        self.delegate.set_theme(theme)
        self.viewport().update()

    def card_rect(self, position_id: int):
        """The painted card of a position in viewport coordinates (an empty QRect when not shown)."""
        index = self.model().index_of(position_id)
        if not index.isValid():
            return self.visualRect(QModelIndex())
        return self.delegate.card_rect(self.visualRect(index))

    @staticmethod
    def card_size():
        """The constant cell size of a card."""
        return CARD_SIZE


class PositionsTable(_SelectByPosition, QTableView):
    """The positions as rows: fixed row height, header-click sorting in the model, a gauge and a badge column.

    Signals:
        position_selected(int): the user (or :meth:`select_position`) made a position current.
    """

    position_selected = Signal(int)

    def __init__(self, model: PositionsModel, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self.setObjectName("table")
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
        self.gauge_delegate = GaugeDelegate(self, theme)
        self.level_delegate = LevelDelegate(self, theme)
        self.setItemDelegateForColumn(COLUMN_INDEX["margin_ratio"], self.gauge_delegate)
        self.setItemDelegateForColumn(COLUMN_INDEX["level"], self.level_delegate)
        self.setSortingEnabled(True)  # header clicks call model.sort(column, order)
        self._init_selection(model)
        model.set_theme(theme)

    def _selection_unit(self) -> QItemSelectionModel.SelectionFlag:
        return QItemSelectionModel.SelectionFlag.Rows

    def set_theme(self, theme: Theme) -> None:
        """Repaint in a theme's colours (the model's foreground/background roles too)."""
        self.gauge_delegate.set_theme(theme)
        self.level_delegate.set_theme(theme)
        self.model().set_theme(theme)
        self.viewport().update()

    def save_header(self) -> QByteArray:
        """The header state (column order, widths, sort indicator) for the settings."""
        return self.horizontalHeader().saveState()

    def restore_header(self, state: QByteArray) -> bool:
        """Restore a state from :meth:`save_header`; False (and nothing changed) if it does not fit."""
        return bool(self.horizontalHeader().restoreState(state))
