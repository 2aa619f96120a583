"""The band of mark prices inside which a position's level stays put and it is not liquidated.

The desk classifies a live position by its distance to liquidation ``d = s·(mark − liq)/mark`` with
:func:`isodesk.desk.rules.levels` (thresholds with hysteresis) and liquidates it when a price of its
series reaches ``liq``. Every test in that classification is ``d ≤ c`` for one of four edges ``c``
(warning, danger and each plus the hysteresis), so on each interval between consecutive edges the
new level is a function of the previous one alone. :class:`LevelBands` evaluates the desk's own
function once per interval and level; the quiet distances of a position are the run of intervals
around its present distance where the level it has maps to itself, cut at ``d > 0`` (liquidation).
Mapped to prices (``mark = liq/(1 − d)`` for a long, ``liq/(1 + d)`` for a short, both monotone) and
narrowed by a relative :data:`MARGIN`, the band is conservative: a price inside it changes nothing,
a price outside it may (the replay then checks exactly).
"""

from __future__ import annotations

import math

import numpy as np

from isodesk.desk.levels import Level, Thresholds
from isodesk.desk.rules import levels as classify

#: Relative narrowing of every band edge: far above the rounding of ``d`` (a few 1e-16), far below
#: any threshold anyone types.
MARGIN = 1e-9
_LEVELS = (Level.SAFE, Level.WARNING, Level.DANGER)
#: The same as plain ints: numpy compares an array with an IntEnum member some 5 times slower.
_SAFE, _DANGER = int(Level.SAFE), int(Level.DANGER)


class LevelBands:
    """Quiet distance intervals per (level, present interval) for one set of thresholds."""

    def __init__(self, thresholds: Thresholds):
        t = thresholds
        self.thresholds = t
        edges = sorted({t.danger, t.warning, t.danger + t.hysteresis, t.warning + t.hysteresis})
        self.edges = np.array(edges, dtype=np.float64)  # interval i is (edges[i-1], edges[i]], open at both ends
        probes = np.array([*edges, edges[-1] * 2 + 1.0], dtype=np.float64)  # a distance inside each interval
        k = len(probes)
        self.low = np.full((len(_LEVELS), k), np.inf)   # quiet distances (low, high] per level and interval
        self.high = np.full((len(_LEVELS), k), -np.inf)
        bounds = [-math.inf, *edges, math.inf]
        for level in _LEVELS:
            same = classify(probes, np.full(k, level, dtype=np.int8), t) == level
            for i in range(k):
                if not same[i]:
                    continue
                lo, hi = i, i
                while lo > 0 and same[lo - 1]:
                    lo -= 1
                while hi < k - 1 and same[hi + 1]:
                    hi += 1
                self.low[level, i], self.high[level, i] = bounds[lo], bounds[hi + 1]

    def near_edge(self, distance: np.ndarray) -> np.ndarray:
        """True where a distance lies within :data:`MARGIN` of an edge or of 0 (decide those exactly)."""
        d = distance[:, None]
        close: np.ndarray = (np.abs(d - self.edges[None, :]) <= MARGIN).any(axis=1) | (np.abs(distance) <= MARGIN)
        return close

    def price_band(self, side: np.ndarray, liq: np.ndarray, level: np.ndarray,
                   distance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per position: the open price interval ``(low, high)`` (quote per coin) inside which its
        level stays ``level`` and no price liquidates it, for positions now at ``distance``; an
        empty interval (``low ≥ high``) where any price may change something. ``side`` +1 long,
        −1 short; ``liq`` NaN (no liquidation price) never changes: the whole axis."""
        n = len(side)
        lo_p = np.full(n, np.inf)
        hi_p = np.full(n, -np.inf)
        none = np.isnan(liq)
        lo_p[none], hi_p[none] = -np.inf, np.inf
        rows = np.flatnonzero(~none & (level >= _SAFE) & (level <= _DANGER) & ~np.isnan(distance))
        if not rows.size:
            return lo_p, hi_p
        piece = np.searchsorted(self.edges, distance[rows], side="left")  # d ≤ edges[i] ⇔ interval i or before
        lv = level[rows].astype(np.intp)
        d_lo = np.maximum(self.low[lv, piece], 0.0)  # liquidation: the distance must stay above 0
        d_hi = self.high[lv, piece]
        quiet = d_lo < d_hi
        ell = liq[rows]
        long = side[rows] > 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # long: d = 1 − liq/m rises with m; short: d = liq/m − 1 falls with m
            long_lo = np.where(d_lo < 1, ell / (1 - d_lo), np.inf)
            long_hi = np.where(d_hi < 1, ell / (1 - d_hi), np.inf)
            short_lo = np.where(np.isinf(d_hi), 0.0, ell / (1 + d_hi))
            short_hi = ell / (1 + d_lo)
        lo = np.where(long, long_lo, short_lo) * (1 + MARGIN)
        hi = np.where(long, long_hi, short_hi) * (1 - MARGIN)
        lo_p[rows] = np.where(quiet, lo, np.inf)
        hi_p[rows] = np.where(quiet, hi, -np.inf)
        return lo_p, hi_p


def distance_frac(side: np.ndarray, mark: np.ndarray, liq: np.ndarray) -> np.ndarray:
    """Distance to liquidation as a fraction of the mark, ``s·(mark − liq)/mark``, computed with the
    same operations in the same order as :func:`isodesk.margin.engine.mark_figures` (so the same
    bits: the replay decides levels on it; a test holds the two together)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recip = 1.0 / mark
        distance: np.ndarray = side * (mark - liq)
        distance = distance * recip
    return distance
