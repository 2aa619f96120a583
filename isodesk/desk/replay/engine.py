"""Replay at the speed of the data: the desk's events over a whole path without stepping the book
through every instant.

Between two instants at which something happens, nothing about a position changes but its mark:
its liquidation price is fixed and so are the edges of its level (isolated margin: one position's
liquidation moves no other). So the replay asks, with vectorized searches over each window of
ticks, where the next thing *may* happen (:mod:`isodesk.margin.crossing`):

- a tick leaves its series' **quiet band**, the prices inside which no position marked by that
  series changes level or is liquidated (:mod:`isodesk.desk.replay.bands`, from the desk's own
  level rule); a series whose positions are stale has an empty band (a price may bring them back);
- a series that marks live positions goes **quiet** (the clock passes its last tick by the
  staleness limit);
- a level's **easing dwell** runs out (the desk reports an easing only once the milder level held);
- the **first price** of a series a position may be marked by (it can change which price marks it).

Every instant before that is skipped: its prices only move the series' last prices. At the instant
found, the replay decides exactly:

- if a price came within a hair of a liquidation price, or a series priced for the first time, the
  instant is played by the desk itself: first one step with each skipped series' last price (its
  marks and clock, nothing else happens there, by construction), then the instant's own ticks, as
  the tick-by-tick desk would receive them (:meth:`Desk.step`);
- otherwise the replay gives the desk every position's mark and distance to liquidation (computed
  as the engine computes it) and the desk judges levels, stale prices and alerts with its own
  rules (:meth:`Desk.judge_replayed`); if nothing changed it was a false alarm and the search
  goes on.

So the events are the desk's own, in the same order, at the same ticks, as the tick-by-tick desk
(:meth:`Desk.step` on a :class:`~isodesk.feeds.replay.ReplayFeed`) gives; the tests hold the two
together on random books and paths.

Two more kinds of instant are the desk's to play: **book instants** (:meth:`FastReplay.add_book_instants`,
times at which the book may change by itself, as a funding settlement moves margins: the first
instant reaching each is stepped by the desk, like a command), and, for the What-if page's
whole-path outcome (:mod:`isodesk.desk.replay.outcome`), ``track_worst`` keeps each position's
worst distance to liquidation from each series' running extremes between desk steps.

Not reproduced: the odds of liquidation (:mod:`isodesk.desk.volatility`) are fed by every tick, and
the instants skipped here feed nothing, so a fast replay's odds columns are not the tick-by-tick
desk's; a replay writes no odds alert in either mode (:meth:`Desk._publish`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from isodesk.desk.desk import Desk
from isodesk.desk.events import PositionEvent
from isodesk.desk.levels import Level
from isodesk.desk.replay.bands import MARGIN, LevelBands, distance_frac
from isodesk.desk.replay.guard import ChunkGuard, Handed
from isodesk.feeds.base import FeedHealth, Tick, tick_age
from isodesk.feeds.chunks import PathChunk, SeriesTable
from isodesk.feeds.guard import MAX_TS_S
from isodesk.margin.crossing import first_outside, first_quiet, instant_starts, last_of_each, running_clock
from isodesk.margin.engine import RiskArrays
from isodesk.margin.markets import REFERENCE

log = logging.getLogger("isodesk.replay")

#: Seconds by which the quiet and dwell searches may come early (they are checked exactly).
SLACK_S = 1e-3
_FIRST_WINDOW = 2048
_MAX_WINDOW = 1 << 16


class InstantFeed:
    """The desk's feed during a fast replay: hands the desk the ticks the replay puts in
    :attr:`pending` at its next poll; health from the replay's guard (as a replay feed reports it)."""

    clock_from_ticks = True
    writes_prices_table = False

    def __init__(self, name: str, guard: ChunkGuard):
        self.name = name
        self.guard = guard
        self.pending: list[Tick] = []
        self.finished = False
        self.closed = False

    def poll(self, now: float) -> list[Tick]:
        """The ticks put in :attr:`pending`, once."""
        ticks, self.pending = self.pending, []
        return ticks

    def health(self, now: float) -> FeedHealth:
        """Counts and newest tick of the guard, as :meth:`ReplayFeed.health` reports them."""
        g = self.guard
        last = g.newest_ts
        return FeedHealth(source=self.name, connected=not self.closed, last_tick_ts=last,
                          last_tick_age_s=tick_age(last, now), accepted=g.accepted, rejected=g.rejected,
                          rejected_by_reason=g.rejected_by_reason, last_error=None, finished=self.finished)

    def close(self) -> None:
        """Stop (idempotent)."""
        self.closed = True


