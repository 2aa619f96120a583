"""The desk's odds of liquidation: a realized-volatility estimate fed by every accepted tick, the
snapshot's odds columns, and the ``odds`` alert.

- **Volatility** per price series ``(venue, market)`` (:mod:`isodesk.desk.marks`; venue ``""`` a
  reference price): the time-aware EWMA of :class:`isodesk.margin.odds.EwmaVariance`, half-life the
  trader's ``odds.half_life_s``, fed by every tick the feed's guard accepted (so a rejected spike
  never inflates it). A position takes the volatility of the series that marks it (its venue's
  own, or the reference until then). A writing desk with a wall-clock feed, and ``isodesk status``,
  first fold in the stored prices of the last few half-lives, so a restart does not start blind;
  a replay does not (stored prices belong to another timeline).
- **Columns** (float64 per row, recomputed at most once a second for the same book):
  ``sigma_distance`` (distance to liquidation in daily standard deviations of the log price),
  ``liq_prob_1h`` and ``liq_prob_24h`` (0…1, the barrier-hit probability of
  :func:`isodesk.margin.odds.hit_probability`); NaN where the series has no volatility yet (or is
  still warming up) and on closed rows.
- **Alert** (kind ``odds``, at the position's current level): when a position's 24 h probability
  rises past ``odds.alert_pct``, even in the safe band. Hysteresis as the levels have it: once
  raised, the alert re-arms only after the probability has stayed below
  :data:`REARM_FRACTION` of the threshold for the levels' dwell (``levels.dwell_s``), so a
  probability hovering at the threshold raises one alert, not one per tick. A position first seen
  above the threshold (at start, or new in the book) gets one too, unless its newest alert is
  already an unacknowledged ``odds`` alert (a restart adds no copy). A desk without a feed (a
  command's short-lived desk, ``isodesk status``), an observing desk and a replay never write one
  (the fast replay judges only some instants and never feeds every tick to the volatility, so
  its alerts would differ from the tick-by-tick desk's; replays show no odds alerts at all).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from isodesk.desk.book import LoadedBook
from isodesk.desk.events import EventKind
from isodesk.desk.levels import Level
from isodesk.feeds.base import Tick
from isodesk.margin.markets import REFERENCE, PriceKey
from isodesk.margin.odds import EwmaVariance, book_odds

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk
    from isodesk.store import Store

ODDS_KIND = "odds"
REARM_FRACTION = 0.8   # the alert re-arms once the probability stays below 80 % of the threshold
SEED_HALF_LIVES = 4.0  # stored prices of the last 4 half-lives seed the estimate (weight 1/16 at the far end)
SEED_LIMIT = 20_000    # at most this many stored prices per series
ODDS_COLUMNS = ("sigma_distance", "liq_prob_1h", "liq_prob_24h")
ODDS_EVERY_S = 1.0     # the odds columns are recomputed at most once a second of desk clock (same book)


class Volatility:
    """Realized volatility per price series (the EWMA of :mod:`isodesk.margin.odds`)."""

    def __init__(self, half_life_s: float):
        self._keys: dict[PriceKey, int] = {}
        self.estimate = EwmaVariance(0, half_life_s)

    @property
    def half_life_s(self) -> float:
        """The half-life in seconds."""
        return self.estimate.half_life_s

    def set_half_life(self, half_life_s: float) -> None:
        """Use a new half-life from now on (what is already folded in stays)."""
        EwmaVariance(0, half_life_s)  # validates it
        self.estimate.half_life_s = float(half_life_s)

    def _index(self, key: PriceKey) -> int:
        i = self._keys.get(key)
        if i is None:
            i = self._keys[key] = len(self._keys)
            self.estimate.resize(len(self._keys))
        return i

    def take(self, ticks: Iterable[Tick]) -> None:
        """Fold accepted ticks in, in arrival order (``Tick.key`` is the series)."""
        items = [(self._index(t.key), t.ts, t.price) for t in ticks]
        if items:
            index, ts, price = zip(*items, strict=True)
            self.estimate.update(np.array(index), np.array(ts), np.array(price))

    def seed(self, store: Store, keys: Iterable[PriceKey], now: float) -> None:
        """Fold in the stored prices of ``keys`` from the last :data:`SEED_HALF_LIVES` half-lives
        (only series with no tick yet)."""
        since = now - SEED_HALF_LIVES * self.half_life_s
        for key in keys:
            if key in self._keys and np.isfinite(self.estimate.last_ts[self._keys[key]]):
                continue
            rows = store.price_history(key[1], since, SEED_LIMIT, venue=key[0])
            if rows:
                self.take(Tick(symbol=key[1], ts=ts, price=price, venue=key[0] or None) for ts, price in rows)

    def sigma_of(self, key: PriceKey) -> float:
        """The volatility of a series' log price per √second (NaN: none yet)."""
        i = self._keys.get(key)
        return math.nan if i is None else float(self.estimate.sigma()[i])

    def rows(self, book: LoadedBook, own: np.ndarray | None) -> np.ndarray:
        """Per row the volatility (per √second) of the series that marks it: its venue's own where
        ``own`` (from the desk's marks) says so, else the market's reference; NaN where none."""
        sigma = self.estimate.sigma()

        def of(keys: Iterable[PriceKey]) -> np.ndarray:
            idx = [self._keys.get(k, -1) for k in keys]
            return np.array([sigma[i] if i >= 0 else math.nan for i in idx], dtype=np.float64)

        own_sigma = of(book.series)[book.series_index] if len(book) else np.zeros(0)
        ref_sigma = of((REFERENCE, m) for m in book.markets)[book.market_index] if len(book) else np.zeros(0)
        if own is None or len(own) != len(book):
            own = ~np.isnan(own_sigma)
        out: np.ndarray = np.where(own, own_sigma, ref_sigma)
        return out


