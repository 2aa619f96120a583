"""The painted cards: level colours where the card is, a stamp when liquidated, neighbours untouched."""

import pytest
from PySide6.QtCore import QMargins, QRect
from PySide6.QtGui import QColor, QImage

from isodesk.ui.delegates import CARD_SIZE
from isodesk.ui.models import PositionsModel
from isodesk.ui.theme import dark_theme, light_theme
from isodesk.ui.views import CardView


def count_near(image: QImage, rect: QRect, colour: QColor, tol: int = 10) -> int:
    """Pixels of ``rect`` within ``tol`` of ``colour`` on every channel."""
    n = 0
    r0, g0, b0 = colour.red(), colour.green(), colour.blue()
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            c = image.pixelColor(x, y)
            if abs(c.red() - r0) <= tol and abs(c.green() - g0) <= tol and abs(c.blue() - b0) <= tol:
                n += 1
    return n


def crop(image: QImage, rect: QRect) -> QImage:
    return image.copy(rect)


@pytest.fixture(params=["light", "dark"])
def cards(request, qtbot, demo_desk):
    theme = light_theme() if request.param == "light" else dark_theme()
    model = PositionsModel(pulse_ms=10_000)  # the pulse stays on while we look at colours...
    view = CardView(model, theme=theme)
    view.setPalette(theme.palette)
    qtbot.addWidget(view)
    view.resize(1060, 1000)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    qtbot.waitExposed(view)

    def grab():
        qtbot.wait(1)
        return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)

    return model, view, theme, grab


def settle(model):
    model._pulses.clear()  # ...and is switched off to compare neighbours pixel for pixel


def test_warning_then_danger_then_liquidated_colour_the_card(cards, demo_desk):
    model, view, theme, grab = cards
    xrp, eth = demo_desk.pid("xrp-short"), demo_desk.pid("eth-swing-short")
    image = grab()
    rect = view.card_rect(xrp)
    assert rect.size() == view.card_size().shrunkBy(QMargins(5, 5, 5, 5))
    assert rect.height() == CARD_SIZE.height() - 10
    assert count_near(image, rect, theme.warning) < 40  # safe: no amber
    neighbour_before = crop(image, view.card_rect(eth))

    model.apply(demo_desk.tick({"XRPUSDT": 0.64}))  # 8.2 % from liquidation: warning
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    amber = count_near(image, rect, theme.warning)
    assert amber > 800, amber  # the 2-px border and the badge
    assert crop(image, view.card_rect(eth)) == neighbour_before

    model.apply(demo_desk.tick({"XRPUSDT": 0.685}))  # 1.1 %: danger
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    assert count_near(image, rect, theme.danger) > 800
    assert count_near(image, rect, theme.warning) < 40
    assert crop(image, view.card_rect(eth)) == neighbour_before

    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # liquidated
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    assert count_near(image, rect, theme.stamp, tol=12) > 300
    assert count_near(image, rect, theme.danger) < 300  # the red border is gone; only the stamp is red-ish


def test_the_pulse_glows_outside_the_card(qtbot, demo_desk):
    theme = light_theme()
    model = PositionsModel(pulse_ms=10_000)
    view = CardView(model, theme=theme)
    qtbot.addWidget(view)
    view.resize(1060, 1000)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    xrp = demo_desk.pid("xrp-short")
    model.apply(demo_desk.tick({"XRPUSDT": 0.64}))
    model._pulses[xrp] = model._clock.elapsed() - 5_000  # mid-pulse: full glow
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    cell = view.visualRect(model.index_of(xrp))
    ring = QRect(cell.left() + 2, cell.top() + 40, 2, 60)  # the margin left of the card
    glow = [image.pixelColor(x, y) for x in range(ring.left(), ring.right() + 1)
            for y in range(ring.top(), ring.bottom() + 1)]
    assert any(abs(c.red() - theme.warning.red()) < 40 and c.blue() < 150 for c in glow)


# -- card content a trader expects beside the venues' -------------------------------------------------------------