@dataclass(slots=True)
class _Series:
    """Per price series (by code): its last price and time in this play (or its stored mark), whether
    it ticked, changed since the desk's board last saw it, may mark an open position, its quiet band
    (quote per coin) and whether it marks live positions (watched for going quiet)."""

    price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ticked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    dirty: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    relevant: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    lo: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    watched: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def grow(self, n: int) -> None:
        """Room for ``n`` series (new ones: no price, not ticked, the whole axis quiet)."""
        extra = n - len(self.price)
        if extra <= 0:
            return
        for name, fill in (("price", np.nan), ("ts", np.nan), ("ticked", False), ("dirty", False),
                           ("relevant", False), ("lo", -np.inf), ("hi", np.inf), ("watched", False)):
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.full(extra, fill, dtype=old.dtype)]))


@dataclass(slots=True)
class _Ticks:
    """Handed ticks of whole instants: ``inst`` (instant number), ``code``, ``ts``, ``price``."""

    inst: np.ndarray
    code: np.ndarray
    ts: np.ndarray
    price: np.ndarray

    def __len__(self) -> int:
        return len(self.inst)

    def cut(self, a: int, b: int) -> _Ticks:
        return _Ticks(self.inst[a:b], self.code[a:b], self.ts[a:b], self.price[a:b])

    @staticmethod
    def join(parts: list[_Ticks]) -> _Ticks:
        return _Ticks(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("inst", "code", "ts", "price")))


