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


def test_a_live_feeds_first_tick_is_checked_against_the_books_last_price(store, clock, catalog):
    """The book holds BTCUSDT at 60,000: a live feed's first tick of 29,400 is held by its guard as
    a jump (the stored price seeded it: −51 %, beyond the 50 % band), not taken as a mark that liquidates."""
    from dataclasses import dataclass, field

    from isodesk.desk import Desk
    from isodesk.feeds.guard import TickGuard
    from tests.desk.fakes import ScriptedFeed

    @dataclass
    class GuardedFeed(ScriptedFeed):
        guard: TickGuard = field(default_factory=TickGuard)

        def poll(self, now):
            return self.guard.check(super().poll(now), now)

    store.insert_prices([(clock.now - 5, "BTCUSDT", 60_000.0)], source="earlier run")
    feed = GuardedFeed()
    desk = Desk(store, feed, catalog=catalog, clock=clock)
    try:
        assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
        assert desk.apply(OpenPosition(label="btc", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                       quantity=Decimal("0.5"), entry_price=Decimal("60000"),
                                       leverage=Decimal("10"), margin=Decimal("3000"))).accepted
        assert feed.guard.last_accepted("BTCUSDT") == (clock.now - 5, 60_000.0)  # seeded from the book
        clock.advance(1.0)
        feed.push("BTCUSDT", 29_400.0, clock.now)
        desk.step()
        assert [t.price for t in feed.guard.held] == [29_400.0]  # held, awaiting the next price
        assert store.position_by_label("btc").status == "open"
        clock.advance(1.0)
        feed.push("BTCUSDT", 60_020.0, clock.now)  # contradicts it: the spike is rejected
        desk.step()
        assert feed.guard.rejected_by_reason.get("jump") == 1
        assert store.position_by_label("btc").status == "open"
    finally:
        desk.close()
