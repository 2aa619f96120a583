"""SimulatedFeed: deterministic, spaced, bounded catch-up, positive prices, jump rate, speed."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodesk.feeds import Feed, SimulatedFeed
from isodesk.feeds.simulated import base_coin, default_vol_per_sqrt_s

DEMO = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "SOLUSDT": 150.0, "DOGEUSDT": 0.15, "XRPUSDT": 0.6}
T0 = 1_700_000_000.0


def run(feed, nows):
    out = []
    for now in nows:
        out.extend(feed.poll(now))
    return out


def test_is_a_feed_with_the_right_flags():
    feed = SimulatedFeed(DEMO)
    assert isinstance(feed, Feed)
    assert feed.name == "simulated"
    assert feed.clock_from_ticks is False
    assert feed.writes_prices_table is False


def test_first_poll_emits_the_start_prices_at_now():
    feed = SimulatedFeed(DEMO)
    ticks = feed.poll(T0)
    assert [(x.symbol, x.ts, x.price) for x in ticks] == [(s, T0, p) for s, p in DEMO.items()]


def test_same_seed_same_ticks():
    nows = [T0 + 0.1 * i for i in range(400)]
    a = run(SimulatedFeed(DEMO, seed=11), nows)
    b = run(SimulatedFeed(DEMO, seed=11), nows)
    assert len(a) == 5 * 160 + 5 - 5  # steps at 0, 0.25, ..., 39.75 (39.9 is the last now)
    assert a == b


def test_different_seeds_differ():
    nows = [T0 + 0.25 * i for i in range(40)]
    a = run(SimulatedFeed(DEMO, seed=1), nows)
    b = run(SimulatedFeed(DEMO, seed=2), nows)
    assert [x.ts for x in a] == [x.ts for x in b]
    assert [x.price for x in a[5:]] != [x.price for x in b[5:]]
    assert all(x.price != y.price for x, y in zip(a[5:], b[5:], strict=True))


def test_path_does_not_depend_on_poll_cadence_or_on_other_symbols():
    fine = run(SimulatedFeed(DEMO, seed=3, start_ts=T0), [T0 + 0.05 * i for i in range(401)])
    coarse = run(SimulatedFeed(DEMO, seed=3, start_ts=T0), [T0 + 2.0 * i for i in range(11)])
    assert fine == coarse
    alone = run(SimulatedFeed({"SOLUSDT": 150.0}, seed=3, start_ts=T0), [T0 + 10.0, T0 + 20.0])
    assert alone == [x for x in coarse if x.symbol == "SOLUSDT"]


def test_ticks_at_interval_spacing_in_time_order():
    feed = SimulatedFeed({"BTCUSDT": 60000.0, "ETHUSDT": 3000.0}, interval_s=0.5, start_ts=T0)
    ticks = run(feed, [T0 + 0.3, T0 + 0.9, T0 + 1.0, T0 + 3.2])
    btc = [x.ts for x in ticks if x.symbol == "BTCUSDT"]
    assert btc == [T0 + 0.5 * k for k in range(7)]  # 0 .. 3.0
    assert [x.ts for x in ticks] == sorted(x.ts for x in ticks)
    assert feed.poll(T0 + 3.4) == []  # no step due


def test_no_ticks_before_start():
    feed = SimulatedFeed(DEMO, start_ts=T0)
    assert feed.poll(T0 - 1.0) == []
    assert len(feed.poll(T0)) == 5


def test_catch_up_is_bounded_after_a_long_gap():
    feed = SimulatedFeed({"BTCUSDT": 60000.0}, interval_s=0.25, start_ts=T0)
    feed.poll(T0)
    ticks = feed.poll(T0 + 3600.0)  # an hour asleep: 14,400 steps due
    assert len(ticks) == 50
    assert ticks[-1].ts == T0 + 3600.0
    assert np.allclose(np.diff([x.ts for x in ticks]), 0.25)
    assert feed.skipped_steps == 14400 - 50
    # and the next poll continues normally
    assert [x.ts for x in feed.poll(T0 + 3600.5)] == [T0 + 3600.25, T0 + 3600.5]


def test_pause_and_resume_skip_the_gap_without_a_flood():
    feed = SimulatedFeed({"BTCUSDT": 60000.0}, start_ts=T0)
    feed.poll(T0 + 1.0)
    feed.pause()
    assert feed.poll(T0 + 5.0) == []
    feed.resume()
    assert [x.ts for x in feed.poll(T0 + 10.0)] == [T0 + 10.0]


def test_prices_positive_and_finite_over_a_long_fast_run():
    # ten times the demo's jump rate at 100× speed: 100,000 steps (about 29 market days) per symbol
    feed = SimulatedFeed(DEMO, seed=5, start_ts=T0, jump_prob=0.02)
    feed.set_speed(100.0)
    prices = np.array([x.price for x in run(feed, [T0 + 12.5 * k for k in range(2000)])])
    assert len(prices) == 5 * (1 + 50 * 1999)
    assert np.all(np.isfinite(prices))
    assert np.all(prices > 0)
    assert feed.health(T0).rejected == 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), vol=st.floats(0.0, 0.05), jump_prob=st.floats(0.0, 1.0),
       jump_size=st.floats(0.0, 0.3), drift=st.floats(-0.01, 0.01), speed=st.floats(0.01, 100.0))
def test_prices_stay_positive_and_finite_for_any_parameters(seed, vol, jump_prob, jump_size, drift, speed):
    feed = SimulatedFeed({"BTCUSDT": 60000.0, "PEPEUSDT": 1e-5}, seed=seed, vol_per_sqrt_s=vol, jump_prob=jump_prob,
                         jump_size=jump_size, drift=drift, start_ts=0.0)
    feed.set_speed(speed)
    ticks = run(feed, [12.5 * k for k in range(40)])
    health = feed.health(500.0)
    assert health.accepted == len(ticks)
    prices = np.array([x.price for x in ticks])
    assert np.all(np.isfinite(prices)) and np.all(prices > 0)


def test_jumps_happen_at_roughly_the_configured_rate():
    # no diffusion: every move is a jump, of ±jump_size × U(0.5, 1.5) in log price
    feed = SimulatedFeed({"SOLUSDT": 150.0}, seed=9, vol_per_sqrt_s=0.0, jump_prob=0.01, jump_size=0.04,
                         start_ts=0.0)
    prices = np.array([x.price for x in run(feed, [12.5 * k for k in range(1, 401)])])
    moves = np.abs(np.diff(np.log(prices)))
    n_steps = len(moves)
    jumps = moves[moves > 1e-12]
    expected = 0.01 * n_steps  # 200 of 20,000
    assert abs(len(jumps) - expected) < 4 * math.sqrt(expected)
    assert jumps.min() >= 0.02 - 1e-12 and jumps.max() <= 0.06 + 1e-12
    assert abs(jumps.mean() - 0.04) < 0.004


def test_volatility_matches_the_configuration():
    feed = SimulatedFeed({"ETHUSDT": 3000.0}, seed=4, jump_prob=0.0, start_ts=0.0)
    prices = np.array([x.price for x in run(feed, [12.5 * k for k in range(1, 401)])])
    sd_per_sqrt_s = np.diff(np.log(prices)).std() / math.sqrt(0.25)
    assert sd_per_sqrt_s == pytest.approx(0.002, rel=0.03)


def test_family_volatility_defaults():
    assert base_coin("BTCUSDT") == "BTC" and base_coin("ETH-USDT-SWAP") == "ETH" and base_coin("SOL") == "SOL"
    assert default_vol_per_sqrt_s("BTCUSDT") < default_vol_per_sqrt_s("ETHUSDT") < default_vol_per_sqrt_s("DOGEUSDT")
    feed = SimulatedFeed(DEMO, vol_per_sqrt_s={"BTCUSDT": 0.01})
    assert feed.vol_of("BTCUSDT") == 0.01
    assert feed.vol_of("XRPUSDT") == default_vol_per_sqrt_s("XRPUSDT")
    assert SimulatedFeed(DEMO, vol_per_sqrt_s=0.004).vol_of("BTCUSDT") == 0.004


def test_speed_scales_market_movement_not_the_tick_rate():
    def spread(speed):
        feed = SimulatedFeed({"ETHUSDT": 3000.0}, seed=4, jump_prob=0.0, start_ts=0.0)
        feed.set_speed(speed)
        ticks = run(feed, [12.5 * k for k in range(1, 201)])
        return ticks, np.diff(np.log([x.price for x in ticks])).std()

    slow_ticks, slow = spread(1.0)
    fast_ticks, fast = spread(16.0)
    assert [x.ts for x in fast_ticks] == [x.ts for x in slow_ticks]  # same wall-clock tick times
    assert fast / slow == pytest.approx(4.0, rel=0.05)  # √16: 16× the market time per step


def test_speed_advances_market_time():
    feed = SimulatedFeed(DEMO, start_ts=0.0)
    feed.poll(10.0)
    assert feed.market_time_s == pytest.approx(10.25)  # 41 steps of 0.25 s
    assert feed.set_speed(4.0) == 4.0
    feed.poll(20.0)
    assert feed.market_time_s == pytest.approx(10.25 + 40 * 0.25 * 4)
    assert feed.set_speed(1e6) == 100.0  # clamped
    with pytest.raises(ValueError):
        feed.set_speed(0.0)


def test_set_symbols_adds_new_symbols_and_keeps_existing_paths():
    feed = SimulatedFeed({"BTCUSDT": 60000.0}, start_ts=0.0, seed=2)
    reference = SimulatedFeed({"BTCUSDT": 60000.0}, start_ts=0.0, seed=2)
    first = feed.poll(1.0)
    assert first == reference.poll(1.0)
    feed.set_symbols({"BTCUSDT": 1.0, "ETHUSDT": 3000.0})
    ticks = feed.poll(2.0)
    assert [x for x in ticks if x.symbol == "BTCUSDT"] == reference.poll(2.0)
    eth = [x for x in ticks if x.symbol == "ETHUSDT"]
    assert eth[0].price == 3000.0 and eth[0].ts == 1.25
    assert feed.symbols == ["BTCUSDT", "ETHUSDT"]


def test_health_reports_counts_and_age():
    feed = SimulatedFeed(DEMO, start_ts=T0)
    health = feed.health(T0)
    assert (health.source, health.connected, health.last_tick_ts, health.accepted) == ("simulated", True, None, 0)
    feed.poll(T0 + 1.0)
    health = feed.health(T0 + 3.5)
    assert health.accepted == 25
    assert health.last_tick_ts == T0 + 1.0
    assert health.last_tick_age_s == pytest.approx(2.5)
    assert health.finished is False and health.last_error is None
    feed.close()
    assert feed.poll(T0 + 10.0) == []
    assert feed.health(T0 + 10.0).connected is False


@pytest.mark.parametrize("kwargs", [{"interval_s": 0.0}, {"jump_prob": 1.5}, {"jump_size": -0.1},
                                    {"vol_per_sqrt_s": -0.01}, {"vol_per_sqrt_s": {"BTCUSDT": math.nan}}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        SimulatedFeed(DEMO, **kwargs)


def test_bad_start_price_is_refused():
    with pytest.raises(ValueError, match="BTCUSDT"):
        SimulatedFeed({"BTCUSDT": 0.0})


def test_a_walk_that_really_jumps_beyond_the_band_is_taken_not_frozen():
    # jumps of 45-135 % in log price: most are beyond the guard's 50 % band, and the walk stays there
    feed = SimulatedFeed({"SOLUSDT": 150.0}, seed=9, vol_per_sqrt_s=0.0, jump_prob=0.05, jump_size=0.9, start_ts=0.0)
    ticks = run(feed, [12.5 * k for k in range(1, 41)])
    prices = np.array([x.price for x in ticks])
    big = np.abs(prices[1:] / prices[:-1] - 1) > 0.5
    assert big.sum() >= 10  # the path handed out holds the big moves
    health = feed.health(500.0)
    # the old guard froze the market at the first big jump (every later tick a "jump"); now only a jump
    # reversed by the very next one (a spike, as far as any guard can tell) is rejected
    assert set(health.rejected_by_reason) <= {"jump"} and health.rejected <= 10
    assert health.accepted == len(ticks) >= 1990


def test_the_walk_stays_within_the_price_bounds():
    from isodesk.margin.bounds import price_in_bounds

    feed = SimulatedFeed({"PEPEUSDT": 1e-11}, seed=1, vol_per_sqrt_s=0.0, jump_prob=0.0, drift=-1.0,
                         start_ts=0.0)  # -22 % a step: through 10^-12 within 10 steps
    ticks = run(feed, [12.5 * k for k in range(1, 9)])
    assert len(ticks) == 400 and all(price_in_bounds(x.price) for x in ticks)
    assert min(x.price for x in ticks) == pytest.approx(1e-12, rel=1e-6)


# -- each venue's own mark around a common price --------------------------------------------------------

VENUES = {"BTCUSDT": ["binance-usdm", "hyperliquid"], "ETHUSDT": ["bybit"]}


def _series(ticks):
    out: dict[tuple, list[float]] = {}
    for x in ticks:
        out.setdefault((x.venue, x.symbol), []).append(x.price)
    return out


def test_each_venue_starts_at_the_start_price_and_the_others_keep_reference_ticks():
    feed = SimulatedFeed({"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "SOLUSDT": 150.0}, venues=VENUES, start_ts=T0)
    first = feed.poll(T0)
    assert [(x.venue, x.symbol, x.price) for x in first] == [
        ("binance-usdm", "BTCUSDT", 60000.0), ("hyperliquid", "BTCUSDT", 60000.0), ("bybit", "ETHUSDT", 3000.0),
        (None, "SOLUSDT", 150.0)]
    later = feed.poll(T0 + 5.0)
    btc = _series(later)
    assert btc[("binance-usdm", "BTCUSDT")] != btc[("hyperliquid", "BTCUSDT")]  # a basis of their own


def test_the_basis_is_a_few_bps_mean_reverting_and_the_common_path_is_untouched():
    """Two venues' marks of one market differ by the difference of two independent bases, each of
    stationary deviation 3 bps reverting with a 60 s half-life: the log ratio has deviation
    3·√2 = 4.24 bps and its autocorrelation at a lag of one half-life is 0.5."""
    kw = {"seed": 9, "start_ts": T0, "interval_s": 1.0, "max_catch_up": 100_000}
    feed = SimulatedFeed({"BTCUSDT": 60000.0}, venues={"BTCUSDT": ["binance-usdm", "hyperliquid"]}, **kw)
    ticks = feed.poll(T0 + 40_000)
    s = _series(ticks)
    a, b = np.array(s[("binance-usdm", "BTCUSDT")]), np.array(s[("hyperliquid", "BTCUSDT")])
    gap = np.log(b / a) * 1e4  # bps
    assert len(gap) == 40_001 and gap[0] == 0.0
    assert 3.4 < gap.std() < 5.1 and abs(gap.mean()) < 1.5
    lag = 60
    corr = np.corrcoef(gap[:-lag], gap[lag:])[0, 1]
    assert 0.3 < corr < 0.7
    common = SimulatedFeed({"BTCUSDT": 60000.0}, **kw).poll(T0 + 40_000)
    ratio = np.log(a / np.array([x.price for x in common])) * 1e4  # each venue = common × e^basis
    assert abs(ratio).max() < 25 and 2.4 < ratio.std() < 3.6


def test_venue_marks_are_seeded_and_do_not_change_when_a_venue_is_added():
    nows = [T0 + 0.25 * i for i in range(200)]
    a = run(SimulatedFeed(DEMO, seed=4, venues=VENUES, start_ts=T0), nows)
    b = run(SimulatedFeed(DEMO, seed=4, venues=VENUES, start_ts=T0), nows)
    assert a == b
    more = run(SimulatedFeed(DEMO, seed=4, venues={**VENUES, "BTCUSDT": [*VENUES["BTCUSDT"], "okx"]}, start_ts=T0),
               nows)
    assert [x for x in more if x.venue != "okx"] == a
    other_seed = _series(run(SimulatedFeed(DEMO, seed=5, venues=VENUES, start_ts=T0), nows))
    assert other_seed[("hyperliquid", "BTCUSDT")] != _series(a)[("hyperliquid", "BTCUSDT")]


def test_follow_book_adds_markets_and_venues_only_in_venue_mode():
    feed = SimulatedFeed({"BTCUSDT": 60000.0}, venues={}, start_ts=T0)
    feed.follow_book({("hyperliquid", "BTCUSDT"): 1.0, ("okx", "SOLUSDT"): 150.0})
    assert feed.symbols == ["BTCUSDT", "SOLUSDT"] and feed.venues_of("SOLUSDT") == ["okx"]
    assert [(x.venue, x.symbol, x.price) for x in feed.poll(T0)] == [("hyperliquid", "BTCUSDT", 60000.0),
                                                                     ("okx", "SOLUSDT", 150.0)]
    plain = SimulatedFeed({"BTCUSDT": 60000.0}, start_ts=T0)
    plain.follow_book({("hyperliquid", "BTCUSDT"): 1.0, ("okx", "SOLUSDT"): 150.0})
    assert [(x.venue, x.symbol) for x in plain.poll(T0)] == [(None, "BTCUSDT"), (None, "SOLUSDT")]
    with pytest.raises(ValueError, match="basis_bps"):
        SimulatedFeed({"BTCUSDT": 1.0}, basis_bps=-1)
