"""Funding rules of each venue against hand-worked cases built from the cited pages
(:mod:`isodesk.margin.funding`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodesk.margin.engine import PositionBatch, compute
from isodesk.margin.funding import (
    HOUR_S,
    RULES,
    Settles,
    check_rate,
    funding_flow,
    funding_rule,
    funding_times,
    liq_drift_pct_day,
    next_funding_ts,
    position_value,
    split_payment,
)
from isodesk.margin.position import Position
from isodesk.margin.tiers import TierTable


def _batch(*positions: Position) -> PositionBatch:
    return PositionBatch.from_positions(list(positions))


def test_binance_usdm_value_at_mark_times_rate() -> None:
    # Binance: Funding Amount = Nominal Value × Funding Rate, nominal = mark × size (USDⓈ-M).
    # Long 2 BTC, mark 50,000 → nominal 100,000 USDT; rate +0.01 % → the long pays 10 USDT.
    b = _batch(Position("binance-usdm", "long", 48_000.0, 2.0, 10_000.0, TierTable.single(0.004)))
    value = position_value(b, np.array([50_000.0]))
    assert value[0] == pytest.approx(100_000.0)
    assert funding_flow(b.side, value, np.array([0.0001]))[0] == pytest.approx(-10.0)
    # a negative rate: the long receives
    assert funding_flow(b.side, value, np.array([-0.0001]))[0] == pytest.approx(10.0)


def test_binance_coinm_value_in_coin() -> None:
    # COIN-M: nominal = contract multiplier × contracts ÷ mark. 10 contracts × 100 USD at mark 50,000
    # = 0.02 BTC; a short with rate +0.01 % receives 0.000002 BTC.
    b = _batch(Position("binance-coinm", "short", 50_000.0, 10.0, 0.01, TierTable.single(0.004),
                        contract="inverse", contract_size=100.0))
    value = position_value(b, np.array([50_000.0]))
    assert value[0] == pytest.approx(0.02)
    assert funding_flow(b.side, value, np.array([0.0001]))[0] == pytest.approx(0.000002)


def test_okx_value_face_value_times_contracts_times_mark_and_both_ways_through_margin() -> None:
    # OKX: position value = face value × contracts × mark. 100 contracts of 0.01 BTC (1 BTC) at mark
    # 40,000 → 40,000 USDT; rate 0.01 % → 4 USDT. Since 2024-07-01 isolated: paid from and credited
    # to the position margin.
    value = np.array([0.01 * 100 * 40_000.0, 0.01 * 100 * 40_000.0])
    flow = funding_flow(np.array([1, -1]), value, np.array([0.0001, 0.0001]))
    assert flow == pytest.approx([-4.0, 4.0])
    settles = np.full(2, RULES["okx"].settles)
    to_margin, to_free = split_payment(flow, np.array([1_000.0, 1_000.0]), settles)
    assert to_margin == pytest.approx([-4.0, 4.0])
    assert to_free == pytest.approx([0.0, 0.0])


def test_bybit_available_balance_first_then_position_margin() -> None:
    # Bybit: deducted from the available balance; when it is not sufficient, from the position margin.
    # Short 0.5 BTC at mark 60,000 (30,000 USDT), rate −0.02 % → the short pays 6 USDT.
    flow = funding_flow(np.array([-1, -1, -1]), np.full(3, 30_000.0), np.full(3, -0.0002))
    assert flow == pytest.approx([-6.0] * 3)
    settles = np.full(3, RULES["bybit"].settles)
    to_margin, to_free = split_payment(flow, np.array([10.0, 4.0, 0.0]), settles)
    assert to_free == pytest.approx([-6.0, -4.0, 0.0])
    assert to_margin == pytest.approx([0.0, -2.0, -6.0])
    # received funding goes to the available balance, never to the margin
    to_margin, to_free = split_payment(np.array([6.0]), np.array([0.0]), np.array([Settles.FREE_FIRST]))
    assert (to_margin[0], to_free[0]) == (0.0, pytest.approx(6.0))


def test_hyperliquid_hourly_oracle_example() -> None:
    # Hyperliquid docs' example: 10 BTC long, 8-hour rate 0.95 %, paid hourly at one eighth of it,
    # payment = size × oracle price × rate. Oracle 10,000 → 10 × 10,000 × 0.0095 / 8 = 118.75 USDC an hour.
    rule = funding_rule("hyperliquid")
    assert rule.interval_s == HOUR_S and rule.price == "oracle"
    b = _batch(Position("hyperliquid", "long", 10_000.0, 10.0, 5_000.0, TierTable.single(0.01)))
    flow = funding_flow(b.side, position_value(b, np.array([10_000.0])), np.array([0.0095 / 8]))
    assert flow[0] == pytest.approx(-118.75)
    # conservative settlement: paid from the isolated margin, received into free
    to_margin, to_free = split_payment(np.array([-118.75, 118.75]), np.zeros(2), np.full(2, rule.settles))
    assert to_margin == pytest.approx([-118.75, 0.0]) and to_free == pytest.approx([0.0, 118.75])


def test_unknown_and_unsearched_venues_get_the_conservative_rule() -> None:
    for venue in ("gate", "custom", "no-such-venue", "binance-usdm"):
        assert funding_rule(venue).settles == Settles.ISOLATED_PAY


@settings(max_examples=200, deadline=None)
@given(flow=st.floats(-1e6, 1e6), free=st.floats(0, 1e6), settles=st.sampled_from(list(Settles)))
def test_split_conserves_the_flow_and_never_credits_margin_except_okx(flow: float, free: float,
                                                                       settles: Settles) -> None:
    to_margin, to_free = split_payment(np.array([flow]), np.array([free]), np.array([settles]))
    assert to_margin[0] + to_free[0] == pytest.approx(flow, abs=1e-9)
    if settles != Settles.ISOLATED:
        assert to_margin[0] <= 0.0
    assert to_free[0] >= -free - 1e-9  # never takes more from free than there is


def _binance_long_liq(q: float, e: float, w: float, m: float) -> float:
    # Binance single tier, cum 0: W + Q(P − E) = m·Q·P  →  P = (Q·E − W) / (Q·(1 − m))
    return (q * e - w) / (q * (1 - m))


def test_liq_drift_per_day_hand_worked_binance_long() -> None:
    # Long 1 BTC at 50,000 with 5,000 isolated, MMR 0.5 %. Mark 50,000, rate 0.01 % per 8 h: one day
    # is 3 payments of 5 USDT = 15 USDT out of the isolated margin; the liquidation price rises by
    # 15 / (1 − 0.005) = 15.0754 → +0.030151 % of the mark per day, towards the mark.
    b = _batch(Position("binance-usdm", "long", 50_000.0, 1.0, 5_000.0, TierTable.single(0.005)))
    drift = liq_drift_pct_day(b, np.array([50_000.0]), np.array([0.0001]), 8 * HOUR_S,
                              np.array([Settles.ISOLATED_PAY]))
    expected = (_binance_long_liq(1, 50_000, 4_985, 0.005) - _binance_long_liq(1, 50_000, 5_000, 0.005)) / 50_000 * 100
    assert expected == pytest.approx(15 / 0.995 / 500)
    assert drift[0] == pytest.approx(expected, rel=1e-9)
    # the engine agrees with the hand formula on the current price
    assert compute(b, np.array([50_000.0])).liquidation_price[0] == pytest.approx(
        _binance_long_liq(1, 50_000, 5_000, 0.005))


def test_liq_drift_short_receiving_on_okx_moves_away_and_elsewhere_stays() -> None:
    # Short 1 BTC at 50,000, 5,000 margin, single tier 0.5 %, rate +0.01 %: the short receives
    # 15 USDT a day. OKX credits the margin: the liquidation price (short: P = (W + Q·E)/(Q(1+m)))
    # rises away from the mark: drift = −(15/1.005)/50,000 × 100. Binance (conservative): 0.
    pos = Position("okx", "short", 50_000.0, 1.0, 5_000.0, TierTable.single(0.005))
    b = _batch(pos, Position("binance-usdm", "short", 50_000.0, 1.0, 5_000.0, TierTable.single(0.005)))
    drift = liq_drift_pct_day(b, np.full(2, 50_000.0), np.full(2, 0.0001), 8 * HOUR_S,
                              np.array([Settles.ISOLATED, Settles.ISOLATED_PAY]))
    assert drift[0] == pytest.approx(-(15 / 1.005) / 500, rel=1e-9)
    assert drift[1] == 0.0


def test_liq_drift_nan_without_a_mark() -> None:
    b = _batch(Position("bybit", "long", 50_000.0, 1.0, 5_000.0, TierTable.single(0.005), formula_variant="exact_mm"))
    drift = liq_drift_pct_day(b, np.array([math.nan]), np.array([0.0001]), 8 * HOUR_S, np.array([Settles.FREE_FIRST]))
    assert math.isnan(drift[0])


def test_next_funding_times_on_the_utc_grid() -> None:
    # 2026-12-02 02:54:11 UTC → next 8-hour funding at 08:00 UTC, next hourly at 03:00 UTC
    now = 1_796_180_051.0
    assert next_funding_ts(now, 8 * HOUR_S) == 1_796_198_400.0
    assert next_funding_ts(now, HOUR_S) == 1_796_180_400.0
    assert next_funding_ts(1_796_198_400.0, 8 * HOUR_S) == 1_796_198_400.0 + 8 * HOUR_S  # strictly after
    assert funding_times(now, now + 3 * HOUR_S, HOUR_S) == [1_796_180_400.0 + k * HOUR_S for k in range(3)]
    with pytest.raises(ValueError, match="interval"):
        next_funding_ts(now, 0.0)


def test_check_rate_names_the_place() -> None:
    assert check_rate("0.0001", "okx BTC-USDT") == 0.0001
    with pytest.raises(ValueError, match="okx BTC-USDT: funding rate"):
        check_rate(0.5, "okx BTC-USDT")
    with pytest.raises(ValueError, match="not a number"):
        check_rate("x", "file.csv line 3")


@settings(max_examples=200, deadline=None)
@given(flow=st.decimals(-10**6, 10**6, places=8), free=st.decimals(0, 10**6, places=8),
       settles=st.sampled_from(list(Settles)))
def test_the_exact_split_is_the_array_split(flow, free, settles) -> None:
    from decimal import Decimal

    from isodesk.margin.funding import split_one

    to_margin, to_free = split_one(flow, free, settles)
    assert isinstance(to_margin, Decimal) and to_margin + to_free == flow
    a_margin, a_free = split_payment(np.array([float(flow)]), np.array([float(free)]), np.array([settles]))
    assert float(to_margin) == pytest.approx(a_margin[0], abs=1e-6)
    assert float(to_free) == pytest.approx(a_free[0], abs=1e-6)
