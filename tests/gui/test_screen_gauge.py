"""One meaning of risk on a card: the gauge (way from entry to liquidation, level colour), one number format."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

from isodesk.desk.levels import Level
from isodesk.ui.columns import COLUMN_INDEX, fmt_distance, usd_values, way_used, zone_starts
from isodesk.ui.models import PositionsModel
from isodesk.ui.theme import dark_theme, light_theme
from isodesk.ui.views import CardView

# -- the pure figures -------------------------------------------------------------------------------


def test_way_used_from_entry_to_liquidation_long_and_short():
    # long, entry 100, liquidation 80: half way at 90, all of it at 80 and beyond, nothing in profit
    assert [way_used(100.0, m, 80.0) for m in (100.0, 90.0, 80.0, 70.0, 110.0)] == [0.0, 0.5, 1.0, 1.0, 0.0]
    # short, entry 100, liquidation 120: the mark rising is what uses the way
    assert [way_used(100.0, m, 120.0) for m in (110.0, 95.0, 125.0)] == [0.5, 0.0, 1.0]
    assert math.isnan(way_used(100.0, 90.0, math.nan))
    arr = way_used(np.array([100.0, 100.0]), np.array([90.0, 110.0]), np.array([80.0, 120.0]))
    assert arr.tolist() == [0.5, 0.5]


@pytest.mark.parametrize(("long", "entry", "liq"), [(True, 100.0, 80.0), (False, 100.0, 120.0)])
def test_zones_start_where_the_thresholds_are_reached(long, entry, liq):
    warn, danger = zone_starts(entry, liq, long, 0.10, 0.03)
    s = 1.0 if long else -1.0
    for start, threshold in ((warn, 0.10), (danger, 0.03)):
        mark = entry + start * (liq - entry)  # the mark at that point of the gauge
        assert s * (mark - liq) / mark == pytest.approx(threshold)  # is exactly at the threshold distance
    assert 0 < warn < danger < 1
    # a position opened already inside the warning distance has no safe zone at all
    assert zone_starts(100.0, 95.0, True, 0.10, 0.03)[0] == 0.0


def test_one_distance_format_and_usd_values():
    assert fmt_distance(0.0334) == "3.34 % away"
    assert fmt_distance(0.1) == "10.00 % away"
    assert fmt_distance(-0.0052) == "0.52 % past"
    assert fmt_distance(math.nan) == "—"
    usd = usd_values(np.array([0.1, 100.0, 5.0]), ("BTC", "USDT", "USDC"), np.array([60_000.0, 3.0, 7.0]))
    assert usd.tolist() == [6_000.0, 100.0, 5.0]


# -- the painted card ----------------------------------------------------------------------------------


def _cards(qtbot, snapshot, theme, width=1100, height=1100):
    model = PositionsModel(pulse_ms=1)
    view = CardView(model, theme=theme)
    view.setPalette(theme.palette)
    qtbot.addWidget(view)
    view.resize(width, height)
    model.apply(snapshot)
    view.show()
    qtbot.waitExposed(view)
    return model, view


def _grab(view) -> QImage:
    return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)


def _near(c, colour, tol=12) -> bool:
    return abs(c.red() - colour.red()) <= tol and abs(c.green() - colour.green()) <= tol \
        and abs(c.blue() - colour.blue()) <= tol


def _arc_point(box: QRectF, fraction: float) -> tuple[int, int]:
    """The pixel on the gauge arc at ``fraction`` of its 270° sweep (clockwise from 225°)."""
    cx, cy = box.center().x(), box.center().y()
    radius = (box.width() - 8) / 2
    angle = math.radians(225 - 270 * fraction)
    return round(cx + radius * math.cos(angle)), round(cy - radius * math.sin(angle))


@pytest.mark.parametrize("theme", [light_theme(), dark_theme()], ids=["light", "dark"])
def test_a_danger_cards_gauge_is_painted_in_the_danger_colour(qtbot, demo_desk, theme):
    snap = demo_desk.desk.snapshot
    sol = demo_desk.pid("sol-degen-long")  # long 20×: entry 155, mark 150, liquidation ≈ 147.24; 1.8 % away
    row = demo_desk.row(snap, "sol-degen-long")
    assert snap.level[row] == Level.DANGER
    c = snap.cols
    used = (c["mark"][row] - c["entry_price"][row]) / (c["liquidation_price"][row] - c["entry_price"][row])
    assert 0.6 < used < 0.7  # 5 of the 7.76 price units from entry to liquidation
    _model, view = _cards(qtbot, snap, theme)
    image = _grab(view)
    box = view.gauge_rect(sol)
    value = [image.pixelColor(*_arc_point(box, used * f)) for f in (0.2, 0.5, 0.8)]
    assert all(_near(px, theme.danger) for px in value), [p.name() for p in value]
    rest = image.pixelColor(*_arc_point(box, used + (1 - used) / 2))  # the unused way: a pale track, not red
    assert not _near(rest, theme.danger, tol=40)
    # a SAFE card's gauge has no danger colour at all (its value is in the safe colour)
    eth = demo_desk.pid("eth-big-long")
    gauge = view.gauge_rect(eth).toRect()
    reds = sum(_near(image.pixelColor(x, y), theme.danger) for y in range(gauge.top(), gauge.bottom())
               for x in range(gauge.left(), gauge.right()))
    greens = sum(_near(image.pixelColor(x, y), theme.safe) for y in range(gauge.top(), gauge.bottom())
                 for x in range(gauge.left(), gauge.right()))
    assert reds == 0 and greens > 20


def test_a_stale_position_keeps_its_level_colour_and_carries_a_stale_mark(qtbot, demo_desk):
    theme = light_theme()
    demo_desk.tick({"BTCUSDT": 60_000})
    snap = demo_desk.tick({"BTCUSDT": 60_010}, advance=61)  # no SOL price for 61 s: stale
    row = demo_desk.row(snap, "sol-degen-long")
    assert snap.stale[row] and snap.level[row] == Level.DANGER
    _model, view = _cards(qtbot, snap, theme)
    image = _grab(view)
    card = view.card_rect(demo_desk.pid("sol-degen-long"))
    danger = sum(_near(image.pixelColor(x, y), theme.danger) for y in range(card.top(), card.bottom())
                 for x in range(card.left(), card.right()))
    assert danger > 800  # border, badge and gauge keep the level's red
    header = QRect(card.left(), card.top(), card.width(), 34)
    stale = sum(_near(image.pixelColor(x, y), theme.stale, tol=6) for y in range(header.top(), header.bottom())
                for x in range(header.left(), header.right()))
    assert stale > 150  # the grey STALE badge beside the level badge


class _Recorder(QPainter):
    """A painter that remembers every ``drawText(rect, flags, text)`` with its font."""

    def __init__(self, device):
        super().__init__(device)
        self.texts: list[tuple[QRectF, str, object]] = []

    def drawText(self, *args):
        if len(args) == 3 and isinstance(args[2], str):
            self.texts.append((QRectF(args[0]), args[2], self.font()))
        return super().drawText(*args)


def test_cards_and_table_print_the_same_figures_and_no_figure_is_clipped(qtbot, demo_desk):
    snap = demo_desk.tick({"XRPUSDT": 0.64})  # a warning among the rest
    model, view = _cards(qtbot, snap, light_theme(), width=500)
    delegate = view.delegate
    # every text through this painter (the cached static layer draws the same texts with the same
    # code into its pixmap: test_delegates compares both ways pixel for pixel)
    delegate.static_layer = False
    delegate.set_cell_width(0)  # the narrowest card the view ever makes
    cell = delegate.cell_size()
    image = QImage(cell.width(), cell.height(), QImage.Format.Format_ARGB32_Premultiplied)
    keys = ("mark", "liquidation_price", "entry_price", "distance_frac", "isolated_margin", "unrealized_pnl",
            "liq_used")
    for view_row in range(model.rowCount()):
        option = QStyleOptionViewItem()
        option.rect = QRect(0, 0, cell.width(), cell.height())
        option.widget = view
        option.palette = view.palette()
        option.state = QStyle.StateFlag.State_Enabled
        painter = _Recorder(image)
        delegate.paint(painter, option, model.index(view_row, 0))
        painter.end()
        drawn = [t for _, t, _ in painter.texts]
        table = {k: model.index(view_row, COLUMN_INDEX[k]).data() for k in (*keys, "roe", "margin_ratio")}
        for key in keys:
            assert table[key] in drawn, (key, table[key], drawn)
        assert f"ROE {table['roe']}" in drawn and f"ratio {table['margin_ratio']}" in drawn
        assert table["distance_frac"].endswith(" % away")
        for rect, text, font in painter.texts:
            assert QFontMetricsF(font).horizontalAdvance(text) <= rect.width() + 0.5, (text, rect.width())


def test_the_table_gauge_and_level_follow_the_level(qtbot, demo_desk):
    from isodesk.ui.views import PositionsTable

    theme = light_theme()
    model = PositionsModel()
    table = PositionsTable(model, theme=theme)
    qtbot.addWidget(table)
    table.resize(1500, 500)
    model.apply(demo_desk.desk.snapshot)
    table.show()
    qtbot.waitExposed(table)
    image = _grab(table)
    row = model.view_row_of(demo_desk.pid("sol-degen-long"))
    cell = table.visualRect(model.index(row, COLUMN_INDEX["liq_used"]))
    bar_y = cell.center().y()
    reds = sum(_near(image.pixelColor(x, bar_y), theme.danger) for x in range(cell.left(), cell.right()))
    assert reds > 20  # the bar is filled in the danger colour (margin ratio 21 % would be green)
    assert model.index(row, COLUMN_INDEX["margin_ratio"]).data().endswith(" %")
    header = model.headerData(COLUMN_INDEX["liq_used"], Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "entry" in header and "liquidation" in header
