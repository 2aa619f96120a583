"""Funding quotes of the feeds: simulated (deterministic per seed), live through the real ccxt client
from a local 127.0.0.1 server, replay's ``funding_rate`` column, a group, and a feed without funding."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from isodesk.feeds import FeedGroup, ReplayFeed, SimulatedFeed
from isodesk.feeds.base import FundingQuote, funding_quotes
from isodesk.feeds.live import LiveFeed, parse_funding_rates
from isodesk.feeds.sqlite_feed import SqlitePricesFeed
from tests.desk.fakes import ManualClock
from tests.venues.server import VenueServer, recorded

BN, HL = "binance-usdm", "hyperliquid"
T0 = 1_796_180_051.0  # 2026-12-02 02:54:11 UTC
H = 3600.0


def _sim(seed: int = 7, **kw: object) -> SimulatedFeed:
    return SimulatedFeed({"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}, seed=seed,
                         venues={"BTCUSDT": [BN, HL], "ETHUSDT": ["okx"]}, **kw)  # type: ignore[arg-type]


def test_simulated_funding_is_deterministic_per_seed_and_independent_of_polls() -> None:
    a, b, c = _sim(7), _sim(7), _sim(8)
    qa = a.funding(T0)
    assert qa == b.funding(T0)
    assert [q.rate for q in qa] != [q.rate for q in c.funding(T0)]
    # polls in between, and a quote asked later in the same period, give the same rate for the same time
    for t in np.arange(T0, T0 + 300, 0.25):
        a.poll(float(t))
    assert [(q.key, q.rate, q.next_ts) for q in a.funding(T0 + 300)] == [(q.key, q.rate, q.next_ts) for q in qa]
    # a market added later does not change the others' rates
    d = _sim(7)
    d.follow_book({("bybit", "SOLUSDT"): 150.0})
    assert {q.key: q.rate for q in d.funding(T0)}.items() >= {q.key: q.rate for q in qa}.items()
    assert ("bybit", "SOLUSDT") in {q.key for q in d.funding(T0)}


def test_simulated_funding_times_and_intervals_per_venue() -> None:
    quotes = {q.key: q for q in _sim().funding(T0)}
    assert set(quotes) == {(BN, "BTCUSDT"), (HL, "BTCUSDT"), ("okx", "ETHUSDT")}
    # 02:54:11 UTC: Binance/OKX next at 08:00 UTC (8 h grid), Hyperliquid at 03:00 (hourly)
    assert quotes[(BN, "BTCUSDT")].next_ts == 1_796_198_400.0 and quotes[(BN, "BTCUSDT")].interval_s == 8 * H
    assert quotes[(HL, "BTCUSDT")].next_ts == 1_796_180_400.0 and quotes[(HL, "BTCUSDT")].interval_s == H
    assert all(q.ts == T0 for q in quotes.values())
    # the rate of a funding time is a property of that time: asked at any instant before it, the same
    hl = _sim()
    assert hl.funding_rate_at(HL, "BTCUSDT", 1_796_180_400.0) == quotes[(HL, "BTCUSDT")].rate
    # an override interval puts the venue on its own grid
    fast = _sim(funding_intervals={BN: 60.0})
    q = {q.key: q for q in fast.funding(T0)}[(BN, "BTCUSDT")]
    assert q.interval_s == 60.0 and q.next_ts == (math.floor(T0 / 60) + 1) * 60


def test_simulated_rates_are_scaled_to_the_interval_and_spread_around_the_mean() -> None:
    feed = SimulatedFeed({f"C{i}USDT": 1.0 for i in range(400)}, seed=3,
                         venues={f"C{i}USDT": [BN, HL] for i in range(400)})
    quotes = feed.funding(T0)
    eight = np.array([q.rate for q in quotes if q.venue == BN])
    hourly = np.array([q.rate for q in quotes if q.venue == HL])
    # mean +0.01 %/8 h, spread 0.02 % (m) and 0.01 % (d): sd √(0.02² + 0.01²) % ≈ 0.02236 %
    sd = math.sqrt(0.0002**2 + 0.0001**2)
    assert abs(eight.mean() - 0.0001) < 4 * sd / math.sqrt(400)
    assert abs(eight.std() / sd - 1) < 0.15
    assert abs(hourly.mean() - 0.0001 / 8) < 4 * sd / 8 / math.sqrt(400)
    assert (eight < 0).any() and (eight > 0).any()  # some markets pay shorts


def test_simulated_refuses_bad_funding_settings() -> None:
    with pytest.raises(ValueError, match="funding_mean"):
        _sim(funding_mean=1.0)
    with pytest.raises(ValueError, match="funding interval of binance-usdm"):
        _sim(funding_intervals={BN: 0.0})


def test_a_feed_without_funding_quotes_none(tmp_path) -> None:
    class Old:
        name = "old"

    assert funding_quotes(Old(), T0) == []
    assert funding_quotes(_sim(), T0)  # a feed with the hook


def test_parse_funding_rates_from_ccxts_unified_answer() -> None:
    answer = {"BTC/USDT:USDT": {"fundingRate": 0.0001, "fundingTimestamp": 1_735_718_400_000, "interval": "8h"},
              "ETH/USDT:USDT": {"fundingRate": "x", "fundingTimestamp": None},
              "SOL/USDT:USDT": {"fundingRate": -0.0002, "fundingTimestamp": None, "interval": None}}
    wanted = {"BTCUSDT": "BTC/USDT:USDT", "ETHUSDT": "ETH/USDT:USDT", "SOLUSDT": "SOL/USDT:USDT",
              "XRPUSDT": "XRP/USDT:USDT"}
    quotes, problems = parse_funding_rates(BN, answer, wanted, T0)
    assert quotes == [FundingQuote(BN, "BTCUSDT", 0.0001, 1_735_718_400.0, 8 * H, T0),
                      FundingQuote(BN, "SOLUSDT", -0.0002, 1_796_198_400.0, 8 * H, T0)]  # no time: the 8 h grid
    assert [m for m, _ in problems] == ["ETHUSDT", "XRPUSDT"]
    assert "not a number" in problems[0][1] and "no funding rate" in problems[1][1]


def _wait_for(predicate, timeout: float = 60.0):  # the first ccxt import is slow on a busy machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def binance():
    pytest.importorskip("ccxt")
    server = VenueServer()
    for path, name in {"/fapi/v1/exchangeInfo": "exchangeInfo", "/fapi/v1/premiumIndex": "premiumIndex"}.items():
        server.route("GET", path, recorded(BN, name))
    yield server.start()
    server.stop()


@pytest.fixture
def hyperliquid():
    pytest.importorskip("ccxt")
    server = VenueServer()

    def info(query, body):
        kind = json.loads(body or b"{}").get("type")
        if kind == "metaAndAssetCtxs":
            return 200, recorded(HL, "metaAndAssetCtxs")
        return 422, {"error": f"unexpected {kind}"}

    server.route("POST", "/info", info)
    yield server.start()
    server.stop()


def test_live_binance_funding_through_ccxt_from_a_local_server(binance) -> None:
    clock = ManualClock(1_735_689_600.0)
    feed = LiveFeed(BN, ["BTCUSDT", "ETHUSDT"], base_url=binance.url, interval_s=0.05, clock=clock)
    try:
        quotes = _wait_for(lambda: len(feed.funding(clock())) == 2 and feed.funding(clock()))
    finally:
        feed.close()
    raw = {x["symbol"]: x for x in recorded(BN, "premiumIndex")}
    assert [(q.venue, q.symbol) for q in quotes] == [(BN, "BTCUSDT"), (BN, "ETHUSDT")]
    for q in quotes:
        assert q.rate == float(raw[q.symbol]["lastFundingRate"])
        assert q.next_ts == raw[q.symbol]["nextFundingTime"] / 1000
        assert q.interval_s == 8 * H and q.ts == 1_735_689_600.0


def test_live_hyperliquid_funding_is_hourly(hyperliquid) -> None:
    clock = ManualClock(T0)
    feed = LiveFeed(HL, ["BTCUSDT"], base_url=hyperliquid.url, interval_s=0.05, clock=clock)
    try:
        (quote,) = _wait_for(lambda: feed.funding(clock()))
    finally:
        feed.close()
    meta, ctxs = recorded(HL, "metaAndAssetCtxs")
    rate = next(float(c["funding"]) for a, c in zip(meta["universe"], ctxs, strict=True) if a["name"] == "BTC")
    assert (quote.venue, quote.symbol, quote.rate, quote.interval_s) == (HL, "BTCUSDT", rate, H)
    # ccxt stamps the next hour of the wall clock: a whole hour, within the next hour
    assert quote.next_ts % H == 0 and 0 < quote.next_ts - time.time() <= H


def test_a_group_hands_out_every_members_quotes_and_skips_a_member_without(tmp_path) -> None:
    sim = _sim()
    plain = SqlitePricesFeed.__new__(SqlitePricesFeed)  # no hook: a feed without funding
    group = FeedGroup.__new__(FeedGroup)
    group.members, group._closed = {"sim": sim, "plain": plain}, False  # type: ignore[dict-item]
    assert {q.key for q in group.funding(T0)} == {q.key for q in sim.funding(T0)}


def test_replay_funding_rate_column(tmp_path) -> None:
    path = tmp_path / "path.csv"
    path.write_text("ts,venue,symbol,price,funding_rate\n"
                    f"{T0},okx,BTCUSDT,60000,0.0001\n"
                    f"{T0 + 1},,ETHUSDT,3000,-0.0003\n"
                    f"{T0 + 2},okx,BTCUSDT,60010,\n"
                    f"{T0 + 3},okx,BTCUSDT,60020,0.9\n"
                    f"{T0 + 4},okx,BTCUSDT,60030,0.0002\n", encoding="utf-8")
    feed = ReplayFeed(path)
    assert [(r.line, r.reason) for r in feed.bad_rows] == [(5, "malformed")]
    assert "funding_rate" in feed.bad_rows[0].detail
    assert feed.funding(T0) == []  # nothing played yet
    feed.poll(T0)
    assert feed.funding(T0) == [FundingQuote("okx", "BTCUSDT", 0.0001, 1_796_198_400.0, 8 * H, T0)]
    feed.poll(T0 + 1)
    feed.poll(T0 + 2)  # an empty cell keeps the rate
    quotes = {q.key: q.rate for q in feed.funding(T0 + 2)}
    assert quotes == {("okx", "BTCUSDT"): 0.0001, ("", "ETHUSDT"): -0.0003}
    while not feed.finished:
        feed.poll(T0 + 10)
    assert {q.key: q.rate for q in feed.funding(T0 + 4)}[("okx", "BTCUSDT")] == 0.0002
    feed.rewind()
    assert feed.funding(T0) == []


def test_replay_without_the_column_has_no_funding_and_rows_in_code_may_carry_it() -> None:
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60_000.0), (T0 + 1, "BTCUSDT", 60_001.0)])
    feed.poll(T0)
    assert feed.funding(T0) == []
    feed = ReplayFeed.from_rows([(T0, HL, "BTCUSDT", 60_000.0, 0.00002)])
    feed.poll(T0)
    assert feed.funding(T0) == [FundingQuote(HL, "BTCUSDT", 0.00002, 1_796_180_400.0, H, T0)]
