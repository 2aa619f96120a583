"""The positions table painted row by row from cached row pixmaps (issue 13: no Python call per cell).

``QTableView.paintEvent`` calls a delegate (a Python call, with its ``QStyleOptionViewItem`` and
``QModelIndex`` wrappers) for every visible cell: ~150 calls per frame at ~100 µs. :class:`RowPixmaps`
instead keeps, per *snapshot* row, a pixmap of the whole row (every column, at the header's widths
and order) and the view blits one pixmap per visible row. A row's pixmap is kept while it would be
painted alike:

- the same row version: the model's :class:`~isodesk.ui.models.RowLook` object, which the model drops
  when the row's displayed values change (the same display keys that decide its ``dataChanged``), a
  new book comes, or the theme changes — so a row is re-drawn on ``dataChanged`` for it and not
  otherwise;
- the same selection state of the row;
- the same *frame* (:meth:`RowPixmaps.frame_key`): column order, positions and widths, hidden
  columns, row height, device pixel ratio, the view's font and palette, enabled and active state.
  A column resize, a theme or a focus change re-draws every row on its next paint.

A row pixmap holds the columns in view (a horizontal scroll re-draws the rows, as Qt repaints them
all then anyway). A row is drawn as the cell delegates draw it, cell by cell in the same order (the
same functions: :meth:`TextCellDelegate.draw_text <isodesk.ui.delegates.TextCellDelegate.draw_text>`,
:func:`~isodesk.ui.delegates.draw_gauge_cell`, :func:`~isodesk.ui.delegates.draw_level_cell`, over the
fill of :func:`~isodesk.ui.delegates.cell_background` with its colours resolved once per frame),
on the viewport's background, so the blitted pixels are the ones the delegates paint
(``tests/gui/test_table_paint.py`` compares them). The table has no grid, no alternating rows,
no hover or focus look and no pulse (the card view pulses): nothing else is in a cell.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QModelIndex, QRect
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView

from isodesk.ui.columns import CLOSED_TEXT, COLUMN_INDEX
from isodesk.ui.delegates import (
    GaugeDelegate,
    LevelDelegate,
    TextCellDelegate,
    badge_width,
    draw_gauge_cell,
    draw_level_cell,
    gauge_zones,
)
from isodesk.ui.theme import STALE

_GAUGE = COLUMN_INDEX["liq_used"]
_LEVEL = COLUMN_INDEX["level"]
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value
_ROOT = QModelIndex()


class RowPixmaps:
    """Per snapshot row, the pixmap of a whole table row and what it was drawn for (see the module doc).

    ``drawn`` counts the rows drawn into a pixmap (a test counts re-draws with it).
    """

    def __init__(self, limit: int = 96):
        self._rows: dict[int, tuple[object, bool, QPixmap, tuple | None]] = {}
        self._frame: tuple | None = None
        self.plan = None  # how rows are drawn in the current frame (table_paint._plan)
        self._limit = limit
        self.drawn = 0

    def clear(self) -> None:
        """Forget every row (the next paint re-draws what it shows)."""
        self._rows.clear()
        self._frame = None

    def __len__(self) -> int:
        return len(self._rows)

    @staticmethod
    def frame_key(view: QTableView, option: QStyleOptionViewItem) -> tuple:
        """What every row's look depends on besides its own content and selection: the header's
        visible columns in visual order as (column, x, width) in logical px, the row height, the
        device pixel ratio, the view's font and palette, the enabled/active state, and the
        horizontal window (scroll offset, viewport width: a row pixmap holds the visible columns)."""
        hh = view.horizontalHeader()
        columns = []
        for visual in range(hh.count()):
            logical = hh.logicalIndex(visual)
            if not hh.isSectionHidden(logical):
                columns.append((logical, hh.sectionPosition(logical), hh.sectionSize(logical)))
        state = option.state.value & (_ENABLED | _ACTIVE)
        viewport = view.viewport()
        return (tuple(columns), view.verticalHeader().defaultSectionSize(), viewport.devicePixelRatioF(),
                option.font.key(), option.palette.cacheKey(), state, view.horizontalOffset(), viewport.width(),
                viewport.palette().cacheKey())

    def set_frame(self, frame: tuple) -> bool:
        """Start a paint with ``frame`` (:meth:`frame_key`): True (and every row forgotten) when it changed."""
        if frame != self._frame:
            self._rows.clear()
            self._frame = frame
            return True
        return False

    def pixmap(self, row: int, look, selected: bool) -> QPixmap | None:
        """The cached pixmap of snapshot ``row`` if it was drawn for ``look`` and ``selected``, else None."""
        entry = self._rows.get(row)
        if entry is not None and entry[0] is look and entry[1] == selected:
            return entry[2]
        return None

    def store(self, row: int, look, selected: bool, pixmap: QPixmap, cells: tuple | None = None) -> None:
        """Keep ``pixmap`` as snapshot ``row``'s drawing for ``look`` and ``selected``; ``cells``: what each
        cell of the frame's plan shows (:func:`_cell_keys`), so that a new look re-draws only the cells
        that differ (None: re-draw the whole row next time)."""
        self._rows[row] = (look, selected, pixmap, cells)
        self.drawn += 1

    def previous(self, row: int) -> tuple | None:
        """The row's last drawing as (look, selected, pixmap, cells), or None."""
        return self._rows.get(row)

    def trim(self, shown: list[int]) -> None:
        """Keep only the snapshot rows in ``shown`` (those just painted) once more than ``limit`` rows
        or three screens' worth are cached: a row pixmap is a few hundred KB at 1,500 px."""
        if len(self._rows) > max(self._limit, 3 * len(shown)):
            keep = set(shown)
            self._rows = {row: entry for row, entry in self._rows.items() if row in keep}

    def recycled(self, row: int, width: int, height: int) -> QPixmap | None:
        """The row's old pixmap when it has the size asked for (device px), to draw into again."""
        entry = self._rows.get(row)
        if entry is not None and entry[2].width() == width and entry[2].height() == height:
            return entry[2]
        return None


