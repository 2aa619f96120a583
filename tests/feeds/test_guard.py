"""TickGuard: each reason rejected and counted, good ticks pass, jumps against the last accepted price."""

import logging
import math

import pytest

from isodesk.feeds import Tick, TickGuard


def t(symbol, ts, price):
    return Tick(symbol=symbol, ts=ts, price=price)


def test_good_ticks_pass_in_order_and_are_counted():
    guard = TickGuard()
    ticks = [t("BTCUSDT", 1.0, 60000.0), t("ETHUSDT", 1.0, 3000.0), t("BTCUSDT", 2.0, 60150.5)]
    assert guard.check(ticks) == ticks
    assert guard.accepted == 3
    assert guard.rejected == 0
    assert dict(guard.rejected_by_reason) == {}
    assert guard.last_accepted("BTCUSDT") == (2.0, 60150.5)
    assert guard.last_tick_ts == 2.0


@pytest.mark.parametrize("price", [math.nan, math.inf, -math.inf])
def test_non_finite_price_is_rejected(price):
    guard = TickGuard()
    assert guard.check([t("BTCUSDT", 1.0, price)]) == []
    assert dict(guard.rejected_by_reason) == {"not_finite": 1}


def test_non_finite_timestamp_is_rejected():
    guard = TickGuard()
    assert guard.check([t("BTCUSDT", math.nan, 60000.0)]) == []
    assert dict(guard.rejected_by_reason) == {"not_finite": 1}


@pytest.mark.parametrize("price", [0.0, -1.0, -60000.0])
def test_non_positive_price_is_rejected(price):
    guard = TickGuard()
    assert guard.check([t("BTCUSDT", 1.0, price)]) == []
    assert dict(guard.rejected_by_reason) == {"non_positive": 1}


def test_jump_beyond_the_band_is_held_then_settled_by_the_next_price_both_ways():
    guard = TickGuard(band=0.5)
    accepted = guard.check([t("BTCUSDT", 1.0, 60000.0), t("BTCUSDT", 2.0, 90000.01),  # +50.00002 %: held
                            t("BTCUSDT", 3.0, 29999.0),  # beyond the band the other way: 90000.01 was a spike
                            t("BTCUSDT", 4.0, 90000.0),  # back within +50 %: 29999 was a spike too
                            t("BTCUSDT", 5.0, 30000.0)])  # -66.7 % from 90000: held
    assert [x.price for x in accepted] == [60000.0, 90000.0]  # exactly +50 % is inside the band
    assert dict(guard.rejected_by_reason) == {"jump": 2}
    assert guard.held == (t("BTCUSDT", 5.0, 30000.0),)
    assert guard.accepted == 2 and guard.rejected == 2
    assert guard.last_accepted("BTCUSDT") == (4.0, 90000.0)


def test_jump_is_measured_against_the_last_accepted_price_not_the_last_seen():
    guard = TickGuard(band=0.1)
    guard.check([t("ETHUSDT", 1.0, 3000.0)])
    # 2000 is held (-33 %); 2900 is -3.3 % from the accepted 3000 (but +45 % from the held 2000): the spike goes
    accepted = guard.check([t("ETHUSDT", 2.0, 2000.0), t("ETHUSDT", 3.0, 2900.0)])
    assert [x.price for x in accepted] == [2900.0]
    assert guard.last_accepted("ETHUSDT") == (3.0, 2900.0)
    # and 3250 is +12 % from 2900: held, though only +8 % from the first price
    assert guard.check([t("ETHUSDT", 4.0, 3250.0)]) == []
    assert guard.held == (t("ETHUSDT", 4.0, 3250.0),)
    assert dict(guard.rejected_by_reason) == {"jump": 1}


def test_jump_band_is_per_symbol():
    guard = TickGuard(band=0.5)
    assert len(guard.check([t("BTCUSDT", 1.0, 60000.0), t("DOGEUSDT", 1.0, 0.15)])) == 2
    # DOGE at 0.2 is +33 %, fine; nothing to do with BTC's price
    assert len(guard.check([t("DOGEUSDT", 2.0, 0.2)])) == 1