class OddsDesk:
    """The desk's part of the odds: its volatility, its columns and its alert (module docstring)."""

    def __init__(self, half_life_s: float):
        self.volatility = Volatility(half_life_s)
        self._raised: set[int] = set()          # position ids whose odds alert is out
        self._below_since: dict[int, float] = {}  # position id → when it fell below the re-arm line
        self._seen: set[int] = set()            # position ids whose odds were judged once
        # (book, prob_24h) whose judged rows below the threshold were last noted in _seen
        self._noted: tuple[LoadedBook, np.ndarray] | None = None
        self._cached: tuple[LoadedBook, float, dict[str, np.ndarray]] | None = None  # (book, clock, columns)

    def seed(self, desk: Desk) -> None:
        """Seed the volatility from the stored prices of the book's series (own and reference), unless
        the feed's clock is its ticks' (a replay: stored prices belong to another timeline)."""
        if desk.feed is not None and desk.feed.clock_from_ticks:
            return
        book = desk.book
        keys = [*book.series, *((REFERENCE, m) for m in book.markets)]
        self.volatility.seed(desk.store, keys, desk._now())

    def take_settings(self, half_life_s: float) -> None:
        """Follow the trader's ``odds.half_life_s``."""
        if half_life_s != self.volatility.half_life_s:
            self.volatility.set_half_life(half_life_s)

    def columns(self, book: LoadedBook, mark: np.ndarray, liquidation_price: np.ndarray,
                own: np.ndarray | None, clock: float) -> dict[str, np.ndarray]:
        """The snapshot's odds columns (module docstring), NaN on closed rows. Recomputed at most once
        every :data:`ODDS_EVERY_S` of desk clock for the same book (a new book, after any command
        or reload, at once): the odds move with the volatility, slowly, and the two erfc passes
        cost several times the engine's own step on a large book."""
        cached = self._cached
        if cached is not None and cached[0] is book and 0 <= clock - cached[1] < ODDS_EVERY_S:
            return cached[2]
        out = self._compute(book, mark, liquidation_price, own)
        self._cached = (book, clock, out)
        return out

    def _compute(self, book: LoadedBook, mark: np.ndarray, liquidation_price: np.ndarray,
                 own: np.ndarray | None) -> dict[str, np.ndarray]:
        sigma = self.volatility.rows(book, own)
        odds = book_odds(mark, liquidation_price, book.batch.side, sigma)
        closed = ~book.open_rows
        out = {}
        for name in ODDS_COLUMNS:
            values = np.array(getattr(odds, name), dtype=np.float64, copy=True)
            values[closed] = np.nan
            values.flags.writeable = False  # shared by the snapshots until the next computation
            out[name] = values
        return out

    def crossings(self, book: LoadedBook, prob_24h: np.ndarray, threshold: float, clock: float,
                  dwell_s: float) -> list[int]:
        """Rows whose odds alert is due now (``threshold`` a probability 0…1), with the hysteresis of
        the module docstring; updates the state. Rows with no probability keep their state."""
        due: list[int] = []
        rearm = REARM_FRACTION * threshold
        finite = book.open_rows & np.isfinite(prob_24h)
        pids = book.info.position_ids
        # Only rows above the threshold or with their alert out can change state; every other judged
        # row is only noted as seen (below_since holds raised positions only), once per columns.
        visit = finite & (prob_24h > threshold)
        if self._raised:
            visit |= finite & np.isin(pids, np.fromiter(self._raised, dtype=np.int64, count=len(self._raised)))
        noted = self._noted
        if noted is None or noted[0] is not book or noted[1] is not prob_24h:
            self._seen.update(pids[finite & ~visit].tolist())
            self._noted = (book, prob_24h)
        for row, pid, p in zip(np.flatnonzero(visit).tolist(), pids[visit].tolist(), prob_24h[visit].tolist(),
                               strict=True):
            first = pid not in self._seen
            self._seen.add(pid)
            if p > threshold:
                self._below_since.pop(pid, None)
                if pid not in self._raised:
                    self._raised.add(pid)
                    due.append(int(row) if not first else -1 - int(row))  # negative: a first sighting
            elif pid in self._raised and p < rearm:
                since = self._below_since.setdefault(pid, clock)
                if clock - since >= dwell_s:
                    self._raised.discard(pid)
                    self._below_since.pop(pid, None)
            else:
                self._below_since.pop(pid, None)
        return due

    def judge(self, desk: Desk, book: LoadedBook, cols: dict[str, np.ndarray], level: np.ndarray,
              clock: float) -> None:
        """Write the due ``odds`` alerts (one transaction), as events like any alert."""
        threshold = desk.settings.odds_alert_pct / 100.0
        due = self.crossings(book, cols["liq_prob_24h"], threshold, clock, desk.settings.dwell_s)
        if not due or not desk.writer or desk.feed is None or desk.feed.clock_from_ticks:
            return
        rows = []
        out = None
        for code in due:
            row = code if code >= 0 else -1 - code
            if code < 0:  # a first sighting: not again while its odds alert is out unacknowledged
                if out is None:
                    out = {a.position_id for a in desk.store.alerts(limit=5000, unacknowledged_only=True)
                           if a.kind == ODDS_KIND}
                if int(book.info.position_ids[row]) in out:
                    continue
            rows.append(row)
        if not rows:
            return
        with desk._writing():
            for row in rows:
                lvl = Level(int(min(level[row], Level.DANGER)))
                p24, p1 = cols["liq_prob_24h"][row], cols["liq_prob_1h"][row]
                message = (f"{book.info.labels[row]}: {p24 * 100:.1f} % chance of liquidation within 24 h "
                           f"(1 h: {p1 * 100:.1f} %; {cols['sigma_distance'][row]:.2f} daily σ from "
                           f"liquidation at {cols['liquidation_price'][row]:,.6g}, mark {cols['mark'][row]:,.6g}); "
                           f"above the {threshold * 100:g} % alert line")
                desk._event(EventKind.ODDS, row, lvl.label, "", clock, float(cols["mark"][row]), message)
