"""The odds of liquidation and funding after a scenario, worked out by hand.

Book (``custom`` venue, one maintenance rate MM = 0.5 % of notional, no close fee, linear): a long
1 BTC @ 60,000 with W = 3,000 and a short 0.5 BTC @ 60,000 with W = 6,000, marks 60,000.

Liquidation prices: long ``W + (L − E) = 0.005·L`` → ``L = (E − W)/0.995 = 57,000/0.995``; short
``W + 0.5·(E − L) = 0.005·0.5·L`` → ``L = (W + 0.5·E)/0.5025 = 36,000/0.5025``.

Odds (driftless log-normal walk, the reflection principle, stdlib ``math.erfc``): with ``d = s·ln(S/L)``
and ``σ`` per √second, ``P(T) = erfc(d / (σ·√(2T)))``, distance ``d / (σ·√86,400)`` daily σ.
Funding: one payment ``−s·Q·S·rate`` at the mark ``S``; a day of them taken from (or put into) the margin
moves ``L`` as the formulas above say.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from isodesk.margin import Position, TierTable
from isodesk.margin.funding import Settles
from isodesk.margin.scenario import Move, Scenario, ScenarioBook, ScenarioError, Shock, evaluate

MM = TierTable.single(0.005)
DAY, HOUR = 86_400.0, 3_600.0
DAILY_VOL = 0.04                       # 4 % a day
SIGMA = DAILY_VOL / math.sqrt(DAY)     # per √second
LIQ_LONG = 57_000.0 / 0.995
LIQ_SHORT = 36_000.0 / 0.5025
RATE, INTERVAL = 0.0001, 8 * HOUR      # 0.01 % per 8 h: longs pay


def pos(label, side, qty, margin):
    return Position(venue="custom", side=side, entry_price=60_000.0, quantity=qty, isolated_margin=margin, tiers=MM,
                    symbol="BTCUSDT", label=label)


@pytest.fixture
def book():
    return ScenarioBook.build([pos("long", "long", 1.0, 3_000.0), pos("short", "short", 0.5, 6_000.0)],
                              marks={"BTCUSDT": 60_000.0}, accounts=["a", "a"], free={"a": 1_000.0})


def hit(d, sigma, horizon_s):
    return math.erfc(d / (sigma * math.sqrt(2.0 * horizon_s)))


def test_odds_after_the_shock_at_the_shocked_mark(book):
    out = evaluate(book.with_sigma([SIGMA, SIGMA]), Scenario(shocks={"BTCUSDT": Shock.pct(-3.0)}))
    iso = out.isolated
    mark = 58_200.0
    assert iso.liquidation_price.tolist() == pytest.approx([LIQ_LONG, LIQ_SHORT], rel=1e-12)
    d_long, d_short = math.log(mark / LIQ_LONG), -math.log(mark / LIQ_SHORT)
    assert iso.sigma_distance.tolist() == pytest.approx([d_long / DAILY_VOL, d_short / DAILY_VOL], rel=1e-9)
    assert iso.liq_prob_24h.tolist() == pytest.approx([hit(d_long, SIGMA, DAY), hit(d_short, SIGMA, DAY)],
                                                      rel=1e-9)
    assert iso.liq_prob_1h.tolist() == pytest.approx([hit(d_long, SIGMA, HOUR), hit(d_short, SIGMA, HOUR)],
                                                     rel=1e-9, abs=1e-300)
    # the long sits 1.6 % above its liquidation price at 4 %/day: a 24 h touch is likely (about 69 %)
    assert 0.6 < iso.liq_prob_24h[0] < 0.75
    assert out.odds_above(20.0) == 1 and out.odds_above(80.0) == 0


def test_a_position_liquidated_whole_has_no_odds_nor_funding(book):
    rated = book.with_sigma([SIGMA, SIGMA]).with_funding([RATE, RATE], [INTERVAL, INTERVAL],
                                                         [Settles.ISOLATED_PAY] * 2)
    out = evaluate(rated, Scenario(shocks={"BTCUSDT": Shock.price(57_000.0)}))  # below the long's 57,286.43
    iso = out.isolated
    assert iso.liquidated.tolist() == [True, False]
    for name in ("sigma_distance", "liq_prob_1h", "liq_prob_24h", "next_funding_amount", "liq_drift_pct_day"):
        values = getattr(iso, name)
        assert math.isnan(values[0]), name
        assert math.isfinite(values[1]), name
    d_short = -math.log(57_000.0 / LIQ_SHORT)
    assert iso.liq_prob_24h[1] == pytest.approx(hit(d_short, SIGMA, DAY), rel=1e-9)


def test_funding_after_the_shock_by_the_venues_settlement_rule(book):
    mark = 58_200.0
    scenario = Scenario(shocks={"BTCUSDT": Shock.price(mark)})
    # conservative rule (paid from the margin, received into free) for the long, OKX's (both ways through
    # the margin) for the short
    out = evaluate(book.with_funding([RATE, RATE], [INTERVAL, INTERVAL], [Settles.ISOLATED_PAY, Settles.ISOLATED]),
                   scenario)
    iso = out.isolated
    # next payment at the shocked mark: long pays 1·58,200·0.0001 = 5.82, short receives 0.5·58,200·0.0001 = 2.91
    assert iso.next_funding_amount.tolist() == pytest.approx([-5.82, 2.91], rel=1e-12)
    # one day = 3 payments. Long: W 3,000 − 17.46 → L' = (60,000 − 2,982.54)/0.995, towards the mark (+).
    long_after = (60_000.0 - (3_000.0 - 3 * 5.82)) / 0.995
    # short: W 6,000 + 8.73 → L' = (6,008.73 + 30,000)/0.5025, away from the mark (−).
    short_after = (6_000.0 + 3 * 2.91 + 30_000.0) / 0.5025
    expected = [(long_after - LIQ_LONG) / mark * 100.0, -(short_after - LIQ_SHORT) / mark * 100.0]
    assert iso.liq_drift_pct_day.tolist() == pytest.approx(expected, rel=1e-9)
    assert expected[0] > 0 > expected[1]
    # the conservative rule never credits the margin: the short's liquidation price does not move
    out = evaluate(book.with_funding([RATE, RATE], [INTERVAL, INTERVAL], [Settles.ISOLATED_PAY] * 2), scenario)
    assert out.isolated.liq_drift_pct_day[1] == 0.0
    # no volatility given: the funding is there, the odds are not
    assert np.isnan(out.isolated.liq_prob_24h).all()


def test_a_path_takes_its_last_step(book):
    scenario = Scenario(path=(Move({"BTCUSDT": Shock.pct(-3.0)}), Move({"BTCUSDT": Shock.pct(2.0)})))
    out = evaluate(book.with_sigma([SIGMA, math.nan]).with_funding([RATE, math.nan], [INTERVAL, math.nan],
                                                                    [Settles.ISOLATED_PAY] * 2), scenario)
    iso = out.isolated
    mark = 61_200.0
    d_long = math.log(mark / LIQ_LONG)
    assert iso.liq_prob_24h[0] == pytest.approx(hit(d_long, SIGMA, DAY), rel=1e-9)
    assert iso.next_funding_amount[0] == pytest.approx(-mark * RATE, rel=1e-12)
    # the short's market has no volatility and no quote here: unknown, not zero
    assert math.isnan(iso.liq_prob_24h[1]) and math.isnan(iso.next_funding_amount[1])
    assert math.isnan(iso.liq_drift_pct_day[1])


def test_a_book_without_volatility_or_quotes_has_none(book):
    out = evaluate(book, Scenario(shocks={"BTCUSDT": Shock.pct(-3.0)}))
    for name in ("sigma_distance", "liq_prob_1h", "liq_prob_24h", "next_funding_amount", "liq_drift_pct_day"):
        assert np.isnan(getattr(out.isolated, name)).all(), name
    assert out.odds_above(0.0) == 0
    doc = json.loads(json.dumps(out.to_dict(), allow_nan=False))
    first = doc["isolated"]["positions"][0]
    assert {first[k] for k in ("sigma_distance", "liq_prob_1h", "liq_prob_24h", "next_funding_amount",
                               "liq_drift_pct_day")} == {None}


def test_to_dict_carries_the_figures(book):
    out = evaluate(book.with_sigma([SIGMA, SIGMA]).with_funding([RATE, RATE], [INTERVAL, INTERVAL],
                                                                [Settles.ISOLATED_PAY] * 2),
                   Scenario(shocks={"BTCUSDT": Shock.price(58_200.0)}))
    long = out.to_dict()["isolated"]["positions"][0]
    d = math.log(58_200.0 / LIQ_LONG)
    assert long["liq_prob_24h"] == pytest.approx(hit(d, SIGMA, DAY), rel=1e-9)
    assert long["liq_prob_1h"] == pytest.approx(hit(d, SIGMA, HOUR), rel=1e-9)
    assert long["sigma_distance"] == pytest.approx(d / DAILY_VOL, rel=1e-9)
    assert long["next_funding_amount"] == pytest.approx(-5.82, rel=1e-12)
    assert long["liq_drift_pct_day"] == pytest.approx((3 * 5.82 / 0.995) / 58_200.0 * 100.0, rel=1e-9)


@pytest.mark.parametrize(("change", "words"), [
    (lambda b: b.with_sigma([-1.0, SIGMA]), "volatility"),
    (lambda b: b.with_sigma([SIGMA]), "sigma needs one entry"),
    (lambda b: b.with_funding([0.5, RATE], [INTERVAL, INTERVAL], [0, 0]), "funding rate"),
    (lambda b: b.with_funding([RATE, RATE], [math.nan, INTERVAL], [0, 0]), "funding interval"),
    (lambda b: b.with_funding([RATE, RATE], [INTERVAL, INTERVAL], [0, 7]), "funding_settles"),
])
def test_bad_volatility_or_funding_is_refused_naming_it(book, change, words):
    with pytest.raises(ScenarioError, match=words):
        change(book)