def test_time_backwards_is_rejected_per_symbol_equal_time_accepted():
    guard = TickGuard()
    guard.check([t("BTCUSDT", 100.0, 60000.0), t("ETHUSDT", 50.0, 3000.0)])
    accepted = guard.check([t("BTCUSDT", 99.999, 60010.0),   # older than BTC's last: rejected
                            t("BTCUSDT", 100.0, 60020.0),    # same instant: accepted
                            t("ETHUSDT", 60.0, 3001.0)])     # older than BTC's, newer than ETH's: accepted
    assert [(x.symbol, x.price) for x in accepted] == [("BTCUSDT", 60020.0), ("ETHUSDT", 3001.0)]
    assert dict(guard.rejected_by_reason) == {"time_backwards": 1}


def test_unknown_symbol_only_with_an_allow_list():
    guard = TickGuard(symbols=["BTCUSDT"])
    assert guard.check([t("BTCUSDT", 1.0, 60000.0), t("PEPEUSDT", 1.0, 0.00001)]) == [t("BTCUSDT", 1.0, 60000.0)]
    assert dict(guard.rejected_by_reason) == {"unknown_symbol": 1}
    assert TickGuard().check([t("PEPEUSDT", 1.0, 0.00001)]) == [t("PEPEUSDT", 1.0, 0.00001)]


def test_every_reason_counted_together():
    guard = TickGuard(band=0.5, symbols=["BTCUSDT"])
    guard.check([
        t("BTCUSDT", 10.0, 60000.0),  # accepted
        t("BTCUSDT", 11.0, math.nan),  # not_finite
        t("BTCUSDT", 11.0, 0.0),  # non_positive
        t("BTCUSDT", 11.0, 100000.0),  # jump
        t("BTCUSDT", 9.0, 60001.0),  # time_backwards
        t("XRPUSDT", 11.0, 0.6),  # unknown_symbol
        t("BTCUSDT", 12.0, 59000.0),  # accepted
    ])
    assert guard.accepted == 2
    assert guard.rejected == 5
    assert dict(guard.rejected_by_reason) == {"not_finite": 1, "non_positive": 1, "jump": 1,
                                              "time_backwards": 1, "unknown_symbol": 1}


def test_counts_handed_out_are_a_read_only_copy():
    guard = TickGuard()
    guard.check([t("BTCUSDT", 1.0, -1.0)])
    counts = guard.rejected_by_reason
    with pytest.raises(TypeError):
        counts["jump"] = 3  # type: ignore[index]
    guard.check([t("BTCUSDT", 1.0, -1.0)])
    assert counts["non_positive"] == 1
    assert guard.rejected_by_reason["non_positive"] == 2


def test_rejections_are_logged_at_debug_with_the_reason(caplog):
    guard = TickGuard(feed_name="replay:x.csv")
    with caplog.at_level(logging.DEBUG, logger="isodesk.feed"):
        guard.check([t("BTCUSDT", 1.0, -5.0)])
    [record] = [r for r in caplog.records if r.name == "isodesk.feed"]
    assert record.levelno == logging.DEBUG
    assert "non_positive" in record.getMessage()
    assert "replay:x.csv" in record.getMessage()


def test_bad_band_is_refused():
    with pytest.raises(ValueError, match="band"):
        TickGuard(band=0.0)


def test_feed_health_is_immutable_and_serialisable():
    import copy
    import dataclasses
    import json
    import pickle

    from isodesk.feeds import FeedHealth

    health = FeedHealth(source="simulated", connected=True, last_tick_ts=1.0, last_tick_age_s=0.5, accepted=3,
                        rejected=2, rejected_by_reason={"jump": 2}, last_error=None, finished=False)
    with pytest.raises(TypeError):
        health.rejected_by_reason["jump"] = 0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        health.accepted = 4  # type: ignore[misc]
    assert json.loads(json.dumps(dataclasses.asdict(health)))["rejected_by_reason"] == {"jump": 2}
    assert copy.deepcopy(health) == health
    assert pickle.loads(pickle.dumps(health)) == health


