"""``--feed live`` without a venue: one live feed per venue at once, each with its own health; a venue
that goes quiet turns only its own positions stale. Venues are recorded servers on 127.0.0.1."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

pytest.importorskip("ccxt")

from isodesk.desk import Deposit, Desk, OpenPosition
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds import FeedError, make_feed
from isodesk.feeds.live import LiveFeed
from isodesk.feeds.multi import FeedGroup
from isodesk.store import Store
from tests.desk.fakes import ManualClock
from tests.venues.server import VenueServer, recorded

HL, BN = "hyperliquid", "binance-usdm"
BN_BTC = float(next(x["markPrice"] for x in recorded(BN, "premiumIndex") if x["symbol"] == "BTCUSDT"))
_META, _CTXS = recorded(HL, "metaAndAssetCtxs")
HL_BTC = float(next(ctx["markPx"] for asset, ctx in zip(_META["universe"], _CTXS, strict=True)
                    if asset["name"] == "BTC"))


def wait_for(predicate, timeout=10.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
def binance():
    server = VenueServer()
    for path, name in {"/fapi/v1/exchangeInfo": "exchangeInfo", "/fapi/v1/premiumIndex": "premiumIndex"}.items():
        server.route("GET", path, recorded(BN, name))
    yield server.start()
    server.stop()


@pytest.fixture
def hyperliquid():
    server = VenueServer()

    def info(query, body):
        kind = json.loads(body or b"{}").get("type")
        if kind == "metaAndAssetCtxs":
            return 200, recorded(HL, "metaAndAssetCtxs")
        return 422, {"error": f"unexpected {kind}"}

    server.route("POST", "/info", info)
    yield server.start()
    server.stop()


def test_the_recorded_marks_of_the_two_venues_differ():
    assert (BN_BTC, HL_BTC) == (94211.53426087, 94215.0)


def test_one_venue_dropped_turns_only_its_positions_stale(binance, hyperliquid, tmp_path):
    clock = ManualClock(1_735_689_600.0)
    urls = {BN: binance.url, HL: hyperliquid.url}

    def member(venue, markets):
        return LiveFeed(venue, markets, base_url=urls[venue], interval_s=0.05, max_backoff_s=0.2, clock=clock)

    group = FeedGroup({}, make_member=member)
    desk = Desk(Store.open(tmp_path / "live.db"), group, catalog=shipped_catalog(), clock=clock, stale_after_s=30)
    try:
        assert desk.apply(Deposit(Decimal("50000"), account="binance-usdm:USDT")).accepted
        assert desk.apply(Deposit(Decimal("50000"), account="hyperliquid:USDC", venue=HL, currency="USDC")).accepted
        for label, venue, symbol in (("hl", HL, "BTC"), ("bn", BN, "BTCUSDT")):
            result = desk.apply(OpenPosition(label=label, venue=venue, symbol=symbol, side="long",
                                             quantity=Decimal("0.1"), entry_price=Decimal("95000"),
                                             leverage=Decimal("10"), margin=Decimal("950")))
            assert result.accepted, result.reason
        assert sorted(group.members) == [BN, HL]  # the book's venues, each its own feed and thread
        hl, bn = (desk.snapshot.book.labels.index(x) for x in ("hl", "bn"))
        snap = wait_for(lambda: (s := desk.step()) and s.cols["mark"][hl] == HL_BTC and s.cols["mark"][bn] == BN_BTC
                        and s)
        assert not snap.stale.any() and not snap.by_reference.any()
        assert [(p.source, p.connected) for p in snap.feed.parts] == [("live:hyperliquid", True),
                                                                       ("live:binance-usdm", True)]

        hyperliquid.mode = "drop"
        wait_for(lambda: not group.members[HL].health(clock()).connected)
        clock.advance(31)  # Binance keeps stamping fresh ticks at the new time; Hyperliquid sends none
        snap = wait_for(lambda: (s := desk.step()) and s.stale[hl] and not s.stale[bn] and s)
        assert snap.cols["mark"][hl] == HL_BTC  # its last own mark, shown stale
        parts = {p.source: p for p in snap.feed.parts}
        assert not parts["live:hyperliquid"].connected and parts["live:binance-usdm"].connected
        assert not snap.feed.connected and snap.feed.last_error.startswith("live:hyperliquid: ")
        assert desk.store.position_by_label("hl").status == "open"

        hyperliquid.mode = "ok"
        snap = wait_for(lambda: (s := desk.step()) and not s.stale[hl] and s)
        assert snap.feed.connected and not snap.stale.any()
    finally:
        desk.close()
    assert all(m._thread is None for m in group.members.values())  # closing the desk closed every member


def test_make_feed_live_runs_one_feed_per_venue_of_the_book_without_connecting():
    series = {(BN, "BTCUSDT"): 60_000.0, (HL, "BTCUSDT"): 60_000.0, (HL, "ETHUSDT"): 3_000.0,
              ("binance-coinm", "BTCUSDT"): 60_000.0}
    feed = make_feed("live", symbols={"BTCUSDT": 60_000.0}, series=series)
    try:
        assert isinstance(feed, FeedGroup) and feed.name == "live"
        assert {v: m.markets for v, m in feed.members.items()} == {BN: ["BTCUSDT"], HL: ["BTCUSDT", "ETHUSDT"]}
        assert all(m.interval_s == 2.0 for m in feed.members.values())
        health = feed.health(0.0)
        assert [p.source for p in health.parts] == ["live:binance-usdm", "live:hyperliquid"]
        assert "binance-coinm: no live connection" in health.last_error
        feed.follow_book({("okx", "SOLUSDT"): 150.0, ("custom", "BTCUSDT"): 1.0})  # a venue opened later
        assert feed.members["okx"].markets == ["SOLUSDT"] and "custom" in feed.unavailable
    finally:
        feed.close()
    with pytest.raises(FeedError, match="live needs a venue: no open position is on a venue with a live connection"):
        make_feed("live", symbols={}, series={("custom", "BTCUSDT"): 1.0})


def test_a_single_venue_feed_marks_only_its_venue(binance, tmp_path):
    clock = ManualClock(1_735_689_600.0)
    feed = LiveFeed(BN, ["BTCUSDT"], base_url=binance.url, interval_s=0.05, clock=clock)
    ticks = wait_for(lambda: feed.poll(clock()))
    feed.close()
    assert [(t.venue, t.symbol, t.price) for t in ticks] == [(BN, "BTCUSDT", BN_BTC)]
