"""The odds of liquidation: erfc against the standard library, the EWMA by hand, the barrier-hit
probability by hand and against a Monte-Carlo of the same driftless log-normal walk."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isodesk.margin.odds import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    EwmaVariance,
    book_odds,
    erfc,
    ewma_variance,
    hit_probability,
    log_distance,
    normal_cdf,
    sigma_distance,
)


def test_erfc_matches_math_erfc_over_a_grid():
    x = np.linspace(-8.0, 26.0, 170_001)
    got = erfc(x)
    want = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(got - want)) < 1e-15
    positive = want > 1e-300
    assert np.max(np.abs(got[positive] - want[positive]) / want[positive]) < 1e-13


def test_erfc_edges():
    got = erfc(np.array([np.nan, np.inf, -np.inf, 0.0, 40.0, -40.0]))
    assert math.isnan(got[0])
    assert got[1:].tolist() == [0.0, 2.0, 1.0, 0.0, 2.0]


def test_normal_cdf_hand_values():
    # Φ(1.959963984540054) = 0.975, Φ(0) = 0.5, Φ(−1) = 0.15865525393145707 (tables)
    got = normal_cdf(np.array([1.959963984540054, 0.0, -1.0]))
    assert got == pytest.approx([0.975, 0.5, 0.15865525393145707], abs=1e-15)


def test_hit_probability_hand_worked():
    # a long at mark 100 with liquidation 90: d = ln(100/90) = 0.10536; σ = 0.8 per √day
    sigma = 0.8 / math.sqrt(SECONDS_PER_DAY)
    d = log_distance(np.array([100.0]), np.array([90.0]), np.array([1]))
    assert d[0] == pytest.approx(math.log(100 / 90))
    p = hit_probability(d, np.array([sigma]), SECONDS_PER_DAY)
    # 2·Φ(−0.10536/0.8) = 2·Φ(−0.131700) = erfc(0.131700/√2)
    assert p[0] == pytest.approx(math.erfc(math.log(100 / 90) / 0.8 / math.sqrt(2)), rel=1e-14)
    assert p[0] == pytest.approx(0.8952, abs=1e-4)
    # a short at 100 with liquidation 110 is the same walk upward: d = ln(110/100)
    d_short = log_distance(np.array([100.0]), np.array([110.0]), np.array([-1]))
    assert d_short[0] == pytest.approx(math.log(1.1))
    # within one hour √T is √24 times smaller
    p1 = hit_probability(d, np.array([sigma]), SECONDS_PER_HOUR)
    assert p1[0] == pytest.approx(math.erfc(math.log(100 / 90) / (0.8 / math.sqrt(24)) / math.sqrt(2)), rel=1e-13)
    assert sigma_distance(d, np.array([sigma]), SECONDS_PER_DAY)[0] == pytest.approx(math.log(100 / 90) / 0.8)


def test_hit_probability_edges():
    d = np.array([-0.01, 0.0, 0.05, np.nan, 0.05, 0.05])
    s = np.array([1e-3, 1e-3, 0.0, 1e-3, np.nan, 1e-3])
    none = np.array([False, False, False, True, False, False])
    p = hit_probability(d, s, 3600.0, none)
    assert p[0] == 1.0 and p[1] == 1.0      # at or past the liquidation price
    assert p[2] == 0.0                      # no volatility, some distance: never
    assert p[3] == 0.0                      # no liquidation price at all
    assert math.isnan(p[4])                 # unknown volatility
    assert 0.0 < p[5] < 1.0
    with pytest.raises(ValueError, match="horizon_s"):
        hit_probability(d, s, 0.0)


def test_book_odds_no_volatility_is_nan_and_no_liquidation_price_is_zero():
    odds = book_odds(np.array([100.0, 100.0, 100.0]), np.array([90.0, np.nan, 90.0]), np.array([1, 1, 1]),
                     np.array([np.nan, 1e-4, 1e-4]))
    assert math.isnan(odds.liq_prob_24h[0]) and math.isnan(odds.sigma_distance[0])
    assert odds.liq_prob_24h[1] == 0.0 and odds.liq_prob_1h[1] == 0.0
    assert odds.liq_prob_1h[2] < odds.liq_prob_24h[2]


@pytest.mark.parametrize(("liq", "side", "sigma_day", "horizon"), [
    (90.0, 1, 0.5, SECONDS_PER_DAY),     # p ≈ 0.83
    (80.0, 1, 0.1, SECONDS_PER_DAY),     # p ≈ 0.025: a tail
    (104.0, -1, 0.6, SECONDS_PER_HOUR),  # p ≈ 0.26
])
def test_hit_probability_matches_a_monte_carlo_of_the_walk(liq, side, sigma_day, horizon):
    """Simulate ln S on a fine grid (n steps), with the Broadie–Glasserman–Kou continuity correction
    for the discrete monitoring (Math. Finance 7 (1997) 325–349: a barrier watched every Δt acts as
    the continuous barrier moved away by β·σ·√Δt, β = −ζ(1/2)/√(2π) ≈ 0.5826), so the discretely
    watched barrier moved *towards* the start by β·σ·√Δt estimates the continuous probability.
    The formula must lie within 4 standard errors of the estimate."""
    rng = np.random.default_rng(20261202)
    paths, steps = 40_000, 1_000
    sigma = sigma_day / math.sqrt(SECONDS_PER_DAY)       # per √second
    dt = horizon / steps
    barrier = side * math.log(100.0 / liq)                # distance in log price, > 0
    shifted = barrier - 0.5826 * sigma * math.sqrt(dt)
    walk = np.zeros(paths)
    worst = np.zeros(paths)
    for _ in range(steps):
        walk += rng.standard_normal(paths) * sigma * math.sqrt(dt)
        np.maximum(worst, -side * walk, out=worst)       # the move towards the liquidation price
    hit = worst >= shifted
    estimate = hit.mean()
    se = math.sqrt(estimate * (1 - estimate) / paths)
    formula = hit_probability(log_distance(np.array([100.0]), np.array([liq]), np.array([side])),
                              np.array([sigma]), horizon)[0]
    assert abs(estimate - formula) <= 4 * se, (estimate, formula, se)


def test_ewma_hand_worked_irregular_ticks():
    # half-life 60 s. Ticks: t=0 P=100; t=30 P=101; t=90 P=100.
    h = 60.0
    r1, dt1 = math.log(1.01), 30.0
    r2, dt2 = math.log(100 / 101), 60.0
    a1 = 1 - 2 ** (-dt1 / h)
    a2 = 1 - 2 ** (-dt2 / h)
    s = a1 * r1 * r1 / dt1
    w = a1
    s = (1 - a2) * s + a2 * r2 * r2 / dt2
    w = (1 - a2) * w + a2
    got = ewma_variance(np.array([0.0, 30.0, 90.0]), np.array([100.0, 101.0, 100.0]), h)
    assert got == pytest.approx(s / w, rel=1e-14)
    assert math.isnan(ewma_variance(np.array([0.0]), np.array([100.0]), h))


def test_ewma_recovers_the_volatility_of_a_simulated_walk_at_any_tick_spacing():
    rng = np.random.default_rng(7)
    sigma = 2e-4                                          # per √second
    gaps = rng.exponential(5.0, 20_000)                   # irregular: mean 5 s
    ts = np.cumsum(gaps)
    prices = 100.0 * np.exp(np.cumsum(rng.standard_normal(gaps.size) * sigma * np.sqrt(gaps)))
    est = ewma_variance(ts, prices, half_life_s=3600.0 * 24)
    # the effective sample over ~1.4 days of 5-s ticks is ~25,000 returns: a few % of sampling error
    assert math.sqrt(est) == pytest.approx(sigma, rel=0.05)


def test_ewma_batches_equal_tick_by_tick_and_ignore_bad_ticks():
    rng = np.random.default_rng(3)
    n = 300
    index = rng.integers(0, 3, n)
    ts = np.sort(rng.uniform(0, 1000, n))
    price = 100 * np.exp(rng.standard_normal(n) * 0.01)
    batched = EwmaVariance(3, 120.0)
    batched.update(index, ts, price)
    one = EwmaVariance(3, 120.0)
    for i, t, p in zip(index, ts, price, strict=True):
        one.update(np.array([i]), np.array([t]), np.array([p]))
    assert np.allclose(batched.variance(), one.variance(), rtol=1e-14, equal_nan=True)
    for m in range(3):
        sel = index == m
        assert batched.variance()[m] == pytest.approx(ewma_variance(ts[sel], price[sel], 120.0), rel=1e-12)
    before = batched.variance().copy()
    batched.update(np.array([0, 1, 2]), np.array([ts[-1] - 1, np.nan, ts[-1] + 5]), np.array([50.0, 50.0, -1.0]))
    assert np.array_equal(before, batched.variance(), equal_nan=True)
    batched.resize(5)
    assert batched.variance().shape == (5,) and math.isnan(batched.variance()[4])
    with pytest.raises(ValueError, match="half_life_s"):
        EwmaVariance(1, 0.0)



def test_the_estimate_is_published_only_after_its_warm_up():
    est = EwmaVariance(1, 400.0)          # needs 5 returns over at least 100 s
    ts = [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0]
    prices = [100.0, 99.9, 100.1, 99.9, 100.1, 99.9, 100.0]
    for t, p in zip(ts[:6], prices[:6], strict=True):
        est.update(np.array([0]), np.array([t]), np.array([p]))
    assert math.isnan(est.variance()[0])  # 5 returns but only 50 s
    est.update(np.array([0]), np.array([ts[6]]), np.array([prices[6]]))
    assert est.variance()[0] == pytest.approx(ewma_variance(np.array(ts), np.array(prices), 400.0), rel=1e-14)