class _Plan(NamedTuple):
    """How the rows of one frame are drawn: the visible columns and the colours of a selected row."""

    left: int  # viewport x of the pixmap's left edge, at scroll 0 (the first visible column's x)
    width: int  # logical px
    height: int
    dpr: float
    cells: tuple[tuple[int, QRect, int, int, int], ...]  # (column, rect in the pixmap, x, width, kind)
    background: QColor
    highlight: QBrush  # a selected cell's fill ...
    highlighted_text: QColor  # ... and its text colour (cell_background's colour group)
    gauge_text: QColor  # a selected gauge's figure (the option palette's current group)
    levels: dict  # level cell looks drawn in this frame: key -> cell pixmap, or False (drawn directly)


_TEXT, _GAUGE_CELL, _LEVEL_CELL = 0, 1, 2


def _plan(view: QTableView, option: QStyleOptionViewItem, frame: tuple) -> _Plan:
    columns, height, dpr = frame[0], frame[1], frame[2]
    hoff, width = frame[6], frame[7]
    shown = [(c, x, w) for c, x, w in columns if x + w > hoff and x < hoff + width and w > 0]
    left = shown[0][1] if shown else 0
    right = max((x + w for _, x, w in shown), default=left + 1)
    cells = tuple((c, QRect(x - left, 0, w, height), x - left, w,
                   _GAUGE_CELL if c == _GAUGE else _LEVEL_CELL if c == _LEVEL else _TEXT) for c, x, w in shown)
    state = option.state.value
    palette = option.palette
    # cell_background's colour group for a selected cell; the gauge takes the palette's current one
    group = (QPalette.ColorGroup.Disabled if not state & _ENABLED
             else QPalette.ColorGroup.Active if state & _ACTIVE else QPalette.ColorGroup.Inactive)
    viewport = view.viewport()
    return _Plan(left, max(1, right - left), height, dpr, cells, viewport.palette().color(viewport.backgroundRole()),
                 palette.brush(group, QPalette.ColorRole.Highlight),
                 palette.color(group, QPalette.ColorRole.HighlightedText),
                 palette.color(palette.currentColorGroup(), QPalette.ColorRole.HighlightedText), {})


