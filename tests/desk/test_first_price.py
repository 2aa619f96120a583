"""A series' very first price (nothing stored, nothing earlier) has no reference for the tick guard:
it marks the position but never liquidates it; the next price, checked against it, can."""

from __future__ import annotations

from decimal import Decimal

from isodesk.desk.commands import Deposit, OpenPosition


def _long(make_desk):
    desk = make_desk()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    opened = desk.apply(OpenPosition(label="btc", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                     quantity=Decimal("0.5"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                     margin=Decimal("3000")))
    assert opened.accepted, opened.reason
    return desk  # liquidation price ≈ 54,216.87; no BTCUSDT price anywhere yet


def test_a_lone_first_price_past_the_line_marks_but_does_not_liquidate(make_desk, feed, clock, store):
    desk = _long(make_desk)
    clock.advance(1.0)
    feed.push("BTCUSDT", 30_000.0, clock.now)  # a wrong first print: −50 % from entry
    snap = desk.step()
    row = snap.book.labels.index("btc")
    assert snap.cols["mark"][row] == 30_000.0 and snap.cols["distance_frac"][row] < 0  # shown as past the line
    assert store.position_by_label("btc").status == "open"
    assert store.position(store.position_by_label("btc").id).isolated_margin == Decimal("3000")
    clock.advance(1.0)
    feed.push("BTCUSDT", 60_100.0, clock.now)  # the real price: the guard holds it as a jump from 30,000...
    feed.push("BTCUSDT", 60_050.0, clock.now)  # ...and the next confirms it
    desk.step()
    assert store.position_by_label("btc").status == "open"


def test_the_next_price_checked_against_the_first_liquidates(make_desk, feed, clock, store):
    desk = _long(make_desk)
    clock.advance(1.0)
    feed.push("BTCUSDT", 54_000.0, clock.now)  # first price, already past the line: marks only
    desk.step()
    assert store.position_by_label("btc").status == "open"
    clock.advance(1.0)
    feed.push("BTCUSDT", 53_900.0, clock.now)  # checked against 54,000 by the guard: acts
    desk.step()
    assert store.position_by_label("btc").status == "liquidated"