def test_a_card_shows_size_notional_break_even_and_the_venues_auto_add_flag(demo_desk):
    from isodesk.ui.columns import cell_text, column_for, fmt_money, fmt_price
    from isodesk.ui.delegates import auto_add_text, card_figures

    core = demo_desk.pid("btc-core-long")  # 0.5 BTC long on Binance from 62,000
    store = demo_desk.store
    store.add_venue_report(ts=demo_desk.clock.now, position_id=core, venue="binance-usdm",
                           venue_liquidation_price=None, venue_margin=None, changes={}, auto_add_margin=True)
    store.add_venue_report(ts=demo_desk.clock.now, position_id=demo_desk.pid("btc-bybit-long"), venue="bybit",
                           venue_liquidation_price=None, venue_margin=None, changes={}, auto_add_margin=False)
    snap = demo_desk.desk.refresh_from_store()
    row = snap.book.row_of(core)
    figures = dict(zip(("mark", "liq", "entry", "size", "margin", "uPnL"), card_figures(snap, row), strict=True))
    # break-even by hand: both fills taker at Binance's 0.05 %: 62,000 × 1.0005 / 0.9995 = 62,062.03…
    assert figures["entry"] == ("62,000.00", "break-even 62,062.03")
    assert figures["size"] == ("0.5", f"notional {fmt_money(0.5 * 60_000.0, 'USDT')}")
    assert figures["liq"][1].endswith(" % away")
    assert auto_add_text(snap, row) == "auto-add on"
    assert auto_add_text(snap, snap.book.row_of(demo_desk.pid("btc-bybit-long"))) == "auto-add off"
    assert auto_add_text(snap, snap.book.row_of(demo_desk.pid("eth-big-long"))) == ""  # never imported
    # a short's break-even is below its entry; an inverse position's size is in contracts
    short = snap.book.row_of(demo_desk.pid("btc-scalp-short"))  # 60,100 on Binance
    assert card_figures(snap, short)[2][1] == f"break-even {fmt_price(60_100 * 0.9995 / 1.0005)}"
    inverse = snap.book.row_of(demo_desk.pid("btc-inverse-long"))
    assert card_figures(snap, inverse)[3][0].endswith(" ct")
    # the table reads the same
    assert cell_text(column_for("break_even"), snap, row) == "62,062.03"
    assert cell_text(column_for("auto_add_margin"), snap, row) == "on"
    assert cell_text(column_for("notional"), snap, row) == "30,000.00"


def test_no_card_figure_is_clipped_in_a_1280_by_720_window(qtbot, tmp_path):
    from isodesk.desk.session import DeskConfig
    from isodesk.ui.mainwindow import MainWindow, ui_settings
    from tests.desk.fakes import ScriptedFeed

    feed = ScriptedFeed()
    config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20, feed_factory=lambda store: feed)
    window = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme="light")
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    with qtbot.waitSignal(window.snapshot_applied, timeout=5000):
        window.start()
    try:
        view = window.cards
        view.executeDelayedItemsLayout()
        snap = window.model.snapshot()
        width = view.card_size().width()
        assert view.columns() >= 2  # two cards side by side at 1280 px
        assert all(view.delegate.clipped(snap, row, width) == [] for row in range(len(snap)))
        # and the widest figures a card is sized for fit too (a 9-digit notional, a 7-digit break-even)
        assert width >= view.delegate.min_cell_width()
    finally:
        window.close()


def test_a_closed_position_is_found_by_the_closed_filter_and_painted_closed(cards, demo_desk):
    from decimal import Decimal

    from isodesk.desk.commands import ClosePosition
    from isodesk.ui.models import PositionIdRole

    model, view, theme, grab = cards
    xrp = demo_desk.pid("xrp-short")
    result = demo_desk.desk.apply(ClosePosition(xrp, price=Decimal("0.59")))
    assert result.accepted, result.reason
    model.apply(demo_desk.desk.snapshot)
    settle(model)
    shown = {model.index(r, 0).data(PositionIdRole) for r in range(model.rowCount())}
    assert xrp not in shown and len(shown) == 12  # the live view: what can still be liquidated
    model.set_filter(level="closed")
    assert [model.index(r, 0).data(PositionIdRole) for r in range(model.rowCount())] == [xrp]
    assert model.index(0, 4).data() == "CLOSED"  # the level column
    image = grab()
    rect = view.card_rect(xrp)
    assert count_near(image, rect, theme.stamp, tol=12) < 100  # no LIQUIDATED stamp on a closed card
    model.set_filter(level="liquidated")
    assert model.rowCount() == 0
    # a later tick neither pulses nor revives it
    model.set_filter(level=None)
    model.apply(demo_desk.tick({"XRPUSDT": 0.75}))
    assert xrp not in model.pulsing()


def test_the_live_views_level_filter_offers_closed():
    from isodesk.ui.mainwindow import LEVEL_FILTERS

    assert ("Closed", "closed") in LEVEL_FILTERS


def test_the_cached_static_layer_paints_the_same_pixels_as_painting_everything(cards, demo_desk):
    """A card's chrome, header, second line and settled figures come from one cached pixmap per look
    (``CardDelegate.static_layer``); the grid looks exactly as when every card draws everything, in
    every level, stale, selected and liquidated, and after figures move (new looks, cache hits)."""
    model, view, _theme, grab = cards
    settle(model)
    view.select_position(demo_desk.pid("xrp-short"))
    snaps = [demo_desk.tick({"XRPUSDT": 0.64}), demo_desk.tick({"XRPUSDT": 0.687, "BTCUSDT": 54_500.0}),
             demo_desk.tick({"XRPUSDT": 0.71})]  # warning, danger (and a move), liquidated
    for snap in snaps:
        model.apply(snap)
        settle(model)
        view.delegate.static_layer = True
        view.viewport().repaint()
        cached = grab()
        again = grab()  # drawn from the cache this time
        view.delegate.static_layer = False
        view.viewport().repaint()
        direct = grab()
        assert cached == again == direct
    view.delegate.static_layer = True
    assert view.delegate._cache.static  # the layer was used (and kept)