def paint_rows(view: QTableView, cache: RowPixmaps, painter: QPainter, dirty: QRect) -> bool:
    """Paint the table rows that meet ``dirty`` (viewport px) from ``cache``, drawing the missing ones.

    Python work per visible row, not per cell, when its pixmap is cached. False (nothing painted)
    when the model has no cached row looks, the delegates are not the table's own or the layout is
    right-to-left (not drawn here): the caller paints as ``QTableView`` does.
    """
    model = view.model()
    if model is None or not hasattr(model, "row_look") or view.isRightToLeft():
        return False
    text_delegate, gauge_delegate, level_delegate = view.text_delegate, view.gauge_delegate, view.level_delegate
    if (not isinstance(text_delegate, TextCellDelegate) or not isinstance(gauge_delegate, GaugeDelegate)
            or not isinstance(level_delegate, LevelDelegate)):
        return False
    option = QStyleOptionViewItem()
    view.initViewItemOption(option)
    # QTableView's drawCell: an enabled cell's palette is the Normal (Active) group
    palette = option.palette
    palette.setCurrentColorGroup(QPalette.ColorGroup.Active if option.state.value & _ENABLED
                                 else QPalette.ColorGroup.Disabled)
    option.palette = palette
    frame = cache.frame_key(view, option)
    if cache.set_frame(frame):
        cache.plan = _plan(view, option, frame)
    plan = cache.plan
    rows = model.rowCount()
    if not rows or not plan.cells:
        return True
    first = view.rowAt(dirty.top())
    if first < 0:
        first = 0 if dirty.top() < view.rowViewportPosition(0) else rows
    last = view.rowAt(dirty.bottom())
    if last < 0:
        last = rows - 1
    selection = view.selectionModel()
    x0 = plan.left - view.horizontalOffset()
    fonts = text_delegate.fonts(option)
    shown = []
    for view_row in range(first, last + 1):
        look = model.row_look(view_row)
        if look is None:
            continue
        shown.append(look.row)
        selected = selection is not None and selection.isRowSelected(view_row, _ROOT)
        pixmap = cache.pixmap(look.row, look, selected)
        if pixmap is None:
            pixmap, cells = _draw_row(view, model, plan, fonts, look, selected, cache)
            cache.store(look.row, look, selected, pixmap, cells)
        painter.drawPixmap(x0, view.rowViewportPosition(view_row), pixmap)
    cache.trim(shown)
    return True


def _cell_keys(plan: _Plan, look, snap) -> tuple:
    """What each cell of the plan shows for a row look, comparable between two looks of the row: a
    text cell its text and colour, the gauge its figure and the numbers its bar is drawn from, the
    level cell its level, stale flag and status (the row's tint, fonts and selection are compared
    separately, :func:`_draw_row`)."""
    row = look.row
    texts, colours = look.texts, look.colours
    keys = []
    for column, _rect, _x, _w, kind in plan.cells:
        if kind == _TEXT:
            keys.append((texts[column], colours[column]))
        elif kind == _GAUGE_CELL:
            keys.append((int(snap.level[row]), snap.book.statuses[row], bool(snap.stale[row]), gauge_zones(snap, row),
                         texts[_GAUGE]))
        else:
            keys.append((int(snap.level[row]), bool(snap.stale[row]), snap.book.statuses[row]))
    return tuple(keys)


