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


def test_jump_beyond_the_band_is_rejected_both_ways():
    guard = TickGuard(band=0.5)
    accepted = guard.check([t("BTCUSDT", 1.0, 60000.0), t("BTCUSDT", 2.0, 90000.01),  # +50.00002 %
                            t("BTCUSDT", 3.0, 29999.0), t("BTCUSDT", 4.0, 90000.0), t("BTCUSDT", 5.0, 30000.0)])
    assert [x.price for x in accepted] == [60000.0, 90000.0]  # exactly +50 % is inside the band
    # 30000 is -66.7 % from the last accepted 90000: rejected
    assert dict(guard.rejected_by_reason) == {"jump": 3}
    assert guard.accepted == 2
    assert guard.rejected == 3


def test_jump_is_measured_against_the_last_accepted_price_not_the_last_seen():
    guard = TickGuard(band=0.1)
    guard.check([t("ETHUSDT", 1.0, 3000.0)])
    # 2000 is rejected (-33 %); 2900 is -3.3 % from the accepted 3000 (but +45 % from the rejected 2000)
    accepted = guard.check([t("ETHUSDT", 2.0, 2000.0), t("ETHUSDT", 3.0, 2900.0)])
    assert [x.price for x in accepted] == [2900.0]
    assert guard.last_accepted("ETHUSDT") == (3.0, 2900.0)
    # and 3250 is +12 % from 2900: rejected, though only +8 % from the first price
    assert guard.check([t("ETHUSDT", 4.0, 3250.0)]) == []
    assert dict(guard.rejected_by_reason) == {"jump": 2}


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


def test_confirm_after_re_anchors_a_real_gap_but_not_a_single_outlier():
    guard = TickGuard(band=0.5, confirm_after=2)
    guard.check([t("LUNAUSDT", 0.0, 80.0)])
    # one outlier then back to normal: the outlier stays rejected
    assert [x.price for x in guard.check([t("LUNAUSDT", 1.0, 1.0), t("LUNAUSDT", 2.0, 79.0)])] == [79.0]
    # a real collapse: two consistent rejections, the third consistent price is accepted
    got = guard.check([t("LUNAUSDT", 3.0, 5.0), t("LUNAUSDT", 4.0, 4.8), t("LUNAUSDT", 5.0, 4.6)])
    assert [x.price for x in got] == [4.6]
    assert guard.rejected_by_reason["jump"] == 3


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