# -- issue 10: bad prices never act, real crashes always do ---------------------------------------------

T0 = 1_717_200_000.0  # 2024-06-01T00:00:00Z


@pytest.mark.parametrize(("price", "reason"), [
    (0.0, "non_positive"), (-1.0, "non_positive"), (math.inf, "not_finite"), (math.nan, "not_finite"),
    (1e-300, "out_of_bounds"), (1e300, "out_of_bounds"), (9.9e-13, "out_of_bounds"), (1.01e12, "out_of_bounds"),
])
def test_prices_outside_the_bounds_are_refused_and_never_become_the_reference(price, reason):
    guard = TickGuard()
    got = guard.check([t("BTCUSDT", T0, 60000.0), t("BTCUSDT", T0 + 1, price), t("BTCUSDT", T0 + 2, 60010.0)])
    assert [x.price for x in got] == [60000.0, 60010.0]
    assert dict(guard.rejected_by_reason) == {reason: 1}
    assert guard.held == ()


def test_the_price_bounds_are_inclusive():
    guard = TickGuard()
    assert len(guard.check([t("PEPEUSDT", T0, 1e-12), t("BIGUSDT", T0, 1e12)])) == 2


def test_a_millisecond_timestamp_is_refused_and_does_not_block_the_good_ticks_after_it():
    guard = TickGuard()
    ticks = [t("BTCUSDT", T0, 60000.0),
             t("BTCUSDT", T0 * 1000 + 5000, 59900.0),  # the same instant + 5 s, written in milliseconds
             t("BTCUSDT", T0 + 10, 55000.0), t("BTCUSDT", T0 + 20, 53100.0)]  # -11.5 %: must be seen
    got = guard.check(ticks)
    assert [x.price for x in got] == [60000.0, 55000.0, 53100.0]
    assert dict(guard.rejected_by_reason) == {"ts_milliseconds": 1}
    assert guard.last_accepted("BTCUSDT") == (T0 + 20, 53100.0)
    assert guard.last_tick_ts == T0 + 20


def test_the_millisecond_rule_starts_above_1e11_seconds():
    guard = TickGuard()
    assert len(guard.check([t("AUSDT", 1e11, 1.0)])) == 1  # the year 5138, still seconds
    assert guard.check([t("BUSDT", 1e11 + 1, 1.0)]) == []
    assert dict(guard.rejected_by_reason) == {"ts_milliseconds": 1}


def test_a_future_timestamp_is_refused_per_tick_only_against_a_given_now():
    guard = TickGuard()
    now = T0 + 100
    got = guard.check([t("BTCUSDT", now - 1, 60000.0),
                       t("BTCUSDT", now + 3600, 60100.0),  # an hour ahead of the wall clock
                       t("BTCUSDT", now + 10, 60050.0),  # 10 s of skew is tolerated
                       t("BTCUSDT", now + 10.5, 60060.0)], now=now)
    assert [x.price for x in got] == [60000.0, 60050.0]
    assert dict(guard.rejected_by_reason) == {"future": 2}
    # the next good tick is not blocked by the refused future ones
    assert [x.price for x in guard.check([t("BTCUSDT", now + 11, 60070.0)], now=now + 11)] == [60070.0]
    # without a now (a replay's clock) there is no future rule
    assert len(TickGuard().check([t("BTCUSDT", now + 3600, 60000.0)])) == 1


def test_a_backwards_tick_is_refused_and_never_blocks_the_next_good_one():
    guard = TickGuard()
    got = guard.check([t("BTCUSDT", T0 + 10, 60000.0), t("BTCUSDT", T0 + 5, 60010.0), t("BTCUSDT", T0 + 11, 60020.0)])
    assert [x.price for x in got] == [60000.0, 60020.0]
    assert dict(guard.rejected_by_reason) == {"time_backwards": 1}


