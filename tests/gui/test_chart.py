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


def test_hyperliquid_and_binance_share_a_market_buffer(qtbot, demo_desk):
    chart = ChartWidget()
    qtbot.addWidget(chart)
    chart.apply(demo_desk.tick({"ETHUSDT": 2990}))
    chart.show_position(demo_desk.pid("eth-hl-long"))  # symbol ETH on hyperliquid
    assert chart.market() == "ETHUSDT"
    assert chart.curve.getData()[1].tolist()[-1] == 2990
    chart.show_position(None)
    assert not chart.lines["liquidation"].isVisible()
