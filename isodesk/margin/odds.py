"""The odds of liquidation: realized volatility, distance in sigmas, barrier-hit probability.

Pure: numpy and the standard library. Everything is vectorized over the book.

Model
-----
The mark is a driftless log-normal walk: ``ln S_t = ln S_0 + σ·B_t`` with ``B`` a standard
Brownian motion and ``σ`` the realized volatility of log returns **per √second** (variance per
second ``σ²``). A long is liquidated when the mark falls to its liquidation price ``L < S``, a
short when it rises to ``L > S``. By the reflection principle the probability that the walk
touches the barrier at log-distance ``d = |ln(L/S)|`` within ``T`` seconds is

    P(T) = 2·Φ(−d / (σ·√T)) = erfc(d / (σ·√(2T)))

(Karatzas & Shreve, *Brownian Motion and Stochastic Calculus*, 2.6.A, eq. 6.2: the running
maximum of a Brownian motion has the law of ``|B_T|``). The drift of a log-normal price with zero
log-drift is ignored on purpose: over a day it is negligible against the barrier and it keeps the
formula symmetric for longs and shorts.

``erfc`` is W. J. Cody's rational Chebyshev approximation ("Rational Chebyshev approximations
for the error function", Math. Comp. 23 (1969) 631–637; the coefficients of his CALERF routine,
netlib specfun), relative error below 1e-15 in double precision, here on numpy arrays: no scipy.

The volatility is an exponentially weighted estimate of the variance per second, aware of the
time between ticks (:class:`EwmaVariance`): each return ``r`` over ``Δt`` seconds contributes the
sample ``r²/Δt`` with weight ``α = 1 − 2^(−Δt/h)`` (``h`` the half-life in seconds), so an old
sample's weight halves every ``h`` seconds whatever the tick rate, and the estimate is the
weighted sum of squared returns per second of observed time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0

# W. J. Cody, CALERF (netlib specfun), IEEE double precision.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_RSQRTPI = 0.56418958354775628695
_THRESH = 0.46875
_XBIG = 26.543  # erfc(x) underflows to 0 in double precision beyond this


def erfc(x: np.ndarray | float) -> np.ndarray:
    """The complementary error function ``erfc(x) = 2/√π ∫_x^∞ e^(−t²) dt`` of every element
    (dimensionless; NaN stays NaN), by Cody's rational approximations on three intervals."""
    x = np.asarray(x, dtype=np.float64)
    y = np.abs(x)
    out = np.full(x.shape, np.nan)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        small = y <= _THRESH
        if small.any():
            z = y[small] ** 2
            num = _A[4] * z
            den = z.copy()
            for i in range(3):
                num = (num + _A[i]) * z
                den = (den + _B[i]) * z
            out[small] = 1.0 - x[small] * (num + _A[3]) / (den + _B[3])
        mid = (y > _THRESH) & (y <= 4.0)
        if mid.any():
            v = y[mid]
            num = _C[8] * v
            den = v.copy()
            for i in range(7):
                num = (num + _C[i]) * v
                den = (den + _D[i]) * v
            out[mid] = (num + _C[7]) / (den + _D[7]) * _gauss(v)
        big = (y > 4.0) & (y < _XBIG)
        if big.any():
            v = y[big]
            z = 1.0 / (v * v)
            num = _P[5] * z
            den = z.copy()
            for i in range(4):
                num = (num + _P[i]) * z
                den = (den + _Q[i]) * z
            r = z * (num + _P[4]) / (den + _Q[4])
            out[big] = (_RSQRTPI - r) / v * _gauss(v)
        out[y >= _XBIG] = 0.0
        negative = (x < 0) & ~small
        out[negative] = 2.0 - out[negative]
    return out


def _gauss(y: np.ndarray) -> np.ndarray:
    """``exp(−y²)`` computed as Cody does, splitting ``y`` at a multiple of 1/16 so the square
    loses no digits: ``exp(−t²)·exp(−(y − t)(y + t))``."""
    t = np.trunc(y * 16.0) / 16.0
    result: np.ndarray = np.exp(-t * t) * np.exp(-(y - t) * (y + t))
    return result


