"""The chart keeps per-market marks and draws the engine's price lines for the selected position."""

import pytest
from PySide6.QtGui import QImage

from isodesk.ui.chart import ChartWidget, RingBuffer
from isodesk.ui.theme import light_theme


def test_ring_buffer_keeps_the_newest_points_contiguous():
    ring = RingBuffer(4)
    for i in range(6):
        ring.append(float(i), 10.0 + i)
    ts, price = ring.view()
    assert ts.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert price.tolist() == [12.0, 13.0, 14.0, 15.0]
    assert not ts.flags.writeable


def test_lines_sit_at_the_engines_prices_after_show_position(qtbot, demo_desk):
    chart = ChartWidget(theme=light_theme())
    qtbot.addWidget(chart)
    chart.resize(800, 300)
    chart.show()
    prices = [150.0, 149.8, 149.5, 149.9, 149.2]
    for p in prices:
        snap = demo_desk.tick({"SOLUSDT": p})
        chart.apply(snap)
    chart.apply(demo_desk.tick({"BTCUSDT": 60100}))  # SOL did not move: no new point
    pid = demo_desk.pid("sol-degen-long")
    chart.show_position(pid)
    snap = demo_desk.desk.snapshot
    row = snap.book.row_of(pid)
    assert chart.position_id() == pid and chart.market() == "SOLUSDT"
    assert chart.lines["liquidation"].value() == pytest.approx(snap.cols["liquidation_price"][row])
    assert chart.lines["bankruptcy"].value() == pytest.approx(snap.cols["bankruptcy_price"][row])
    assert chart.lines["entry"].value() == pytest.approx(155.0)
    _x, y = chart.curve.getData()
    assert y.tolist()[-5:] == prices
    low, high = sorted(chart.zone.getRegion())
    assert low < snap.cols["bankruptcy_price"][row] < snap.cols["liquidation_price"][row] == pytest.approx(high)
    assert "sol-degen-long" in chart.plot.getPlotItem().titleLabel.text
    image = chart.grab().toImage()
    assert not image.isNull() and image.format() != QImage.Format.Format_Invalid


def test_a_reference_price_feeds_the_curve_until_the_venues_own_arrives(qtbot, demo_desk):
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.apply(demo_desk.tick({"ETHUSDT": 2990}))
    chart.show_position(demo_desk.pid("eth-hl-long"))  # symbol ETH on hyperliquid
    assert chart.market() == "ETHUSDT"
    assert chart.curve.getData()[1].tolist()[-1] == 2990
    chart.show_position(None)
    assert not chart.lines["liquidation"].isVisible()


def test_each_venue_has_its_own_curve_of_one_market(qtbot, demo_desk):
    """A Hyperliquid position's curve is Hyperliquid's marks, a Binance one's Binance's: never a
    line stepping between two venues' prices of one market."""
    chart = ChartWidget()
    qtbot.addWidget(chart)
    d = demo_desk
    for hl, bn in ((3000.0, 2990.0), (3001.0, 2991.0), (3002.5, 2992.0)):
        d.clock.advance(1.0)
        d.feed.push("ETHUSDT", hl, d.clock.now, venue="hyperliquid")
        d.feed.push("ETHUSDT", bn, d.clock.now, venue="binance-usdm")
        chart.apply(d.desk.step())
    chart.show_position(d.pid("eth-hl-long"))
    assert chart.series() == ("hyperliquid", "ETHUSDT") and chart.market() == "ETHUSDT"
    assert chart.curve.getData()[1].tolist()[-3:] == [3000.0, 3001.0, 3002.5]
    assert chart.buffer(("binance-usdm", "ETHUSDT")) is not None
    assert chart.buffer(("binance-usdm", "ETHUSDT")).view()[1].tolist()[-3:] == [2990.0, 2991.0, 2992.0]
    assert chart.buffer("ETHUSDT") is None  # two series of the market: a bare name is ambiguous
