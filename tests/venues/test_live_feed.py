"""The live feed against a recorded Binance USDⓈ-M: prices flow, a dead venue turns positions stale and recovers."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from isodesk.desk import Desk, OpenPosition
from isodesk.feeds import FeedError, make_feed
from isodesk.feeds.live import LiveFeed
from tests.desk.fakes import ManualClock


def wait_for(predicate, timeout=10.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
def feeds():
    made = []
    yield made
    for feed in made:
        feed.close()


def live(binance, feeds, markets=("BTCUSDT", "ETHUSDT"), **kw):
    kw.setdefault("interval_s", 0.05)
    kw.setdefault("max_backoff_s", 0.4)
    feed = LiveFeed("binance-usdm", markets, base_url=binance.url, **kw)
    feeds.append(feed)
    return feed


def test_building_a_live_feed_touches_no_network(binance, feeds):
    feed = live(binance, feeds)
    time.sleep(0.1)
    assert binance.requests == [] and feed.health(0.0).connected is False


def test_mark_prices_flow_as_ticks(binance, feeds):
    feed = live(binance, feeds, markets=("BTCUSDT", "ETHUSDT", "DOGEUSDT"))
    collected = []
    wait_for(lambda: collected.extend(feed.poll(time.time())) or {t.symbol for t in collected} >= {"BTCUSDT",
                                                                                                   "ETHUSDT"})
    prices = {t.symbol: t.price for t in collected}
    assert prices == {"BTCUSDT": 94211.53426087, "ETHUSDT": 3350.2}
    health = feed.health(time.time())
    assert health.connected and health.source == "live:binance-usdm" and health.accepted >= 2
    assert health.last_error == "binance-usdm lists no perpetual for DOGEUSDT"
    assert binance.hits("/fapi/v1/exchangeInfo") == 1  # markets loaded once
    assert all(not r.headers.get("X-MBX-APIKEY") for r in binance.requests)  # public: no key sent
    feed.set_symbols({"SOLUSDT": 1.0})
    wait_for(lambda: any(t.symbol == "SOLUSDT" for t in feed.poll(time.time())))


def test_a_malformed_mark_is_counted_never_used(binance, feeds):
    binance.route("GET", "/fapi/v1/premiumIndex", [{"symbol": "BTCUSDT", "markPrice": "abc", "time": 1},
                                                    {"symbol": "ETHUSDT", "markPrice": "3350.2", "time": 1}])
    feed = live(binance, feeds)
    seen = []
    wait_for(lambda: seen.extend(feed.poll(time.time())) or feed.guard.rejected_by_reason.get("malformed", 0) >= 1)
    assert {t.symbol for t in seen} <= {"ETHUSDT"}
    binance.route("GET", "/fapi/v1/premiumIndex", {"not": "a list"})
    wait_for(lambda: feed.poll(time.time()) is not None and not feed.health(time.time()).connected)
    assert feed.health(time.time()).last_error.startswith("binance-usdm: malformed mark prices: no usable price")


def test_dropped_connection_turns_positions_stale_and_recovers(binance, feeds, tmp_path, catalog):
    from isodesk.store import Store

    clock = ManualClock(1_735_689_600.0)
    feed = live(binance, feeds, clock=clock)
    store = Store.open(tmp_path / "live.db")
    desk = Desk(store, feed, catalog=catalog, clock=clock, stale_after_s=30)
    from isodesk.desk import Deposit

    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT", venue="binance-usdm",
                              currency="USDT")).accepted
    result = desk.apply(OpenPosition(label="btc", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                     quantity=Decimal("0.5"), entry_price=Decimal("95000"), leverage=Decimal("10"),
                                     margin=Decimal("4750")))
    assert result.accepted, result.reason
    feed.set_symbols(["BTCUSDT"])
    wait_for(lambda: desk.step().cols["mark"][0] == 94211.53426087)
    assert not desk.snapshot.stale[0] and desk.snapshot.feed.connected

    binance.mode = "drop"
    wait_for(lambda: not feed.health(clock()).connected)
    wait_for(lambda: feed.status().failures >= 3)
    status = feed.status()
    assert status.backoff_s == pytest.approx(min(0.4, 0.05 * 2 ** (status.failures - 1)))
    health = desk.step().feed
    assert not health.connected and "network error" in health.last_error and "retry" in health.last_error
    feed.poll(clock())  # drain whatever came before the drop
    clock.advance(31)
    snap = desk.step()
    assert snap.stale[0] and snap.book.statuses[0] == "open"
    # a crash price while the venue is down cannot liquidate: no price reaches the desk at all
    assert store.position_by_label("btc").status == "open"

    binance.mode = "ok"
    wait_for(lambda: feed.health(clock()).connected)
    snap = wait_for(lambda: (s := desk.step()) and not s.stale[0] and s)
    assert snap.feed.connected and snap.feed.last_error is None
    assert feed.status().failures == 0 and feed.status().backoff_s == 0
    kinds = [e.kind.value for e in desk.drain_events()]
    assert "stale" in kinds and "recovered" in kinds
    desk.close()


def test_close_stops_the_thread(binance, feeds):
    feed = live(binance, feeds)
    wait_for(lambda: feed.poll(time.time()))
    thread = feed._thread
    feed.close()
    assert thread is not None and not thread.is_alive()
    assert feed.poll(time.time()) == [] and not feed.health(time.time()).connected


def test_make_feed_builds_live_feeds_without_connecting(binance):
    feed = make_feed(f"live:binance-usdm,interval=0.2,url={binance.url}", symbols={"BTCUSDT": 1.0})
    try:
        assert isinstance(feed, LiveFeed) and feed.interval_s == 1.0 and feed.markets == ["BTCUSDT"]
        assert feed.base_url == binance.url and binance.requests == []
    finally:
        feed.close()
    assert make_feed("live:binance", symbols={}).venue == "binance-usdm"
    with pytest.raises(FeedError, match="binance-usdm, bybit, okx, hyperliquid"):
        make_feed("live:nowhere", symbols={})
    with pytest.raises(FeedError, match="unknown option"):
        make_feed("live:okx,speed=3", symbols={})
    with pytest.raises(FeedError, match="live needs a venue"):
        make_feed("live:", symbols={})


def test_without_ccxt_the_live_feed_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ccxt" else real(name, *a))
    with pytest.raises(FeedError, match=r"pip install 'isodesk\[live\]' \(ccxt\)"):
        make_feed("live:binance-usdm", symbols={})
