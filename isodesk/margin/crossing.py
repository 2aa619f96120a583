"""Where a price path first leaves a band, or a series first goes quiet: vectorized searches.

Isolated margin makes positions independent between two commands: each position's liquidation
price and level edges are fixed, so what happens to a book along a path is decided by where each
price series first leaves the band of prices inside which none of its positions changes. These
helpers answer that for a whole window of ticks at once (numpy only, no Python call per tick); the
replay (:mod:`isodesk.desk.replay`) turns the answers into the desk's events.

Ticks are given in the order a feed hands them out: ``code`` (the series of each tick, an index
into per-series arrays), ``ts`` (Unix s) and ``price`` (quote per coin), all finite.
"""

from __future__ import annotations

import numpy as np


def first_outside(price: np.ndarray, code: np.ndarray, low: np.ndarray, high: np.ndarray) -> int:
    """Index of the first tick whose price is at or below ``low[code]`` or at or above
    ``high[code]`` (per-series bounds, quote per coin; ``-inf``/``inf`` never hit, ``low = inf``
    always hits); ``len(price)`` when none is."""
    lo = low[code]
    hit = price <= lo
    hit |= price >= high[code]
    at = int(np.argmax(hit)) if hit.size else 0
    return at if hit.size and hit[at] else len(price)


def running_clock(ts: np.ndarray, clock: float) -> np.ndarray:
    """The clock after each tick: the newest time seen so far, starting from ``clock`` (Unix s;
    ``-inf`` for none)."""
    out: np.ndarray = np.maximum.accumulate(ts)
    np.maximum(out, clock, out=out)
    return out


def first_quiet(code: np.ndarray, ts: np.ndarray, clock: np.ndarray, last_ts: np.ndarray, watched: np.ndarray,
                quiet_after: float, slack: float = 1e-3) -> int:
    """Index of the first tick at which a watched series may have gone quiet: the clock (``clock``,
    :func:`running_clock`) more than ``quiet_after`` seconds past the series' latest time (its last
    tick at or before that index, or ``last_ts[series]`` from before the window). ``len(code)`` when
    no watched series goes quiet in the window.

    Conservative by ``slack`` seconds: the index returned may come a little early (never late), so a
    caller checks it exactly and searches again after it.
    """
    n = len(code)
    if not n or not watched.any():
        return n
    oldest = float(np.min(last_ts[watched]))  # NaN: a watched series with no price is quiet already
    if not np.isnan(oldest) and clock[-1] - oldest <= quiet_after - slack:
        return n  # no series is older than the window's last clock allows
    if np.isnan(oldest):
        return 0
    mine = watched[code]
    rows = np.flatnonzero(mine)
    best = n
    if rows.size:
        c = code[rows]
        order = np.argsort(c, kind="stable")
        rows, c = rows[order], c[order]
        last_of_series = np.ones(rows.size, dtype=bool)
        last_of_series[:-1] = c[1:] != c[:-1]
        following = np.empty_like(rows)
        following[:-1] = rows[1:]
        following[last_of_series] = n
        # gaps between a series' consecutive ticks (and from its last tick to the window's end)
        at = np.maximum(np.searchsorted(clock, ts[rows] + (quiet_after - slack), side="left"), rows)
        hit = at < following
        if hit.any():
            best = int(at[hit].min())
        first_of_series = np.ones(rows.size, dtype=bool)
        first_of_series[1:] = c[1:] != c[:-1]
        starts, first_rows = c[first_of_series], rows[first_of_series]
    else:
        starts, first_rows = np.zeros(0, dtype=code.dtype), np.zeros(0, dtype=np.intp)
    # the gap from before the window to each watched series' first tick in it (or the window's end)
    until = np.full(len(last_ts), n, dtype=np.intp)
    until[starts] = first_rows
    series = np.flatnonzero(watched)
    at0 = np.searchsorted(clock, last_ts[series] + (quiet_after - slack), side="left")
    hit0 = at0 < until[series]
    if hit0.any():
        best = min(best, int(at0[hit0].min()))
    return best


def last_of_each(code: np.ndarray, n_series: int) -> np.ndarray:
    """Per series (``n_series`` of them): the index of its last tick in ``code``, -1 if none."""
    last = np.full(n_series, -1, dtype=np.intp)
    if code.size:
        np.maximum.at(last, code, np.arange(code.size, dtype=np.intp))
    return last


def instant_starts(ts: np.ndarray, valid: np.ndarray, newest: float) -> tuple[np.ndarray, float]:
    """Which rows of a path begin a new instant, and the newest valid time after them.

    A replay plays a path an instant at a time: the rows up to the first one whose time is later
    than every earlier (valid) time. ``ts``: each row's time (Unix s); ``valid``: whether that time
    places the row on the path (finite, in seconds); ``newest``: the newest valid time before these
    rows (``-inf`` for none)."""
    t = np.where(valid, ts, -np.inf)
    before = np.empty_like(t)
    if t.size:
        before[0] = newest
        np.maximum.accumulate(t[:-1], out=before[1:])
        np.maximum(before[1:], newest, out=before[1:])
    starts: np.ndarray = valid & (t > before)
    return starts, float(max(newest, float(t.max()) if t.size else newest))
