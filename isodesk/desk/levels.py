"""Risk levels from the distance to liquidation, with hysteresis so a level does not flicker.

The distance is ``s·(mark − liq)/mark`` (a fraction: the relative price move left before
liquidation). The margin ratio alone is a poor warning: in the Binance orientation it stays low
until the last moment (22 % at 1.4 % from liquidation), so levels follow the distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Level(IntEnum):
    """Risk level of a position; the order is the order of severity."""

    SAFE = 0
    WARNING = 1
    DANGER = 2
    LIQUIDATED = 3

    @property
    def label(self) -> str:
        """Lower-case name as stored and shown (``safe``, ``warning``…)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Distances (fractions of the mark) at which a position turns warning and danger.

    A position moves to a more severe level as soon as its distance is at or under the level's
    threshold, and back to a milder one only once the distance exceeds the threshold plus
    ``hysteresis``.
    """

    warning: float = 0.10
    danger: float = 0.03
    hysteresis: float = 0.005

    def __post_init__(self) -> None:
        if not 0 < self.danger < self.warning < 1:
            raise ValueError(f"thresholds: need 0 < danger ({self.danger}) < warning ({self.warning}) < 1")
        if not 0 <= self.hysteresis < self.danger:
            raise ValueError(f"thresholds: hysteresis {self.hysteresis} must be in [0, danger)")


# the levels as plain ints for the array code below (an enum member costs an attribute lookup each
# time; the replay classifies the book at every instant it judges)
_SAFE, _WARNING, _DANGER, _LIQUIDATED = (int(level) for level in Level)


def classify(distance: np.ndarray, previous: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """New levels (int8) from distances and the previous levels; NaN distances keep the previous level.

    Liquidated positions stay liquidated; the desk alone decides liquidation (margin balance at
    the maintenance requirement), not this function.
    """
    t = thresholds
    raw = np.where(distance <= t.danger, _DANGER, np.where(distance <= t.warning, _WARNING, _SAFE))
    # Relaxing to a milder level needs the distance to clear that level's threshold by the hysteresis.
    relaxed_raw = np.where(distance <= t.danger + t.hysteresis, _DANGER,
                           np.where(distance <= t.warning + t.hysteresis, _WARNING, _SAFE))
    new = np.where(raw >= previous, raw, np.maximum(relaxed_raw, raw))
    new = np.where(np.isnan(distance), previous, new)
    new = np.where(previous == _LIQUIDATED, _LIQUIDATED, new)
    return new.astype(np.int8)


_EASING_LEVELS = (_WARNING, _DANGER)  # the levels a position can ease from, one timer each


@dataclass(slots=True)
class LevelTrack:
    """Per row of the book, the desk's levels: observed, reported, and what an easing waits for.

    - ``observed``: the level :func:`classify` gives (thresholds and hysteresis) on each recompute.
    - ``reported``: the level the desk has reported, published in the snapshot and alerted. A
      worsening is reported at once; an easing only once the milder level has held for the dwell:
      the reported level is the most severe level observed over the last ``dwell_s`` seconds of
      the desk clock (measured from the first recompute that saw the milder level). So the
      trader never sees a milder level than the desk has reported.
    - ``milder_since``: per row, for WARNING and DANGER, the desk clock since which the observed
      level has been below it (NaN: it is not). A row without a live price (stale) has no timer: it
      never eases, and its dwell starts again when prices flow.
    - ``classified``: the row has had a live price once; until then its level is unknown (shown
      SAFE, stale). Its first classification is reported as it is, without dwell, and is no crossing
      (the desk writes one summary alert for it instead: "at start: DANGER, …").

    Mutable and owned by the desk's thread; the snapshot gets copies.
    """

    observed: np.ndarray
    reported: np.ndarray
    milder_since: np.ndarray
    classified: np.ndarray

    @classmethod
    def fresh(cls, open_rows: np.ndarray) -> LevelTrack:
        """A track of new rows: open ones unclassified, closed ones LIQUIDATED."""
        n = len(open_rows)
        level = np.where(open_rows, Level.SAFE, Level.LIQUIDATED).astype(np.int8)
        return cls(observed=level.copy(), reported=level, milder_since=np.full((n, len(_EASING_LEVELS)), np.nan),
                   classified=~open_rows)

    def carried(self, old_ids: np.ndarray, new_ids: np.ndarray, open_rows: np.ndarray) -> LevelTrack:
        """The track of a reloaded book: rows carried over by position id, new rows fresh, rows no
        longer open LIQUIDATED."""
        track = LevelTrack.fresh(open_rows)
        old = np.asarray(old_ids, dtype=np.int64)
        new = np.asarray(new_ids, dtype=np.int64)
        if not (old.size and new.size):
            return track
        order = np.argsort(old, kind="stable")  # position ids are unique in a book
        at = np.minimum(np.searchsorted(old[order], new), len(order) - 1)
        old_row = order[at]
        rows = np.flatnonzero((old[old_row] == new) & np.asarray(open_rows, dtype=bool))
        source = old_row[rows]
        track.observed[rows] = self.observed[source]
        track.reported[rows] = self.reported[source]
        track.milder_since[rows] = self.milder_since[source]
        track.classified[rows] = self.classified[source]
        return track

    def advance(self, distance: np.ndarray, live: np.ndarray, clock: float, thresholds: Thresholds,
                dwell_s: float, settle: np.ndarray | None = None) -> np.ndarray:
        """Classify the ``live`` rows (a fresh enough price) from their ``distance`` (fraction of the
        mark) at desk time ``clock`` (s) and move the reported levels; returns the rows classified
        for the first time (their reported level is their level, no dwell).

        ``settle`` (bool per row): rows whose easing is reported at once (the trader's own command
        moved them: a top-up is not a price that may turn back)."""
        first: np.ndarray = live & ~self.classified
        previous = np.where(first, _SAFE, self.observed).astype(np.int8)
        observed = self.observed.copy()
        observed[live] = classify(distance[live], previous[live], thresholds)
        since = self.milder_since
        with np.errstate(invalid="ignore"):
            # a clock from another timeline (a replay's path time after the desk's wall-clock start):
            # a dwell timer "started in the future" starts now instead of holding the easing forever
            since[since > clock] = clock
        for col, level in enumerate(_EASING_LEVELS):
            below = live & (observed < level)
            since[:, col] = np.where(below, np.where(np.isnan(since[:, col]), clock, since[:, col]), np.nan)
        with np.errstate(invalid="ignore"):
            held = [(observed >= level) | (clock - since[:, col] < dwell_s) for col, level in enumerate(_EASING_LEVELS)]
        candidate = np.where(held[1], _DANGER, np.where(held[0], _WARNING, _SAFE))
        eased = np.maximum(observed, np.minimum(self.reported, candidate))
        reported = np.where(live, eased, self.reported)
        now = first if settle is None else first | (settle & live)
        reported[now] = observed[now]
        self.observed = observed
        self.reported = reported.astype(np.int8)
        self.classified = self.classified | live
        return first


def risk_order(level: np.ndarray, distance: np.ndarray, open_rows: np.ndarray) -> np.ndarray:
    """Rows "nearest to liquidation" first: open positions by level (DANGER, WARNING, SAFE — the
    reported level; a stale price keeps its level), then by distance to liquidation (a fraction;
    unknown last), then closed and liquidated positions; ties keep the book's order."""
    if not len(level):
        return np.zeros(0, dtype=np.intp)
    key = np.where(np.isnan(distance), np.inf, distance)
    severity = np.where(open_rows, level.astype(np.int16), -1)
    order: np.ndarray = np.lexsort((key, -severity, ~open_rows)).astype(np.intp)
    return order
