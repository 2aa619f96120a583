"""The table painted from cached row pixmaps: the delegates' pixels, re-drawn only when a row changed."""

import pytest
from PySide6.QtGui import QImage

from isodesk.ui.columns import COLUMN_INDEX, COLUMNS, row_texts
from isodesk.ui.models import PositionsModel
from isodesk.ui.theme import dark_theme, light_theme
from isodesk.ui.views import PositionsTable


def _table(qtbot, demo_desk, theme):
    model = PositionsModel(pulse_ms=10_000)
    view = PositionsTable(model, theme=theme)
    view.setPalette(theme.palette)
    qtbot.addWidget(view)
    view.resize(1500, 520)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    qtbot.waitExposed(view)
    return model, view


def _grab(view, rows: bool) -> QImage:
    view.row_paint = rows
    return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def _differing(a: QImage, b: QImage) -> int:
    assert a.size() == b.size()
    n = 0
    for y in range(a.height()):
        for x in range(a.width()):
            if a.pixel(x, y) != b.pixel(x, y):
                n += 1
    return n


@pytest.mark.parametrize("theme_name", ["light", "dark"])
def test_row_pixmaps_paint_exactly_the_delegates_pixels(qtbot, demo_desk, theme_name):
    theme = light_theme() if theme_name == "light" else dark_theme()
    model, view = _table(qtbot, demo_desk, theme)
    # every look the table has: levels up to a liquidation, stale rows (BTC quiet for a minute), a selection
    model.apply(demo_desk.tick({"XRPUSDT": 0.71, "ETHUSDT": 3_350.0, "SOLUSDT": 120.0}, advance=120.0))
    levels = {int(v) for v in model.snapshot().level}
    assert len(levels) >= 3 and bool(model.snapshot().stale.any())
    view.selectRow(2)
    cells = _grab(view, rows=False)
    rows = _grab(view, rows=True)
    assert view.row_pixmaps.drawn > 0  # the row path did paint
    assert _differing(cells, rows) == 0
    # columns narrowed by hand (elided texts, overflowing badges), a column moved, the view without focus
    view.setColumnWidth(COLUMN_INDEX["mark"], 30)
    view.setColumnWidth(COLUMN_INDEX["level"], 50)  # badges wider than the cell
    view.horizontalHeader().moveSection(COLUMN_INDEX["level"], 1)
    view.clearFocus()
    before = view.row_pixmaps.drawn
    assert _differing(_grab(view, rows=False), _grab(view, rows=True)) == 0
    assert view.row_pixmaps.drawn > before  # the new column layout was drawn by the row path
    # scrolled sideways
    view.resize(700, 400)
    view.horizontalScrollBar().setValue(view.horizontalScrollBar().maximum() // 2)
    before = view.row_pixmaps.drawn
    assert _differing(_grab(view, rows=False), _grab(view, rows=True)) == 0
    assert view.row_pixmaps.drawn > before


def _drawn_rows(view):
    """Record the snapshot rows the row cache draws from now on."""
    drawn: list[int] = []
    store = view.row_pixmaps.store

    def spy(row, look, selected, pixmap, *cells):
        drawn.append(row)
        store(row, look, selected, pixmap, *cells)

    view.row_pixmaps.store = spy
    return drawn


def test_a_rows_pixmap_is_redrawn_when_its_data_changes_and_not_otherwise(qtbot, demo_desk):
    model, view = _table(qtbot, demo_desk, light_theme())
    view.viewport().grab()
    shown = model.rowCount()
    assert shown == len(demo_desk.desk.snapshot)  # 13 rows, all visible at 520 px
    drawn = _drawn_rows(view)
    view.viewport().grab()
    view.viewport().grab()
    assert drawn == []  # nothing changed: every row blitted from its pixmap
    old = model.snapshot()
    new = demo_desk.tick({"SOLUSDT": 151.0}, advance=0.5)
    model.apply(new)
    view.viewport().grab()
    # the rows whose cell texts, level or stale flag changed, found by formatting both snapshots
    changed = {r for r in range(len(new)) if row_texts(old, r) != row_texts(new, r)
               or old.level[r] != new.level[r] or old.stale[r] != new.stale[r]}
    assert 0 < len(changed) < shown  # some rows changed, not all
    assert sorted(drawn) == sorted(changed)
    # a selection re-draws the selected row only; a column resize every row
    drawn.clear()
    view.selectRow(0)
    view.viewport().grab()
    assert drawn == [model.row_look(0).row]
    drawn.clear()
    view.setColumnWidth(0, COLUMNS[0].width + 10)
    view.viewport().grab()
    assert len(drawn) == shown and len(set(drawn)) == shown


def test_a_theme_switch_redraws_every_row_in_the_new_colours(qtbot, demo_desk):
    model, view = _table(qtbot, demo_desk, light_theme())
    light = _grab(view, rows=True)
    drawn = _drawn_rows(view)
    dark = dark_theme()
    view.setPalette(dark.palette)
    view.set_theme(dark)
    rows = _grab(view, rows=True)
    assert sorted(drawn) == sorted(model.row_look(r).row for r in range(model.rowCount()))
    assert _differing(light, rows) > rows.width() * rows.height() // 2  # most pixels changed colour
    assert _differing(_grab(view, rows=False), rows) == 0


@pytest.mark.parametrize("theme_name", ["light", "dark"])
def test_a_tick_redraws_only_the_cells_that_moved_and_the_pixels_stay_the_delegates(qtbot, demo_desk, theme_name,
                                                                                   monkeypatch):
    """A new look of a row re-draws, over the row's old pixmap, only the cells that show something else
    (a tick moves the mark, PnL, distance, gauge…, not the label or the entry): the pixels are still
    the delegates', through level changes, a selection and a liquidation."""
    import isodesk.ui.table_paint as table_paint

    theme = light_theme() if theme_name == "light" else dark_theme()
    model, view = _table(qtbot, demo_desk, theme)
    view.selectRow(1)
    assert _differing(_grab(view, rows=False), _grab(view, rows=True)) == 0
    drawn_cells = []
    draw_text = view.text_delegate.draw_text

    def spy(painter, fonts, look, column, *rest):
        drawn_cells.append(column)
        return draw_text(painter, fonts, look, column, *rest)

    monkeypatch.setattr(view.text_delegate, "draw_text", spy)
    text_columns = sum(1 for c in view.row_pixmaps.plan.cells if c[4] == table_paint._TEXT)
    for prices in ({"ETHUSDT": 3_310.0}, {"XRPUSDT": 0.64, "ETHUSDT": 3_330.0}, {"XRPUSDT": 0.687},
                   {"XRPUSDT": 0.71, "BTCUSDT": 54_000.0}):
        model.apply(demo_desk.tick(prices))
        drawn_cells.clear()
        rows = _grab(view, rows=True)
        assert drawn_cells  # something moved and was drawn again...
        redrawn_rows = len(set(model.row_look(r).row for r in range(model.rowCount())))
        assert len(drawn_cells) < text_columns * redrawn_rows  # ...but not every text cell of every row
        assert _differing(_grab(view, rows=False), rows) == 0