def test_a_lone_spike_the_next_price_contradicts_is_rejected_and_never_handed_out():
    guard = TickGuard()
    assert guard.check([t("BTCUSDT", T0, 60000.0)]) == [t("BTCUSDT", T0, 60000.0)]
    assert guard.check([t("BTCUSDT", T0 + 1, 6000.0)]) == []  # -90 %: held, not handed out
    assert guard.held == (t("BTCUSDT", T0 + 1, 6000.0),)
    assert guard.rejected == 0  # not decided yet
    assert guard.check([t("BTCUSDT", T0 + 2, 59900.0)]) == [t("BTCUSDT", T0 + 2, 59900.0)]
    assert dict(guard.rejected_by_reason) == {"jump": 1}
    assert guard.held == () and guard.accepted == 2


def test_a_crash_the_next_price_confirms_is_taken_with_the_held_tick_first():
    guard = TickGuard()
    guard.check([t("BTCUSDT", T0, 60000.0)])
    assert guard.check([t("BTCUSDT", T0 + 60, 20400.0), t("ETHUSDT", T0 + 60, 3000.0)]) == [
        t("ETHUSDT", T0 + 60, 3000.0)]  # BTC -66 %: held
    got = guard.check([t("BTCUSDT", T0 + 120, 21000.0)])  # the next BTC price is still down there: real
    assert got == [t("BTCUSDT", T0 + 60, 20400.0), t("BTCUSDT", T0 + 120, 21000.0)]
    assert guard.rejected == 0 and guard.accepted == 4
    assert guard.last_accepted("BTCUSDT") == (T0 + 120, 21000.0)


def test_a_rise_beyond_the_band_that_persists_is_taken_too():
    guard = TickGuard(band=0.5)
    got = guard.check([t("XUSDT", T0, 1.0), t("XUSDT", T0 + 1, 2.5), t("XUSDT", T0 + 2, 2.4)])
    assert [x.price for x in got] == [1.0, 2.5, 2.4]


def test_a_confirming_price_that_is_itself_a_jump_from_the_held_one_is_held_in_turn():
    guard = TickGuard(band=0.5)
    # 100 -> 30 (held) -> 10: the fall persisted, 30 is taken; 10 is -67 % from 30: held until 9 confirms it
    got = guard.check([t("XUSDT", T0, 100.0), t("XUSDT", T0 + 1, 30.0), t("XUSDT", T0 + 2, 10.0)])
    assert [x.price for x in got] == [100.0, 30.0]
    assert guard.held == (t("XUSDT", T0 + 2, 10.0),)
    assert [x.price for x in guard.check([t("XUSDT", T0 + 3, 9.0)])] == [10.0, 9.0]
    assert guard.rejected == 0


def test_a_bad_tick_between_the_spike_and_its_verdict_does_not_decide():
    guard = TickGuard()
    got = guard.check([t("BTCUSDT", T0, 60000.0), t("BTCUSDT", T0 + 1, 20000.0),
                       t("BTCUSDT", T0 + 2, math.nan), t("BTCUSDT", T0 + 0.5, 20100.0),  # older than the held
                       t("BTCUSDT", T0 + 3, 20500.0)])
    assert [x.price for x in got] == [60000.0, 20000.0, 20500.0]
    assert dict(guard.rejected_by_reason) == {"not_finite": 1, "time_backwards": 1}


def test_a_held_tick_with_no_next_price_is_rejected_as_unconfirmed():
    seen = []
    guard = TickGuard(on_reject=lambda tick, reason, detail: seen.append((tick.price, reason, detail)))
    guard.check([t("BTCUSDT", T0, 60000.0), t("BTCUSDT", T0 + 1, 20000.0)])
    assert guard.reject_unconfirmed() == [t("BTCUSDT", T0 + 1, 20000.0)]
    assert guard.held == () and dict(guard.rejected_by_reason) == {"unconfirmed": 1}
    assert seen == [(20000.0, "unconfirmed", "a -66.7% move from 60000 that no later price of BTCUSDT confirmed")]