def _draw_row(view: QTableView, model, plan: _Plan, fonts, look, selected: bool,
              cache: RowPixmaps) -> tuple[QPixmap, tuple]:
    """Draw one row's visible cells, as the delegates draw them, into a pixmap of the row's size; with
    what each cell shows (:func:`_cell_keys`).

    When the row was drawn before for the same selection, tint and fonts, only the cells that show
    something else are drawn again, over their own rect of the old pixmap: a tick moves the mark,
    the PnL, the distance and the gauge of a row, and leaves its label, venue, entry, size, margin
    and a dozen more cells as they were (every cell stays inside its rect: texts are elided to it,
    the gauge is inset, and a level cell whose badges overflow makes the whole row drawn again)."""
    dev_w, dev_h = max(1, round(plan.width * plan.dpr)), max(1, round(plan.height * plan.dpr))
    snap = model.snapshot()
    row = look.row
    keys = _cell_keys(plan, look, snap)
    before = cache.previous(row)
    redraw = None
    if before is not None:
        old_look, old_selected, old_pixmap, old_keys = before
        if (old_keys is not None and old_selected == selected and old_look.tint is look.tint
                and old_look.font == look.font and old_look.first_font == look.first_font
                and old_pixmap.width() == dev_w and old_pixmap.height() == dev_h and len(old_keys) == len(keys)):
            redraw = [i for i, (old, new) in enumerate(zip(old_keys, keys, strict=True)) if old != new]
            if any(plan.cells[i][4] == _LEVEL_CELL for i in redraw):
                redraw = None  # its badges may overflow the cell: the whole row
    pixmap = before[2] if redraw is not None else (cache.recycled(row, dev_w, dev_h) or QPixmap(dev_w, dev_h))
    pixmap.setDevicePixelRatio(plan.dpr)
    if redraw is None:
        pixmap.fill(plan.background)
    elif not redraw:
        return pixmap, keys
    painter = QPainter(pixmap)
    try:
        # cell_background: the selection's fill and text colour, else the row's level tint
        fill = plan.highlight if selected else look.tint
        on = plan.highlighted_text if selected else None
        gauge_on = plan.gauge_text if selected else None
        draw_text = view.text_delegate.draw_text
        height = plan.height
        cells = plan.cells if redraw is None else [plan.cells[i] for i in redraw]
        for column, rect, x, w, kind in cells:
            if redraw is not None:
                painter.fillRect(rect, plan.background)  # the cell as the row's fill left it
            if fill is not None:
                painter.fillRect(rect, fill)  # per cell, in the delegates' order: the same pixels
            if kind == _TEXT:
                draw_text(painter, fonts, look, column, x, 0, w, height, on)
            elif kind == _GAUGE_CELL:
                draw_gauge_cell(painter, view.gauge_delegate.paints, rect, snap, row, look.texts, gauge_on)
            else:
                _level_cell(painter, view.level_delegate.paints, plan, rect, snap, row, fill)
    finally:
        painter.end()
    return pixmap, keys


def _level_cell(painter: QPainter, paints, plan: _Plan, rect: QRect, snap, row: int, fill) -> None:
    """The level cell: a few looks only (level, stale, closed, fill), each drawn once per frame into a
    cell-sized pixmap and blitted (the same pixels: integral offsets); drawn directly when its badges
    do not fit the cell (they would overflow it, as the delegate lets them)."""
    closed = snap.book.statuses[row] == "closed"
    level, stale = int(snap.level[row]), bool(snap.stale[row])
    key = (level, stale, closed, None if fill is None else QColor(fill if isinstance(fill, QColor)
                                                                   else fill.color()).rgba())
    cached = plan.levels.get(key)
    if cached is None:
        w = badge_width(paints, level, CLOSED_TEXT if closed else None)
        total = w + (badge_width(paints, STALE) + 4 if stale else 0)
        cached = False
        if total + 2 <= rect.width():
            cell = QPixmap(max(1, round(rect.width() * plan.dpr)), max(1, round(rect.height() * plan.dpr)))
            cell.setDevicePixelRatio(plan.dpr)
            cell.fill(plan.background)
            cp = QPainter(cell)
            try:
                local = QRect(0, 0, rect.width(), rect.height())
                if fill is not None:
                    cp.fillRect(local, fill)
                draw_level_cell(cp, paints, local, snap, row)
            finally:
                cp.end()
            cached = cell
        plan.levels[key] = cached
    if cached is False:
        draw_level_cell(painter, paints, rect, snap, row)
    else:
        painter.drawPixmap(rect.x(), rect.y(), cached)


__all__ = ["RowPixmaps", "paint_rows"]
