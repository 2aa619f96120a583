"""Shared pieces of the What-if workspace: constants, account colours, table views, the cell editor.

No state here; every module of :mod:`isodesk.ui.whatif` may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from isodesk.ui.theme import Theme, dark_theme, light_theme

MARKET_RANGE = 50           # the market slider's range, percent (the plot's range too)
ROW_HEIGHT = 22             # every table of the workspace: fixed row height (QT-PRACTICES §5.2)
ACCOUNT_COLOURS = ("#0969da", "#8250df", "#1b7c83", "#bc4c00", "#bf3989", "#4d2d00", "#57606a", "#116329")
ACCOUNT_COLOURS_DARK = ("#58a6ff", "#bc8cff", "#39c5cf", "#ffa657", "#ff7ab9", "#e3b341", "#b1bac4", "#7ee787")
EDITABLE_HINT = "double-click, F2 or type to edit; Delete clears; Enter applies"


def default_theme() -> Theme:
    """The theme matching the application's palette (for a workspace built without one)."""
    have_app = QGuiApplication.instance() is not None
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window) if have_app else QColor("#ffffff")
    return dark_theme() if window.lightness() < 128 else light_theme()


def account_colour(theme: Theme, a: int) -> QColor:
    """The colour of account ``a`` (its curves in the plot, its name in the accounts table)."""
    colours = ACCOUNT_COLOURS_DARK if theme.dark else ACCOUNT_COLOURS
    return QColor(colours[a % len(colours)])


def tint(colour: QColor, alpha: int) -> QColor:
    """``colour`` at ``alpha`` (0–255), a new QColor (build once per theme, not per paint)."""
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def escape(text: str) -> str:
    """``text`` safe inside a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def muted_style(theme: Theme) -> str:
    """A label style sheet in the theme's muted text colour."""
    return f"color: {theme.muted.name()};"


def table_view(model: QAbstractTableModel, parent: QWidget, name: str) -> QTableView:
    """A read-only table of the workspace (see :func:`configure_view`)."""
    view = QTableView(parent)
    configure_view(view, model, name)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    return view


def configure_view(view: QTableView, model: QAbstractTableModel, name: str) -> None:
    """Fixed row height, no word wrap, single selection, pixel scrolling, columns sized once."""
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setWordWrap(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    view.horizontalHeader().setStretchLastSection(True)
    view.horizontalHeader().setHighlightSections(False)
    view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)


def fit_columns(view: QTableView, samples: Sequence[str] = (), *, rows: int = 40, cap: int = 240) -> None:
    """Column widths from the header, the sample texts (one per column) and the shown texts of the
    first ``rows`` rows, measured once with the view's font (at most ``cap`` px a column): no
    ResizeToContents, which would measure every row on each change (QT-PRACTICES §5.2)."""
    bold = QFont(view.font())
    bold.setBold(True)  # bold cells (a liquidated row, an edited value) are the widest
    metrics = QFontMetrics(bold)
    header = view.horizontalHeader()
    model = view.model()
    n = min(model.rowCount(), rows)
    for col in range(model.columnCount()):
        title = str(model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
        width = metrics.horizontalAdvance(title) + 16
        if col < len(samples):
            width = max(width, metrics.horizontalAdvance(samples[col]))
        for r in range(n):
            text = model.data(model.index(r, col), Qt.ItemDataRole.DisplayRole)
            if text:
                width = max(width, metrics.horizontalAdvance(str(text)))
        header.resizeSection(col, min(width + 14, cap))


@dataclass
class Row:
    """One row of a small results table: texts, raw values (``Qt.UserRole``), colours."""

    cells: list[str]
    raw: list[Any]
    background: QColor | None = None
    foreground: dict[int, QColor] | None = None
    bold: frozenset[int] = frozenset()
    tips: dict[int, str] | None = None


class RowsModel(QAbstractTableModel):
    """A read-only table of :class:`Row` s replaced whole on each outcome (accounts and currencies:
    a handful of rows; the positions have their own model)."""

    def __init__(self, headers: Sequence[str], right: set[int], font: QFont, parent: QWidget | None = None,
                 tips: Sequence[str] = ()):
        super().__init__(parent)
        self.headers = list(headers)
        self.header_tips = list(tips) + [""] * (len(headers) - len(tips))
        self.right = right
        self.rows: list[Row] = []
        self.set_font(font)

    def set_font(self, font: QFont) -> None:
        """The font of the cells (bold where a row says so)."""
        self._font = QFont(font)
        self._bold = QFont(font)
        self._bold.setBold(True)

    def set_rows(self, rows: list[Row]) -> None:
        """Replace every row (one reset: the tables are a few rows long)."""
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.header_tips[section] or None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(section in self.right))
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[col]
        if role == Qt.ItemDataRole.UserRole:
            return row.raw[col]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(col in self.right))
        if role == Qt.ItemDataRole.BackgroundRole:
            return row.background
        if role == Qt.ItemDataRole.ForegroundRole:
            return (row.foreground or {}).get(col)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if col in row.bold else self._font
        if role == Qt.ItemDataRole.ToolTipRole:
            return (row.tips or {}).get(col)
        return None

    def column(self, header: str) -> int:
        """The index of a column by its header."""
        return self.headers.index(header)

    def text(self, row: int, header: str) -> str:
        """The shown text of one cell."""
        return self.rows[row].cells[self.column(header)]

    def value(self, row: int, header: str) -> Any:
        """The raw value of one cell."""
        return self.rows[row].raw[self.column(header)]


def _align(right: bool) -> Qt.AlignmentFlag:
    return (Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter


class CellEditDelegate(QStyledItemDelegate):
    """The editor of the workspace's editable cells: a line edit holding the cell's written value
    (``Qt.EditRole``); the model validates the text in ``setData`` and says why it refuses.
    Painting is Qt's own (no ``paint`` override)."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: QModelIndex | QPersistentModelIndex) -> QWidget:
        editor = QLineEdit(parent)
        editor.setObjectName("cell-editor")
        editor.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        editor.setFrame(False)
        hint = index.data(Qt.ItemDataRole.WhatsThisRole)
        if hint:
            editor.setPlaceholderText(str(hint))
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        if isinstance(editor, QLineEdit):
            editor.setText(str(index.data(Qt.ItemDataRole.EditRole) or ""))
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex | QPersistentModelIndex) -> None:
        if isinstance(editor, QLineEdit):
            model.setData(index, editor.text(), Qt.ItemDataRole.EditRole)


class EditableTable(QTableView):
    """A workspace table with editable cells: the shared :class:`CellEditDelegate`, editing on
    double-click, F2 or typing; Delete or Backspace clears the current editable cell (its edit)."""

    def __init__(self, model: QAbstractTableModel, parent: QWidget, name: str):
        super().__init__(parent)
        configure_view(self, model, name)
        self.setItemDelegate(CellEditDelegate(self))
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)

    def keyPressEvent(self, event: Any) -> None:
        index = self.currentIndex()
        if (event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and index.isValid()
                and self.state() != QAbstractItemView.State.EditingState
                and index.flags() & Qt.ItemFlag.ItemIsEditable):
            self.model().setData(index, "", Qt.ItemDataRole.EditRole)
            return
        super().keyPressEvent(event)