class FastReplay:
    """Plays a path (chunks of rows) through ``desk``, whose feed is ``feed``; yields the desk's
    events as they happen. ``stats`` counts the instants, the ones the desk stepped and the ones it
    judged, and the seconds spent in the desk (``desk_s``: levels, alerts, liquidations, catch-ups).

    With ``track_worst``, :attr:`worst` gives per position id the smallest distance to liquidation
    (fraction of the mark, ``s·(mark − liq)/mark``; ≤ 0 once a price crossed) over every mark the
    position had while open: the book's marks at the start and after each desk step, and every
    accepted tick of the series marking it (each series' running low and high between two desk
    steps, where its liquidation price is fixed). It costs two ``ufunc.at`` passes per window."""

    def __init__(self, desk: Desk, feed: InstantFeed, guard: ChunkGuard, table: SeriesTable, *,
                 track_worst: bool = False, book_instants: np.ndarray | None = None):
        self.desk = desk
        self.feed = feed
        self.guard = guard
        self.table = table
        self.track_worst = track_worst
        self._book_at = np.zeros(0)
        self._book_next = 0
        self.worst: dict[int, float] = {}
        self._seen_lo = np.zeros(0)
        self._seen_hi = np.zeros(0)
        self.stats: dict[str, float] = {"instants": 0, "desk_steps": 0, "catch_up_steps": 0, "judged": 0,
                                        "quiet_false_alarms": 0, "desk_s": 0.0}
        self._newest = -math.inf  # newest valid row time (instants)
        self._instants = 0
        self._clock = -math.inf  # the desk clock: newest handed-out tick
        self._stepped = False
        self._sr = _Series()
        self._grow_series(0)
        self._sync()
        if book_instants is not None:
            self.add_book_instants(book_instants)

    # -- public ---------------------------------------------------------------------------------

    def add_book_instants(self, times: np.ndarray) -> None:
        """Times (Unix s, path time) at which the book may change by itself, like a command: a
        funding settlement moves margins, so liquidation prices and bands. The desk plays the first
        instant whose clock reaches each such time itself (:meth:`Desk.step`, which settles what is
        due), and the search starts again from the book it leaves. Times already passed are ignored;
        more may be added while playing (they are merged in order)."""
        extra = np.asarray(times, dtype=np.float64).ravel()
        extra = extra[np.isfinite(extra) & (extra > self._clock)]
        pending = self._book_at[self._book_next:]
        self._book_at = np.unique(np.concatenate([pending, extra]))
        self._book_next = 0

    def _book_due(self) -> float:
        """The next time the book may change by itself (inf: none)."""
        return float(self._book_at[self._book_next]) if self._book_next < len(self._book_at) else math.inf

    def play(self, chunks: Iterable[PathChunk], progress: Callable[[int], None] | None = None
             ) -> Iterator[PositionEvent]:
        """Play every chunk, then the path's end; yields events in order."""
        carry: _Ticks | None = None
        for chunk in chunks:
            handed = self.guard.run(chunk)
            ticks = self._instants_of(chunk, handed)
            if carry is not None and len(carry):
                ticks = _Ticks.join([carry, ticks])
            if len(ticks):
                last = ticks.inst[-1]
                cut = int(np.searchsorted(ticks.inst, last, side="left"))
                carry = ticks.cut(cut, len(ticks))  # the last instant may go on in the next chunk
                yield from self._play(ticks.cut(0, cut))
            if progress is not None:
                progress(chunk.nbytes)
        self.guard.finish()
        if carry is not None and len(carry):
            yield from self._play(carry)
        yield from self._finish()

    # -- instants -------------------------------------------------------------------------------

    def _instants_of(self, chunk: PathChunk, handed: Handed) -> _Ticks:
        """Number each row's instant (as :class:`ReplayFeed` groups rows when it plays one instant a
        poll) and attach it to the ticks handed out."""
        ts = chunk.ts
        valid = (chunk.code >= 0) & np.isfinite(ts) & (ts <= MAX_TS_S)
        starts, self._newest = instant_starts(ts, valid, self._newest)
        ids = self._instants - 1 + np.cumsum(starts)
        np.maximum(ids, 0, out=ids)  # rows before the path's first time belong to its first instant
        self._instants += int(starts.sum())
        return _Ticks(ids[handed.row], handed.code, handed.ts, handed.price)

    # -- state ------------------------------------------------------------------------------------

    def _grow_series(self, n: int) -> None:
        self._sr.grow(max(n, len(self.table)))
        if self.track_worst and len(self._seen_lo) < len(self._sr.price):
            extra = len(self._sr.price) - len(self._seen_lo)
            self._seen_lo = np.concatenate([self._seen_lo, np.full(extra, np.inf)])
            self._seen_hi = np.concatenate([self._seen_hi, np.full(extra, -np.inf)])

    # -- the worst distance (track_worst) ------------------------------------------------------------

    def _seen(self, code: np.ndarray, price: np.ndarray) -> None:
        """Ticks that marked the book since the last desk step: each series' running low and high."""
        if self.track_worst and code.size:
            np.minimum.at(self._seen_lo, code, price)
            np.maximum.at(self._seen_hi, code, price)

    def _fold(self, distance: np.ndarray) -> None:
        """Take ``distance`` (per row of the book, NaN where none) into :attr:`worst` for open rows."""
        rows = np.flatnonzero(self._open & ~np.isnan(distance))
        worst = self.worst
        for pid, d in zip(self.desk.book.info.position_ids[rows].tolist(), distance[rows].tolist(), strict=True):
            known = worst.get(pid)
            if known is None or d < known:
                worst[pid] = d

    def _fold_seen(self) -> None:
        """Fold the ticks seen since the last desk step, at the liquidation prices they met."""
        if not self.track_worst:
            return
        rows = np.flatnonzero(self._open)
        c = self._code[rows]
        price = np.where(self._long[rows], self._seen_lo[c], self._seen_hi[c])
        distance = np.full(len(self._open), np.nan)
        with np.errstate(invalid="ignore"):
            priced = np.isfinite(price)
        distance[rows[priced]] = distance_frac(self._side[rows[priced]], price[priced], self._liq[rows[priced]])
        self._fold(distance)
        self._seen_lo[:] = np.inf
        self._seen_hi[:] = -np.inf

    def _sync(self) -> None:
        """Read the desk after it stepped: rows, marks, levels, stale prices; rebuild the bands."""
        desk, table = self.desk, self.table
        snap, book = desk.snapshot, desk.book
        own = np.array([table.code(key) for key in book.series], dtype=np.intp)
        ref = np.array([table.code((REFERENCE, m)) for m in book.markets], dtype=np.intp)
        self._grow_series(0)
        self._open = book.open_rows.copy()
        self._side = book.batch.side
        self._long = self._side > 0
        self._liq = np.array(snap.cols["liquidation_price"], dtype=np.float64)
        self._mark = np.array(snap.cols["mark"], dtype=np.float64)
        self._mark_ts = np.array(snap.cols["mark_ts"], dtype=np.float64)
        self._dist = np.array(snap.cols["distance_frac"], dtype=np.float64)
        self._stale = np.array(snap.stale, dtype=bool)
        by_ref = np.zeros(len(book), dtype=bool) if snap.by_reference is None else np.array(snap.by_reference)
        own_row, ref_row = own[book.series_index], ref[book.market_index]
        self._code = np.where(self._open, np.where(by_ref, ref_row, own_row), -1)
        self._sr.relevant[:] = False
        self._sr.relevant[own_row[self._open]] = True
        self._sr.relevant[ref_row[self._open]] = True
        unpriced = self._open & ~self._sr.ticked[np.maximum(self._code, 0)]
        self._sr.price[self._code[unpriced]] = self._mark[unpriced]  # a stored mark stays until a tick
        self._sr.ts[self._code[unpriced]] = self._mark_ts[unpriced]
        self._sr.dirty[:] = False
        self._bands_for = LevelBands(desk.thresholds)
        self._read_track()
        self._rebuild()
        if self.track_worst:
            self._grow_series(0)
            self._fold(self._dist)  # the marks after a desk step (at the start: the book's own)

    def _read_track(self) -> None:
        track = self.desk.level_track
        self._observed = np.array(track.observed, dtype=np.int8)
        self._reported = np.array(track.reported, dtype=np.int8)
        self._since = np.array(track.milder_since, dtype=np.float64)

    def _rebuild(self) -> None:
        """The quiet band of each series, which series to watch for quiet, the next easing time."""
        if self._bands_for.thresholds != self.desk.thresholds:
            self._bands_for = LevelBands(self.desk.thresholds)
        live = self._open & ~self._stale
        rows = np.flatnonzero(live)
        lo_row, hi_row = self._bands_for.price_band(self._side[rows], self._liq[rows], self._observed[rows],
                                                    self._dist[rows])
        lo, hi = self._sr.lo, self._sr.hi
        lo[:], hi[:] = -np.inf, np.inf
        codes = self._code[rows]
        np.maximum.at(lo, codes, lo_row)
        np.minimum.at(hi, codes, hi_row)
        stale_codes = self._code[self._open & self._stale]
        pending = self._sr.relevant & ~self._sr.ticked  # a first price may change which series marks a position
        for blocked in (stale_codes, np.flatnonzero(pending)):
            lo[blocked], hi[blocked] = np.inf, -np.inf
        self._sr.watched[:] = False
        self._sr.watched[codes] = True
        # A reported level R above the observed one eases once no level L >= R is held any more, a
        # level being held while clock - since_L < dwell (LevelTrack.advance): at the latest of those
        # timers' ends (a timer not running is never held).
        waiting = np.flatnonzero(live & (self._reported > self._observed))
        expiry = math.inf
        if waiting.size:
            ends = self._since[waiting] + self.desk.settings.dwell_s
            ends[np.isnan(ends)] = -np.inf
            r = self._reported[waiting]
            ends[r > Level.WARNING, 0] = -np.inf  # reported DANGER: only the DANGER timer counts
            expiry = float(ends.max(axis=1).min())
        self._expiry = expiry

    # -- the search -------------------------------------------------------------------------------

    def _play(self, t: _Ticks) -> Iterator[PositionEvent]:
        """Play whole instants of handed-out ticks."""
        self._grow_series(0)
        n = len(t)
        p = 0
        while p < n:
            hit, p = self._search(t, p)
            if hit >= n:
                break
            a = int(np.searchsorted(t.inst, t.inst[hit], side="left"))
            b = int(np.searchsorted(t.inst, t.inst[hit], side="right"))
            self._skip(t, p, a)
            yield from self._instant(t, a, b)
            p = b

    def _search(self, t: _Ticks, p: int) -> tuple[int, int]:
        """The first tick from ``p`` at which something may happen (``len(t)`` if none), and how far
        the ticks before it were skipped (whole windows where nothing happens)."""
        n = len(t)
        window = _FIRST_WINDOW
        while p < n:
            e = min(n, p + window)
            if e < n:  # end windows on an instant's end
                e = int(np.searchsorted(t.inst, t.inst[e - 1], side="right"))
            code, price, ts = t.code[p:e], t.price[p:e], t.ts[p:e]
            hit = first_outside(price, code, self._sr.lo, self._sr.hi)
            clock = running_clock(ts, self._clock)
            quiet = first_quiet(code, ts, clock, self._sr.ts, self._sr.watched, self.desk.stale_after_s, SLACK_S)
            hit = min(hit, quiet)
            if self._expiry < math.inf:
                hit = min(hit, int(np.searchsorted(clock, self._expiry - SLACK_S, side="left")))
            due = self._book_due()
            if due < math.inf:
                hit = min(hit, int(np.searchsorted(clock, due, side="left")))
            if hit < e - p:
                return p + hit, p
            self._skip(t, p, e)
            p = e
            window = min(window * 2, _MAX_WINDOW)
        return n, n

    def _skip(self, t: _Ticks, a: int, b: int, *, count: bool = True) -> None:
        """Ticks ``[a, b)`` of instants where nothing happens: they only move the series' last prices
        (``count``: and count for the worst distance; False for an instant the desk already played)."""
        if b <= a:
            return
        code = t.code[a:b]
        if count:
            self._seen(code, t.price[a:b])
        last = last_of_each(code, len(self._sr.price))
        seen = np.flatnonzero(last >= 0)
        self._sr.price[seen] = t.price[a:b][last[seen]]
        self._sr.ts[seen] = t.ts[a:b][last[seen]]
        self._sr.ticked[seen] = True
        self._sr.dirty[seen] = True
        self._clock = max(self._clock, float(t.ts[a:b].max()))

    # -- one instant where something may happen ------------------------------------------------------

    def _instant(self, t: _Ticks, a: int, b: int) -> Iterator[PositionEvent]:
        code = t.code[a:b]
        price = t.price[a:b]
        self._seen(code, price)
        fresh = np.unique(code)
        clock = max(self._clock, float(t.ts[a:b].max()))
        due = self._book_due()
        if clock >= due:  # the book may change by itself at this instant: the desk plays it
            while self._book_next < len(self._book_at) and self._book_at[self._book_next] <= clock:
                self._book_next += 1
            yield from self._step(t, a, b)
            return
        if (self._sr.relevant[fresh] & ~self._sr.ticked[fresh]).any():
            yield from self._step(t, a, b)
            return
        s_price, s_ts = self._sr.price.copy(), self._sr.ts.copy()
        last = last_of_each(code, len(s_price))
        s_price[fresh], s_ts[fresh] = price[last[fresh]], t.ts[a:b][last[fresh]]
        low = np.full(len(s_price), np.inf)
        high = np.full(len(s_price), -np.inf)
        np.minimum.at(low, code, price)
        np.maximum.at(high, code, price)
        rows = np.flatnonzero(self._open)
        c = self._code[rows]
        liq = self._liq[rows]
        long = self._long[rows]
        with np.errstate(invalid="ignore"):  # any position whose series ticked: a stale one may come back
            near_liq = np.where(long, low[c] <= liq * (1 + MARGIN), high[c] >= liq * (1 - MARGIN))
        if near_liq.any():  # a liquidation may happen: the desk plays this instant itself
            yield from self._step(t, a, b)
            return
        mark = self._mark.copy()
        mark_ts = self._mark_ts.copy()
        mark[rows], mark_ts[rows] = s_price[c], s_ts[c]
        dist = self._dist.copy()
        dist[rows] = distance_frac(self._side[rows], mark[rows], liq)
        with np.errstate(invalid="ignore"):
            live = ~(np.isnan(mark[rows]) | ~(clock - mark_ts[rows] <= self.desk.stale_after_s))
            near_liq = live & (dist[rows] <= MARGIN)
        if near_liq.any() or self._bands_for.near_edge(dist[rows][live]).any():
            yield from self._step(t, a, b)  # a level edge within a hair: let the desk compute it
            return
        self._sr.price, self._sr.ts = s_price, s_ts
        self._sr.ticked[fresh] = True
        self._sr.dirty[fresh] = True
        self._clock = clock
        self._mark, self._mark_ts, self._dist = mark, mark_ts, dist
        risk = _risk(mark, dist, self._liq)
        started = time.perf_counter()
        stale = self.desk.judge_replayed(risk, mark_ts, clock)
        self.stats["desk_s"] += time.perf_counter() - started
        self.stats["judged"] += 1
        events = self.desk.drain_events()
        if not events:
            self.stats["quiet_false_alarms"] += 1
        self._stale = np.array(stale, dtype=bool)
        self._read_track()
        self._rebuild()
        yield from events

    def _step(self, t: _Ticks, a: int, b: int) -> Iterator[PositionEvent]:
        """The desk plays instant ``[a, b)`` itself, after a step that brings its prices up to date."""
        self._fold_seen()  # at the liquidation prices before the desk moves any
        yield from self._catch_up()
        keys = self.table.keys
        self.feed.pending = [Tick(symbol=keys[c][1], ts=float(ts), price=float(p), venue=keys[c][0] or None)
                             for c, ts, p in zip(t.code[a:b].tolist(), t.ts[a:b].tolist(), t.price[a:b].tolist(),
                                                 strict=True)]
        self._desk_step()
        self.stats["desk_steps"] += 1
        self._stepped = True
        self._skip(t, a, b, count=False)
        yield from self.desk.drain_events()
        self._sync()

    def _catch_up(self) -> Iterator[PositionEvent]:
        """One step with the last price of each series skipped since the desk last stepped: its marks
        and clock become the tick-by-tick desk's (nothing happens in it, as nothing happened in the
        instants skipped)."""
        dirty = np.flatnonzero(self._sr.dirty)
        if not dirty.size:
            return
        keys = self.table.keys
        self.feed.pending = [Tick(symbol=keys[c][1], ts=float(self._sr.ts[c]), price=float(self._sr.price[c]),
                                  venue=keys[c][0] or None) for c in dirty.tolist()]
        self._desk_step()
        self.stats["catch_up_steps"] += 1
        self._sr.dirty[:] = False
        events = self.desk.drain_events()
        if events:  # never expected: the skipped instants were shown to change nothing
            log.warning("fast replay: the catch-up step at %s produced %d events", self._clock, len(events))
        yield from events

    def _desk_step(self) -> None:
        started = time.perf_counter()
        self.desk.step()
        self.stats["desk_s"] += time.perf_counter() - started

    def _finish(self) -> Iterator[PositionEvent]:
        """The path's end: the desk's prices, clock and snapshot as after the last instant."""
        self.feed.finished = True
        self.stats["instants"] = self._instants
        self._fold_seen()
        dirty = np.flatnonzero(self._sr.dirty)
        if dirty.size or not self._stepped:
            keys = self.table.keys
            self.feed.pending = [Tick(symbol=keys[c][1], ts=float(self._sr.ts[c]), price=float(self._sr.price[c]),
                                      venue=keys[c][0] or None) for c in dirty.tolist()]
        self._desk_step()
        self._sr.dirty[:] = False
        yield from self.desk.drain_events()
        if self.track_worst:
            self._sync()  # the marks after the last step


def _risk(mark: np.ndarray, distance: np.ndarray, liq: np.ndarray) -> RiskArrays:
    """The figures the desk's level and alert rules read (mark, distance, liquidation price); the
    others are NaN (a judged instant liquidates nothing and publishes nothing)."""
    nan = np.full(len(mark), np.nan)
    return RiskArrays(mark=mark, notional=nan, unrealized_pnl=nan, margin_balance=nan, maintenance_margin=nan,
                      margin_ratio=nan, liquidation_price=liq, bankruptcy_price=nan, distance_price=nan,
                      distance_frac=distance, roe=nan, effective_leverage=nan, max_removable=nan, max_loss=nan,
                      tier=np.zeros(len(mark), dtype=np.intp), close_fee=nan)


__all__ = ["FastReplay", "InstantFeed", "Level"]
