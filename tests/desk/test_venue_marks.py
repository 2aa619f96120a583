"""A position is marked by its own venue's price: a Binance price never liquidates a Hyperliquid
position; a reference price marks every venue until the venue's own arrives; a quiet venue's
positions turn stale while reference prices keep coming; replays with and without a venue column."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from isodesk.desk import Deposit, Desk, EventKind, OpenPosition
from isodesk.desk.marks import MarkBoard
from isodesk.desk.session import starting_prices, starting_series
from isodesk.desk.stored_prices import guarded_latest_prices
from isodesk.feeds import SimulatedFeed
from isodesk.feeds.base import Tick
from isodesk.store import Store
from tests.desk.fakes import ManualClock, ScriptedFeed

HL, BN = "hyperliquid", "binance-usdm"


def _row(desk, label):
    return desk.snapshot.book.labels.index(label)


def _mark(desk, label):
    return float(desk.snapshot.cols["mark"][_row(desk, label)])


@pytest.fixture
def two_venues(make_desk, feed, clock, store):
    """A desk (stale after 30 s) holding a 10× Hyperliquid BTC long ``hl`` (0.5 BTC) and a 2× Binance
    BTCUSDT long ``bn`` (0.1 BTC), both entered at 60,000 and priced by a reference BTCUSDT price of 60,000."""
    desk = make_desk(stale_after_s=30)
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("20000"), account="binance-usdm:USDT")).accepted
    assert desk.apply(Deposit(Decimal("20000"), account="hyperliquid:USDC", venue=HL, currency="USDC")).accepted
    for label, venue, symbol, qty, leverage in (("hl", HL, "BTC", "0.5", "10"), ("bn", BN, "BTCUSDT", "0.1", "2")):
        result = desk.apply(OpenPosition(label=label, venue=venue, symbol=symbol, side="long", quantity=Decimal(qty),
                                         entry_price=Decimal("60000"), leverage=Decimal(leverage),
                                         margin=Decimal("3000")))
        assert result.accepted, result.reason
    return desk


def _liq(desk, label):
    return desk.risk_of(desk.store.position_by_label(label).id)["liquidation_price"]


def test_a_binance_price_across_the_line_does_not_liquidate_a_hyperliquid_position_its_own_price_does(
        two_venues, feed, clock, store):
    desk = two_venues
    hl_liq, bn_liq = _liq(desk, "hl"), _liq(desk, "bn")
    assert 50_000 < hl_liq < 60_000 and bn_liq < 40_000  # 10× near, 2× far
    feed.push("BTCUSDT", 60_010.0, clock.advance(1), venue=HL)
    feed.push("BTCUSDT", 59_990.0, clock.now, venue=BN)
    desk.step()
    assert (_mark(desk, "hl"), _mark(desk, "bn")) == (60_010.0, 59_990.0)
    assert not desk.snapshot.by_reference.any()

    crash = hl_liq * 0.99  # Binance's BTCUSDT falls through the Hyperliquid position's line
    feed.push("BTCUSDT", crash, clock.advance(1), venue=BN)
    desk.step()
    assert store.position_by_label("hl").status == "open"
    assert _mark(desk, "hl") == 60_010.0 and not desk.snapshot.stale[_row(desk, "hl")]
    assert _mark(desk, "bn") == crash and store.position_by_label("bn").status == "open"
    assert [e for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION] == []

    own = hl_liq * 0.999  # Hyperliquid's own mark crosses it
    feed.push("BTCUSDT", own, clock.advance(1), venue=HL)
    desk.step()
    hl = store.position_by_label("hl")
    assert hl.status == "liquidated" and hl.close_price == Decimal(repr(own))
    assert [e.label for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION] == ["hl"]
    assert store.position_by_label("bn").status == "open"
    assert {(v, s): p for v, s, p in store.db.execute("SELECT venue, symbol, price FROM prices WHERE ts = ?",
                                                      [clock.now])} == {(HL, "BTCUSDT"): own}


def test_a_reference_price_marks_every_venue_until_the_venues_own_arrives(two_venues, feed, clock, store):
    desk = two_venues
    assert (_mark(desk, "hl"), _mark(desk, "bn")) == (60_000.0, 60_000.0)
    assert desk.snapshot.by_reference.tolist() == [True, True]
    assert desk.market_price(HL, "BTC") == 60_000.0

    feed.push("BTCUSDT", 60_100.0, clock.advance(1), venue=HL)
    desk.step()
    assert (_mark(desk, "hl"), _mark(desk, "bn")) == (60_100.0, 60_000.0)
    assert desk.snapshot.by_reference[_row(desk, "hl")] == False  # noqa: E712 (numpy bool)
    assert desk.snapshot.by_reference[_row(desk, "bn")] == True  # noqa: E712
    assert desk.market_price(HL, "BTC") == 60_100.0 and desk.market_price(BN, "BTCUSDT") == 60_000.0

    hl_liq = _liq(desk, "hl")
    feed.push("BTCUSDT", hl_liq * 0.99, clock.advance(1))  # a reference price through the line
    desk.step()
    assert store.position_by_label("hl").status == "open" and _mark(desk, "hl") == 60_100.0
    assert _mark(desk, "bn") == hl_liq * 0.99  # Binance has no price of its own yet: the reference marks it


def test_when_the_venues_price_goes_quiet_the_position_is_stale_however_many_reference_prices_come(
        two_venues, feed, clock, store):
    desk = two_venues
    feed.push("BTCUSDT", 60_100.0, clock.advance(1), venue=HL)
    desk.step()
    desk.drain_events()
    hl_liq = _liq(desk, "hl")
    for _ in range(4):  # 40 s of reference prices only, the last one through the Hyperliquid line
        feed.push("BTCUSDT", 59_000.0, clock.advance(10))
        desk.step()
    feed.push("BTCUSDT", hl_liq * 0.98, clock.advance(1))
    snap = desk.step()
    hl, bn = _row(desk, "hl"), _row(desk, "bn")
    assert snap.stale[hl] and not snap.stale[bn]
    assert snap.cols["mark"][hl] == 60_100.0  # its last own mark, not the reference
    assert store.position_by_label("hl").status == "open"
    stale = [e for e in desk.drain_events() if e.kind is EventKind.STALE]
    assert [(e.label, e.message) for e in stale] == [("hl", "hl: no fresh price for BTCUSDT on hyperliquid")]

    feed.push("BTCUSDT", 60_050.0, clock.advance(1), venue=HL)  # the venue is back
    snap = desk.step()
    assert not snap.stale[hl] and snap.cols["mark"][hl] == 60_050.0
    assert [e.label for e in desk.drain_events() if e.kind is EventKind.RECOVERED] == ["hl"]


def test_a_bad_bybit_tick_does_not_hold_back_a_good_binance_one(make_desk, feed, clock, store):
    from isodesk.feeds.guard import TickGuard

    guard = TickGuard()
    out = guard.check([Tick("BTCUSDT", 100.0, 60_000.0, BN), Tick("BTCUSDT", 100.0, 60_020.0, "bybit"),
                       Tick("BTCUSDT", 101.0, 6_000.0, "bybit"),  # a lone -90 % Bybit spike: held
                       Tick("BTCUSDT", 101.0, 60_010.0, BN)])
    assert [(t.venue, t.price) for t in out] == [(BN, 60_000.0), ("bybit", 60_020.0), (BN, 60_010.0)]
    assert guard.last_accepted("BTCUSDT", BN) == (101.0, 60_010.0)
    assert guard.last_accepted("BTCUSDT", "bybit") == (100.0, 60_020.0)
    assert guard.last_accepted("BTCUSDT") is None  # no reference price came


def test_stored_prices_are_guarded_per_series(store):
    now = 1_717_200_000.0
    store.insert_prices([(now - 3, "BTCUSDT", 60_000.0, BN), (now - 2, "BTCUSDT", 60_050.0, BN),
                         (now - 3, "BTCUSDT", 60_020.0, "bybit"), (now - 1, "BTCUSDT", 1.0, "bybit"),  # a lone spike
                         (now - 3, "BTCUSDT", 59_990.0)])
    assert guarded_latest_prices(store, now) == {("", "BTCUSDT"): (now - 3, 59_990.0),
                                                 (BN, "BTCUSDT"): (now - 2, 60_050.0),
                                                 ("bybit", "BTCUSDT"): (now - 3, 60_020.0)}


def _book_with_hl_and_bn(tmp_path, clock):
    """A book file with the two positions of ``two_venues``, closed, for a new desk to open."""
    store = Store.open(tmp_path / "venues.db")
    feed = ScriptedFeed()
    desk = Desk(store, feed, catalog=_catalog(), clock=clock, stale_after_s=30)
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    desk.apply(Deposit(Decimal("20000"), account="binance-usdm:USDT"))
    desk.apply(Deposit(Decimal("20000"), account="hyperliquid:USDC", venue=HL, currency="USDC"))
    for label, venue, symbol in (("hl", HL, "BTC"), ("bn", BN, "BTCUSDT")):
        assert desk.apply(OpenPosition(label=label, venue=venue, symbol=symbol, side="long", quantity=Decimal("0.5"),
                                       entry_price=Decimal("60000"), leverage=Decimal("10"),
                                       margin=Decimal("3000"))).accepted
    desk.close()
    return tmp_path / "venues.db"


def _catalog():
    from isodesk.desk.setup import shipped_catalog

    return shipped_catalog()


def test_a_fresh_stored_venue_price_still_wins_after_a_restart_a_stale_one_does_not(tmp_path):
    clock = ManualClock(1_717_200_000.0)
    path = _book_with_hl_and_bn(tmp_path, clock)
    with Store.open(path) as store:
        store.insert_prices([(clock.now, "BTCUSDT", 61_000.0, HL)], source="an earlier run")
    feed = ScriptedFeed()
    desk = Desk(Store.open(path), feed, catalog=_catalog(), clock=ManualClock(clock.now + 5), stale_after_s=30)
    try:
        assert _mark(desk, "hl") == 61_000.0 and _mark(desk, "bn") == 60_000.0
        feed.push("BTCUSDT", 59_000.0, clock.now + 6)  # reference: marks Binance only
        desk.step(clock.now + 6)
        assert (_mark(desk, "hl"), _mark(desk, "bn")) == (61_000.0, 59_000.0)
    finally:
        desk.close()
    # an hour later the stored Hyperliquid price no longer counts as the venue's: the reference marks it
    later = ManualClock(clock.now + 3600)
    desk = Desk(Store.open(path), feed, catalog=_catalog(), clock=later, stale_after_s=30)
    try:
        assert _mark(desk, "hl") == 59_000.0  # the stored reference is newer than nothing, shown (stale)
        feed.push("BTCUSDT", 58_000.0, later.now)
        snap = desk.step()
        assert (_mark(desk, "hl"), _mark(desk, "bn")) == (58_000.0, 58_000.0)
        assert not snap.stale.any() and snap.by_reference.all()
    finally:
        desk.close()


def test_a_reference_replay_marks_every_venue_of_a_book_that_had_venue_prices(tmp_path):
    clock = ManualClock(1_717_200_000.0)
    path = _book_with_hl_and_bn(tmp_path, clock)
    with Store.open(path) as store:
        store.insert_prices([(clock.now, "BTCUSDT", 61_000.0, HL)], source="live")
    feed = ScriptedFeed(clock_from_ticks=True)
    desk = Desk(Store.open(path), feed, catalog=_catalog(), clock=clock, stale_after_s=3600)
    try:
        hl_liq = _liq(desk, "hl")
        path_t = 1_700_000_000.0  # a path from another time: the stored live price is not on it
        feed.push("BTCUSDT", 60_000.0, path_t)
        desk.step()
        assert (_mark(desk, "hl"), _mark(desk, "bn")) == (60_000.0, 60_000.0)
        feed.push("BTCUSDT", hl_liq * 0.99, path_t + 60)
        desk.step()
        assert desk.store.position_by_label("hl").status == "liquidated"
    finally:
        desk.close()


def test_the_board_rule_in_isolation():
    board = MarkBoard()
    board.take_stored({("", "BTCUSDT"): (100.0, 60_000.0), (HL, "BTCUSDT"): (10.0, 61_000.0)}, now=100.0,
                      stale_after_s=30.0)
    assert board.marking(HL, "BTCUSDT") == ("", "BTCUSDT")  # its stored price is 90 s old: not established
    assert board.marking(BN, "BTCUSDT") == ("", "BTCUSDT")
    board.take_stored({(BN, "ETHUSDT"): (10.0, 3_000.0)}, now=100.0, stale_after_s=30.0)
    assert board.marking(BN, "ETHUSDT") == (BN, "ETHUSDT")  # no reference at all: its own (stale) price shows
    board.begin_step()
    board.take_ticks([Tick("BTCUSDT", 101.0, 61_100.0, HL)])
    assert board.marking(HL, "BTCUSDT") == (HL, "BTCUSDT") and board.fresh == {(HL, "BTCUSDT")}
    board.begin_step()
    assert board.fresh == frozenset() and board.marking(HL, "BTCUSDT") == (HL, "BTCUSDT")  # for good


def test_the_simulated_feed_gives_each_venue_its_own_mark_on_the_desk(demo_store, clock):
    series = starting_series(demo_store)
    assert {v for v, _ in series} == {BN, HL, "bybit"}
    sim = SimulatedFeed(starting_prices(demo_store), seed=5, venues={}, start_ts=clock.now)
    desk = Desk(demo_store, sim, catalog=_catalog(), clock=clock)
    try:
        for _ in range(200):  # 50 s of 0.25 s steps
            desk.step(clock.advance(0.25))
        snap = desk.snapshot
        book = snap.book
        rows = {(book.venues[r], book.symbols[r]): r for r in range(len(book)) if book.statuses[r] == "open"}
        marks = {key: float(snap.cols["mark"][r]) for key, r in rows.items()}
        published = sim.venue_prices()
        assert marks[(HL, "BTC")] == published[(HL, "BTCUSDT")]
        assert marks[(BN, "BTCUSDT")] == published[(BN, "BTCUSDT")]
        assert marks[("bybit", "BTCUSDT")] == marks[("bybit", "BTCUSD")] == published[("bybit", "BTCUSDT")]
        gap_bps = abs(marks[(HL, "BTC")] / marks[(BN, "BTCUSDT")] - 1) * 1e4
        assert 0 < gap_bps < 30  # a few basis points apart, never the same price
        assert not snap.by_reference.any()
    finally:
        desk.close()


# -- replay files with and without a venue column -----------------------------------------------------

def _replay(capsys, tmp_path, db, text):
    from isodesk.cli import main

    path = tmp_path / "path.csv"
    path.write_text(text)
    code = main(["replay", str(path), "--db", str(db), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    [summary] = [json.loads(line)["summary"] for line in out.out.splitlines() if line.startswith('{"summary"')]
    return {p["label"]: p for p in summary["positions"]}, summary


def test_replay_with_a_venue_column_marks_each_venue_by_its_own_rows(tmp_path, capsys):
    clock = ManualClock(1_717_200_000.0)
    db = _book_with_hl_and_bn(tmp_path, clock)
    with Store.open(db) as store:
        liq = {label: Desk(store, None, catalog=_catalog(), observe_only=True).risk_of(
            store.position_by_label(label).id)["liquidation_price"] for label in ("hl", "bn")}
    low = min(liq.values()) * 0.99
    t = 1_717_300_000
    positions, summary = _replay(capsys, tmp_path, db, (
        "ts,venue,symbol,price\n"
        f"{t},Binance-USDM,BTCUSDT,60000\n{t},hyperliquid,BTCUSDT,60010\n"
        f"{t + 60},binance-usdm,BTCUSDT,{low}\n"            # Binance falls through both lines
        f"{t + 120},binance-usdm,BTCUSDT,{low * 1.001}\n"
        f"{t + 120},,BTCUSDT,{low}\n"                       # a reference row: Hyperliquid has its own by now
        f"{t + 180},hyperliquid,BTCUSDT,60020\n"
        f"{t + 180},okx,ETHUSDT,3000\n"))
    assert positions["bn"]["status"] == "liquidated" and positions["bn"]["close_price"] == repr(low)
    assert positions["hl"]["status"] == "open" and positions["hl"]["mark"] == 60_020.0
    assert summary["unknown_symbols"] == ["okx ETHUSDT"]


def test_replay_without_a_venue_column_marks_every_venue(tmp_path, capsys):
    clock = ManualClock(1_717_200_000.0)
    db = _book_with_hl_and_bn(tmp_path, clock)
    with Store.open(db) as store:
        store.insert_prices([(clock.now, "BTCUSDT", 61_000.0, HL)], source="live")  # not on the path's timeline
        liq = Desk(store, None, catalog=_catalog(), observe_only=True).risk_of(
            store.position_by_label("hl").id)["liquidation_price"]
    t = 1_717_300_000
    positions, summary = _replay(capsys, tmp_path, db, (
        f"ts,symbol,price\n{t},BTCUSDT,60000\n{t + 60},BTCUSDT,{liq * 0.99}\n{t + 120},BTCUSDT,{liq * 0.995}\n"))
    assert positions["hl"]["status"] == positions["bn"]["status"] == "liquidated"
    assert positions["hl"]["close_price"] == repr(liq * 0.99)
    assert summary["unknown_symbols"] == [] and summary["rejected_rows"] == []


def test_a_replay_row_naming_an_unknown_venue_is_refused_by_line(tmp_path, capsys):
    clock = ManualClock(1_717_200_000.0)
    db = _book_with_hl_and_bn(tmp_path, clock)
    t = 1_717_300_000
    _, summary = _replay(capsys, tmp_path, db, f"ts,venue,symbol,price\n{t},binanse,BTCUSDT,60000\n"
                                               f"{t},,BTCUSDT,60000\n")
    [row] = summary["rejected_rows"]
    assert row["line"] == 2 and row["reason"] == "malformed" and row["venue"] == "binanse"
    assert row["detail"].startswith("column venue: venue 'binanse' is not one of binance-usdm,")