def test_rejections_are_reported_with_a_reason_and_a_sentence():
    seen = []
    guard = TickGuard(on_reject=lambda tick, reason, detail: seen.append((reason, detail)))
    guard.check([t("BTCUSDT", T0, 60000.0), t("BTCUSDT", T0 * 1000, 60000.0), t("BTCUSDT", T0 + 1, 1e-300),
                 t("BTCUSDT", T0 + 2, 10000.0), t("BTCUSDT", T0 + 3, 60001.0)])
    assert [reason for reason, _ in seen] == ["ts_milliseconds", "out_of_bounds", "jump"]
    assert "milliseconds (it would be 2024-06-01T00:00:00Z)" in seen[0][1]
    assert seen[2][1] == "a -83.3% move from 60000 that the next price 60001 did not confirm"


@pytest.mark.parametrize(("ts", "price", "problem"), [
    (T0, 60000.0, None),
    (T0 + 10, 60000.0, None),  # within the 10 s tolerance
    (T0 + 11, 60000.0, "future"),
    (T0 * 1000, 60000.0, "ts_milliseconds"),
    (math.nan, 60000.0, "not_finite"),
    (T0, 0.0, "non_positive"),
    (T0, -1.0, "non_positive"),
    (T0, math.inf, "not_finite"),
    (T0, math.nan, "not_finite"),
    (T0, 1e-300, "out_of_bounds"),
    (T0, 1e300, "out_of_bounds"),
])
def test_stored_price_problem(ts, price, problem):
    from isodesk.feeds import stored_price_problem

    assert stored_price_problem(ts, price, T0) == problem


def test_stored_price_problem_without_a_wall_clock_has_no_future_rule():
    from isodesk.feeds import stored_price_problem

    assert stored_price_problem(T0 + 86400 * 365, 60000.0, None) is None
    assert stored_price_problem(T0 * 1000, 60000.0, None) == "ts_milliseconds"


# -- series: venue and market ---------------------------------------------------------------------------

def test_order_and_jumps_are_judged_per_series_venue_and_market():
    guard = TickGuard()
    ticks = [Tick("BTCUSDT", 10.0, 60_000.0, "binance-usdm"), Tick("BTCUSDT", 5.0, 60_030.0, "bybit"),
             Tick("BTCUSDT", 4.0, 60_010.0),                      # the reference series: its own first tick
             Tick("BTCUSDT", 11.0, 20_000.0, "bybit"),            # a Bybit -67 % spike: held
             Tick("BTCUSDT", 11.0, 60_020.0, "binance-usdm"),     # Binance goes on, unheld
             Tick("BTCUSDT", 9.0, 60_000.0, "binance-usdm"),      # backwards for Binance only
             Tick("BTCUSDT", 12.0, 60_040.0, "bybit")]            # Bybit's next price: the spike was lone
    out = guard.check(ticks)
    assert [(x.venue, x.ts) for x in out] == [("binance-usdm", 10.0), ("bybit", 5.0), (None, 4.0),
                                              ("binance-usdm", 11.0), ("bybit", 12.0)]
    assert dict(guard.rejected_by_reason) == {"time_backwards": 1, "jump": 1}
    assert guard.last_accepted("BTCUSDT", "bybit") == (12.0, 60_040.0)
    assert guard.last_accepted("BTCUSDT") == (4.0, 60_010.0)


def test_a_venues_basis_is_never_taken_for_a_jump_of_another_venue():
    guard = TickGuard(band=0.001)  # 10 bps
    out = guard.check([Tick("BTCUSDT", 1.0, 60_000.0, "binance-usdm"), Tick("BTCUSDT", 1.0, 60_090.0, "hyperliquid"),
                       Tick("BTCUSDT", 2.0, 60_001.0, "binance-usdm"), Tick("BTCUSDT", 2.0, 60_091.0, "hyperliquid")])
    assert len(out) == 4 and guard.rejected == 0 and guard.held == ()