def normal_cdf(x: np.ndarray | float) -> np.ndarray:
    """The standard normal distribution function ``Φ(x) = erfc(−x/√2) / 2`` (dimensionless)."""
    return 0.5 * erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2.0))


def log_distance(mark: np.ndarray, liquidation_price: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Signed log-distance from the mark to the liquidation price, ``s·ln(S/L)`` (dimensionless,
    natural log): positive while safe, ≤ 0 once crossed; NaN where either price is missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.asarray(side, dtype=np.float64) * np.log(np.asarray(mark) / np.asarray(liquidation_price))
    out[~np.isfinite(out)] = np.nan
    return out


def sigma_distance(log_dist: np.ndarray, sigma: np.ndarray, horizon_s: float) -> np.ndarray:
    """Distance to liquidation in standard deviations of the log price over ``horizon_s`` seconds:
    ``s·ln(S/L) / (σ·√T)`` (``σ`` per √second); NaN where the volatility or the distance is missing
    or the volatility is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: np.ndarray = np.asarray(log_dist) / (np.asarray(sigma) * math.sqrt(horizon_s))
    out[~np.isfinite(out)] = np.nan
    return out


def hit_probability(log_dist: np.ndarray, sigma: np.ndarray, horizon_s: float,
                    no_barrier: np.ndarray | None = None) -> np.ndarray:
    """Probability (0…1) that a driftless log-normal walk with volatility ``σ`` (per √second)
    touches the liquidation price within ``horizon_s`` seconds, from the log-distance
    ``d = s·ln(S/L)`` of :func:`log_distance`:

        P = 2·Φ(−d / (σ·√T)) = erfc(d / (σ·√(2T)))   (reflection principle)

    1 where ``d ≤ 0`` (already at or past the liquidation price); 0 where ``no_barrier`` is True
    (no liquidation price: the position cannot be liquidated) or ``σ = 0`` with ``d > 0``; NaN
    where ``σ`` or ``d`` is unknown. ``horizon_s`` > 0.
    """
    if not horizon_s > 0:
        raise ValueError(f"horizon_s: {horizon_s!r} must be above 0 seconds")
    d = np.asarray(log_dist, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = d / (s * math.sqrt(2.0 * horizon_s))
    z = np.where((s == 0) & (d > 0), np.inf, z)
    p = erfc(np.where(np.isfinite(z), z, 0.0))
    p = np.where(z == np.inf, 0.0, p)
    p = np.where(d <= 0, 1.0, p)
    p = np.where(np.isnan(d) | np.isnan(s) | (s < 0), np.nan, p)
    if no_barrier is not None:
        p = np.where(no_barrier & np.isfinite(s), 0.0, p)
    out: np.ndarray = np.clip(p, 0.0, 1.0)
    return out


def decay(dt_s: np.ndarray | float, half_life_s: float) -> np.ndarray:
    """Weight kept by the old estimate after ``dt_s`` seconds: ``2^(−Δt/h)`` (dimensionless)."""
    if not (half_life_s > 0 and math.isfinite(half_life_s)):
        raise ValueError(f"half_life_s: {half_life_s!r} must be a positive number of seconds")
    out: np.ndarray = np.exp2(-np.asarray(dt_s, dtype=np.float64) / half_life_s)
    return out


def ewma_variance(ts: np.ndarray, prices: np.ndarray, half_life_s: float) -> float:
    """The EWMA variance of log returns per second (1/s) of one series of ticks (``ts`` Unix
    seconds ascending, ``prices`` > 0): after the last tick, as :class:`EwmaVariance` computes it
    tick by tick, without its warm-up (NaN only with fewer than two ticks spaced in time)."""
    est = EwmaVariance(1, half_life_s, min_returns=1, min_span_frac=0.0)
    for t, p in zip(np.asarray(ts, dtype=np.float64), np.asarray(prices, dtype=np.float64), strict=True):
        est.update(np.array([0]), np.array([t]), np.array([p]))
    return float(est.variance()[0])


@dataclass
class EwmaVariance:
    """Time-aware EWMA of the variance of log returns per second, one estimate per market index.

    ``update`` takes ticks ``(index, ts, price)`` in arrival order; a tick whose time is not after
    the market's previous one, or whose price is not finite and > 0, is ignored (the feed guard
    rejects those before they get here). For a return ``r = ln(P/P_prev)`` over ``Δt`` seconds,
    ``α = 1 − 2^(−Δt/h)`` and the running sums are ``S ← (1 − α)·S + α·r²/Δt`` and
    ``W ← (1 − α)·W + α``; the variance is ``S / W`` (the normalisation removes the start-up bias
    of an estimate that began at 0).

    Warm-up: an estimate is published (:meth:`variance`) only once it has folded at least
    ``min_returns`` returns spanning at least ``min_span_frac`` of the half-life in observed time;
    before, NaN. One return over one second is not a volatility, and odds computed from it would
    raise alarms on noise.
    """

    size: int
    half_life_s: float
    min_returns: int = 5
    min_span_frac: float = 0.25

    def __post_init__(self) -> None:
        decay(0.0, self.half_life_s)  # validates the half-life
        self.last_price = np.full(self.size, np.nan)
        self.last_ts = np.full(self.size, np.nan)
        self.weighted = np.zeros(self.size)
        self.weight = np.zeros(self.size)
        self.returns = np.zeros(self.size, dtype=np.int64)
        self.span = np.zeros(self.size)

    def resize(self, size: int) -> None:
        """Grow to ``size`` markets (new ones start empty); existing estimates are kept."""
        if size <= self.size:
            return
        extra = size - self.size
        self.last_price = np.concatenate([self.last_price, np.full(extra, np.nan)])
        self.last_ts = np.concatenate([self.last_ts, np.full(extra, np.nan)])
        self.weighted = np.concatenate([self.weighted, np.zeros(extra)])
        self.weight = np.concatenate([self.weight, np.zeros(extra)])
        self.returns = np.concatenate([self.returns, np.zeros(extra, dtype=np.int64)])
        self.span = np.concatenate([self.span, np.zeros(extra)])
        self.size = size

    def update(self, index: np.ndarray, ts: np.ndarray, price: np.ndarray) -> None:
        """Fold ticks in (``index`` market indices, ``ts`` Unix seconds, ``price`` quote per coin),
        in the given order; several ticks of one market in one call are applied one after another."""
        index = np.asarray(index, dtype=np.intp)
        ts = np.asarray(ts, dtype=np.float64)
        price = np.asarray(price, dtype=np.float64)
        if not index.size:
            return
        # each tick's rank among its market's ticks of this call: round r folds every market's r-th tick
        order = np.argsort(index, kind="stable")
        grouped = index[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        rank = np.empty(index.size, dtype=np.intp)
        rank[order] = np.arange(index.size) - np.repeat(starts, np.diff(np.r_[starts, index.size]))
        rounds = int(rank.max()) + 1
        if rounds > 4:  # many ticks of a market (a replay's chunk): one pass per market, in plain floats
            ends = np.r_[starts[1:], index.size]
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                rows = order[a:b]
                self._fold_series(int(grouped[a]), ts[rows].tolist(), price[rows].tolist())
            return
        by_rank = np.argsort(rank, kind="stable")
        bounds = np.searchsorted(rank[by_rank], np.arange(rounds + 1))
        for r in range(rounds):
            take = by_rank[bounds[r]:bounds[r + 1]]
            self._fold(index[take], ts[take], price[take])

    def _fold_series(self, i: int, ts: list[float], prices: list[float]) -> None:
        """The ticks of one market in order: the same recurrence as :meth:`_fold`, one tick at a time."""
        last_t, last_p = float(self.last_ts[i]), float(self.last_price[i])
        weighted, weight = float(self.weighted[i]), float(self.weight[i])
        returns, span = int(self.returns[i]), float(self.span[i])
        h = self.half_life_s
        for t, p in zip(ts, prices, strict=True):
            if not (math.isfinite(p) and p > 0 and math.isfinite(t)):
                continue
            if math.isnan(last_t):
                last_t, last_p = t, p
                continue
            dt = t - last_t
            if not dt > 0:
                continue
            r = math.log(p / last_p)
            keep = 2.0 ** (-dt / h)
            weighted = keep * weighted + (1.0 - keep) * r * r / dt
            weight = keep * weight + (1.0 - keep)
            returns += 1
            span += dt
            last_t, last_p = t, p
        self.last_ts[i], self.last_price[i] = last_t, last_p
        self.weighted[i], self.weight[i] = weighted, weight
        self.returns[i], self.span[i] = returns, span

    def _fold(self, i: np.ndarray, t: np.ndarray, p: np.ndarray) -> None:
        """One tick per distinct market ``i``."""
        good = np.isfinite(p) & (p > 0) & np.isfinite(t)
        i, t, p = i[good], t[good], p[good]
        prev_t, prev_p = self.last_ts[i], self.last_price[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            dt = t - prev_t
            step = np.isfinite(prev_p) & (dt > 0)
            r = np.log(p / prev_p)
            keep = decay(np.where(step, dt, 0.0), self.half_life_s)
            alpha = 1.0 - keep
            sample = np.where(step, r * r / np.where(step, dt, 1.0), 0.0)
        j = i[step]
        self.weighted[j] = keep[step] * self.weighted[j] + alpha[step] * sample[step]
        self.weight[j] = keep[step] * self.weight[j] + alpha[step]
        self.returns[j] += 1
        self.span[j] += dt[step]
        fresh = ~np.isfinite(prev_t) | (dt > 0)
        self.last_ts[i[fresh]] = t[fresh]
        self.last_price[i[fresh]] = p[fresh]

    def variance(self) -> np.ndarray:
        """The variance of log returns per second (1/s) of every market; NaN until its warm-up is
        done (class docstring)."""
        ready = (self.weight > 0) & (self.returns >= self.min_returns) & (
            self.span >= self.min_span_frac * self.half_life_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(ready, self.weighted / self.weight, np.nan)
        return out

    def sigma(self) -> np.ndarray:
        """The volatility of log returns per √second of every market (``√variance``); NaN before
        its first return."""
        out: np.ndarray = np.sqrt(self.variance())
        return out


@dataclass(frozen=True, slots=True)
class Odds:
    """The odds figures of a book, one value per position: ``sigma_distance`` (the distance to
    liquidation in daily standard deviations), ``liq_prob_1h`` and ``liq_prob_24h`` (probabilities
    0…1 of touching the liquidation price within 1 h and 24 h); NaN where no volatility is known."""

    sigma_distance: np.ndarray
    liq_prob_1h: np.ndarray
    liq_prob_24h: np.ndarray


def book_odds(mark: np.ndarray, liquidation_price: np.ndarray, side: np.ndarray, sigma: np.ndarray) -> Odds:
    """The odds of every position from its mark and liquidation price (quote per coin), its side
    (+1/−1) and its market's volatility ``σ`` (per √second, NaN = unknown). A position without a
    liquidation price (NaN while the mark is known) has probability 0."""
    mark = np.asarray(mark, dtype=np.float64)
    liq = np.asarray(liquidation_price, dtype=np.float64)
    d = log_distance(mark, liq, side)
    none = np.isnan(liq) & np.isfinite(mark)
    return Odds(sigma_distance=sigma_distance(d, sigma, SECONDS_PER_DAY),
                liq_prob_1h=hit_probability(d, sigma, SECONDS_PER_HOUR, none),
                liq_prob_24h=hit_probability(d, sigma, SECONDS_PER_DAY, none))
