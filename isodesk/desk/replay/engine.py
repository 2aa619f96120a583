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
  instant is played by the desk itself (:meth:`Desk.step`): each skipped series' last price (its
  marks and clock, nothing else happens there, by construction), then the instant's own ticks, as
  the tick-by-tick desk would receive them; the skipped prices come in a step of their own before a
  book instant (below), in the instant's step otherwise (:meth:`FastReplay._step` says why);
- otherwise the replay gives the desk every position's mark and distance to liquidation (computed
  as the engine computes it) and the desk judges levels, stale prices and alerts with its own
  rules (:meth:`Desk.judge_replayed`); if nothing changed it was a false alarm and the search
  goes on.

So the events are the desk's own, in the same order, at the same ticks, as the tick-by-tick desk
(:meth:`Desk.step` on a :class:`~isodesk.feeds.replay.ReplayFeed`) gives; the tests hold the two
together on random books and paths.

Two more kinds of instant are the desk's to play: **book instants** (:meth:`FastReplay.add_book_instants`,
times at which the book may change by itself, as a funding settlement moves margins: the first
instant reaching each is stepped by the desk, like a command; a path's ``funding_rate`` column
makes every funding time of the book's venues one, and the desk's feed quotes the path's rates as
the tick-by-tick feed does, so the desk settles the same payments at the same instants), and, for
the What-if page's whole-path outcome (:mod:`isodesk.desk.replay.outcome`), ``track_worst`` keeps each position's
worst distance to liquidation from each series' running extremes between desk steps.

Not reproduced: the odds of liquidation (:mod:`isodesk.desk.volatility`) are fed by every tick, and
the instants skipped here feed nothing, so a fast replay's odds columns are not the tick-by-tick
desk's; a replay writes no odds alert in either mode (:meth:`Desk._publish`). Feeding every tick
would not make them the same: the estimate folds a step's ticks with numpy when a series has a
few and in plain floats when it has many (:meth:`EwmaVariance.update
<isodesk.margin.odds.EwmaVariance.update>`; the two group ``α·r²/Δt`` differently), so its last
bits depend on how ticks are grouped into steps, and the 24 h probability moves with every tick
(no band of prices leaves it unchanged), so an odds alert could only be found by judging every
instant, which is the tick-by-tick desk.

The path is read ahead in a second thread (:func:`~isodesk.desk.replay.source.read_ahead`): the
file's parsing and the tick guard (both depend on the path alone) overlap the play on another core.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from isodesk.desk.desk import Desk
from isodesk.desk.events import PositionEvent
from isodesk.desk.levels import Level
from isodesk.desk.replay.bands import MARGIN, LevelBands, distance_frac
from isodesk.desk.replay.guard import ChunkGuard, Handed
from isodesk.desk.replay.source import read_ahead
from isodesk.feeds.base import FeedHealth, FundingQuote, Tick, tick_age
from isodesk.feeds.chunks import PathChunk, SeriesTable
from isodesk.feeds.guard import MAX_TS_S
from isodesk.feeds.replay import quoted_rates
from isodesk.margin.crossing import first_outside, first_quiet, instant_starts, last_of_each, running_clock
from isodesk.margin.engine import RiskArrays
from isodesk.margin.funding import funding_rule
from isodesk.margin.markets import REFERENCE, PriceKey

log = logging.getLogger("isodesk.replay")

#: Seconds by which the quiet and dwell searches may come early (they are checked exactly).
SLACK_S = 1e-3
#: Ticks of a search's first window (doubling up to _MAX_WINDOW): 8192 costs fewer windows than 2048 at
#: about 5,000 ticks between judged instants (2026-12-02, 1,000 positions: search 0.07 s against 0.086 s a run).
_FIRST_WINDOW = 8192
_MAX_WINDOW = 1 << 16
_WARNING = int(Level.WARNING)  # a plain int: numpy compares an array with an IntEnum member slowly


@dataclass(frozen=True, slots=True)
class GuardCounts:
    """A guard's counts at one moment: ticks ``accepted``, ``rejected`` (and by reason), the newest
    accepted tick's time ``newest_ts`` (Unix s, None before the first)."""

    accepted: int
    rejected: int
    rejected_by_reason: Mapping[str, int]
    newest_ts: float | None

    @staticmethod
    def of(guard: ChunkGuard) -> GuardCounts:
        """The counts of ``guard`` now (a copy)."""
        return GuardCounts(guard.accepted, guard.rejected, guard.rejected_by_reason, guard.newest_ts)


class InstantFeed:
    """The desk's feed during a fast replay: hands the desk the ticks the replay puts in
    :attr:`pending` at its next poll; health from the replay's guard (as a replay feed reports it);
    funding quotes from the rates the replay puts in :attr:`rates` (the path's ``funding_rate``
    column, as far as the instant the desk plays)."""

    clock_from_ticks = True
    writes_prices_table = False

    def __init__(self, name: str, guard: ChunkGuard):
        self.name = name
        self.guard = guard
        self.pending: list[Tick] = []
        self.rates: dict[PriceKey, float] = {}
        self.counts: GuardCounts | None = None  # the guard's counts after the chunk being played
        self.finished = False
        self.closed = False

    def poll(self, now: float) -> list[Tick]:
        """The ticks put in :attr:`pending`, once."""
        ticks, self.pending = self.pending, []
        return ticks

    def funding(self, now: float) -> list[FundingQuote]:
        """The rate of each series in :attr:`rates` quoted at path time ``now`` (Unix s) by the same
        :func:`~isodesk.feeds.replay.quoted_rates` as :meth:`ReplayFeed.funding
        <isodesk.feeds.replay.ReplayFeed.funding>` quotes the rows it played."""
        return [] if self.closed else quoted_rates(self.rates, now)

    def health(self, now: float) -> FeedHealth:
        """Counts and newest tick of the guard, as :meth:`ReplayFeed.health` reports them: as they
        were once the guard had checked the chunk being played (:attr:`counts`; the guard itself may
        be reading ahead in another thread)."""
        c = self.counts if self.counts is not None else GuardCounts.of(self.guard)
        return FeedHealth(source=self.name, connected=not self.closed, last_tick_ts=c.newest_ts,
                          last_tick_age_s=tick_age(c.newest_ts, now), accepted=c.accepted, rejected=c.rejected,
                          rejected_by_reason=c.rejected_by_reason, last_error=None, finished=self.finished)

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
                 track_worst: bool = False, book_instants: np.ndarray | None = None, read_ahead: bool = True):
        self.desk = desk
        self.read_ahead = read_ahead
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
        # funding rates of the path (its ``funding_rate`` column): updates not yet given to the feed
        # (instant, series code, rate), each series' rate as far as the feed has it, whether it moved
        # since the desk last stepped, and the funding times made book instants so far
        self._rate_updates: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rate = np.zeros(0)
        self._rates_moved = False
        self._funding_until = math.nan  # NaN: no rate seen yet
        self._intervals = sorted({funding_rule(venue).interval_s for venue, _market in desk.book.series}
                                 or {funding_rule("").interval_s})
        self._newest = -math.inf  # newest valid row time (instants)
        self._instants = 0
        self._clock = -math.inf  # the desk clock: newest handed-out tick
        self._sr = _Series()
        self._band_lo = self._band_hi = np.zeros(0)  # each row's quiet band (quote per coin), by _rebuild
        self._band_piece = np.zeros(0, dtype=np.intp)  # … for this interval of level edges
        self._band_level = np.zeros(0, dtype=np.int8)  # … and this observed level
        self._band_live = np.zeros(0, dtype=bool)  # … of the rows live then
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
        """Play every chunk, then the path's end; yields events in order. With :attr:`read_ahead` the
        chunks are read in a thread of their own, ahead of the play (:func:`~isodesk.desk.replay.source.read_ahead`)."""
        guarded = self._guarded(chunks)
        source = read_ahead(guarded) if self.read_ahead else guarded
        try:
            yield from self._play_all(source, progress)
        finally:
            source.close()

    def _guarded(self, chunks: Iterable[PathChunk]
                 ) -> Generator[tuple[PathChunk | None, Handed | None, GuardCounts], None, None]:
        """Each chunk with the ticks the guard hands out of it and the guard's counts after it, then
        ``(None, None, counts)`` once the path's end is checked: the guard depends on the path alone,
        so it may run ahead of the play (in :func:`read_ahead`'s thread)."""
        for chunk in chunks:
            handed = self.guard.run(chunk)
            yield chunk, handed, GuardCounts.of(self.guard)
        self.guard.finish()
        yield None, None, GuardCounts.of(self.guard)

    def _play_all(self, chunks: Iterator[tuple[PathChunk | None, Handed | None, GuardCounts]],
                  progress: Callable[[int], None] | None) -> Iterator[PositionEvent]:
        carry: _Ticks | None = None
        for chunk, handed, counts in chunks:
            self.feed.counts = counts
            if chunk is None or handed is None:  # the path's end: the guard has finished
                break
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
        if chunk.funding is not None:
            self._take_rates(chunk, ids, valid)
        return _Ticks(ids[handed.row], handed.code, handed.ts, handed.price)

    # -- funding ----------------------------------------------------------------------------------

    def _take_rates(self, chunk: PathChunk, ids: np.ndarray, valid: np.ndarray) -> None:
        """Keep the chunk's funding rates by instant (a replay feed takes a readable row's rate when
        it plays the row's instant, whatever the guard decides about its price), and make every
        funding time up to the chunk's newest time a book instant once a rate has been seen: the
        desk settles funding at the first instant reaching a funding time (:mod:`isodesk.desk.funding`).
        The times are those of the grids of the book's venues (:func:`~isodesk.margin.funding.funding_rule`;
        a time where nothing is due costs one desk step, nothing else)."""
        assert chunk.funding is not None
        rows = np.flatnonzero((chunk.code >= 0) & ~np.isnan(chunk.funding))
        if rows.size:
            self._rate_updates.append((ids[rows], chunk.code[rows].astype(np.intp), chunk.funding[rows]))
            if math.isnan(self._funding_until):  # from before the first time a desk step may quote the rate
                known = [t for t in (self._clock, float(chunk.ts[valid].min()) if valid.any() else math.inf)
                         if math.isfinite(t)]
                if known:
                    self._funding_until = min(known) - max(self._intervals)
        if not (math.isfinite(self._funding_until) and math.isfinite(self._newest)) \
                or self._newest <= self._funding_until:
            return
        after, until = max(self._funding_until, self._clock), self._newest
        times = [np.arange(math.floor(after / step) + 1, math.floor(until / step) + 1, dtype=np.float64) * step
                 for step in self._intervals]
        self._funding_until = until
        self.add_book_instants(np.concatenate(times))

    def _rates_to(self, instant: float) -> None:
        """Give the feed the funding rates of every row of the instants up to ``instant``."""
        if not self._rate_updates:
            return
        self._grow_series(0)
        rate = self._rate
        before = rate.copy()
        kept: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for inst, code, value in self._rate_updates:
            cut = int(np.searchsorted(inst, instant, side="right"))
            if cut:
                last = last_of_each(code[:cut], len(rate))
                seen = np.flatnonzero(last >= 0)
                rate[seen] = value[last[seen]]
            if cut < len(inst):
                kept.append((inst[cut:], code[cut:], value[cut:]))
        self._rate_updates = kept
        changed = ~((rate == before) | (np.isnan(rate) & np.isnan(before)))
        if changed.any():
            self._rates_moved = True
            keys = self.table.keys
            self.feed.rates = {keys[c]: float(rate[c]) for c in np.flatnonzero(~np.isnan(rate)).tolist()}

    # -- state ------------------------------------------------------------------------------------

    def _grow_series(self, n: int) -> None:
        self._sr.grow(max(n, len(self.table)))
        if len(self._rate) < len(self._sr.price):
            self._rate = np.concatenate([self._rate, np.full(len(self._sr.price) - len(self._rate), np.nan)])
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
        # the open rows' series, sides and liquidation prices, as _instant reads them (fixed until the next step)
        self._open_rows = np.flatnonzero(self._open)
        self._open_code = self._code[self._open_rows]
        self._open_side = self._side[self._open_rows]
        self._open_long = self._long[self._open_rows]
        self._open_liq = self._liq[self._open_rows]
        self._liq_low = self._open_liq * (1 + MARGIN)  # a long's lowest price may reach its liquidation price
        self._liq_high = self._open_liq * (1 - MARGIN)  # a short's highest
        self._sr.relevant[:] = False
        self._sr.relevant[own_row[self._open]] = True
        self._sr.relevant[ref_row[self._open]] = True
        unpriced = self._open & ~self._sr.ticked[np.maximum(self._code, 0)]
        self._sr.price[self._code[unpriced]] = self._mark[unpriced]  # a stored mark stays until a tick
        self._sr.ts[self._code[unpriced]] = self._mark_ts[unpriced]
        self._sr.dirty[:] = False
        self._bands_for = LevelBands(desk.thresholds)
        self._read_track()
        self._rebuild(whole=True)
        if self.track_worst:
            self._grow_series(0)
            self._fold(self._dist)  # the marks after a desk step (at the start: the book's own)

    def _read_track(self) -> None:
        track = self.desk.level_track
        self._observed = np.array(track.observed, dtype=np.int8)
        self._reported = np.array(track.reported, dtype=np.int8)
        self._since = np.array(track.milder_since, dtype=np.float64)

    def _rebuild(self, *, whole: bool = False) -> None:
        """The quiet band of each series, which series to watch for quiet, the next easing time.

        A position's band depends on its side and liquidation price (fixed until the desk steps),
        its observed level and the interval of level edges its distance lies in
        (:meth:`LevelBands.price_band`): after a judged instant only the rows where the last two
        moved are computed again (``whole``: every row, after a desk step)."""
        if self._bands_for.thresholds != self.desk.thresholds:
            self._bands_for = LevelBands(self.desk.thresholds)
            whole = True
        live = self._open & ~self._stale
        rows = np.flatnonzero(live)
        piece = np.searchsorted(self._bands_for.edges, self._dist, side="left")
        piece[np.isnan(self._dist)] = -1
        if whole or len(self._band_lo) != len(live):
            self._band_lo, self._band_hi = np.full(len(live), -np.inf), np.full(len(live), np.inf)
            moved = rows
        else:
            moved = rows[(piece[rows] != self._band_piece[rows]) | (self._observed[rows] != self._band_level[rows])
                         | ~self._band_live[rows]]  # a row live again (its price flows) has no band yet
        if moved.size:
            self._band_lo[moved], self._band_hi[moved] = self._bands_for.price_band(
                self._side[moved], self._liq[moved], self._observed[moved], self._dist[moved])
        self._band_piece, self._band_level, self._band_live = piece, self._observed.copy(), live
        lo, hi = self._sr.lo, self._sr.hi
        lo[:], hi[:] = -np.inf, np.inf
        codes = self._code[rows]
        np.maximum.at(lo, codes, self._band_lo[rows])
        np.minimum.at(hi, codes, self._band_hi[rows])
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
            ends[r > _WARNING, 0] = -np.inf  # reported DANGER: only the DANGER timer counts
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
        fresh = np.flatnonzero(np.bincount(code, minlength=len(self._sr.price)))  # np.unique, sorted, cheaper
        clock = max(self._clock, float(t.ts[a:b].max()))
        due = self._book_due()
        if clock >= due:  # the book may change by itself at this instant: the desk plays it
            while self._book_next < len(self._book_at) and self._book_at[self._book_next] <= clock:
                self._book_next += 1
            yield from self._step(t, a, b, book=True)
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
        rows, c = self._open_rows, self._open_code
        with np.errstate(invalid="ignore"):  # any position whose series ticked: a stale one may come back
            near_liq = np.where(self._open_long, low[c] <= self._liq_low, high[c] >= self._liq_high)
        if near_liq.any():  # a liquidation may happen: the desk plays this instant itself
            yield from self._step(t, a, b)
            return
        row_mark, row_ts = s_price[c], s_ts[c]
        mark = self._mark.copy()
        mark_ts = self._mark_ts.copy()
        mark[rows], mark_ts[rows] = row_mark, row_ts
        dist = self._dist.copy()
        row_dist = distance_frac(self._open_side, row_mark, self._open_liq)
        dist[rows] = row_dist
        with np.errstate(invalid="ignore"):
            live = ~(np.isnan(row_mark) | ~(clock - row_ts <= self.desk.stale_after_s))
            near_liq = live & (row_dist <= MARGIN)
        if near_liq.any() or self._bands_for.near_edge(row_dist[live]).any():
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

    def _step(self, t: _Ticks, a: int, b: int, *, book: bool = False) -> Iterator[PositionEvent]:
        """The desk plays instant ``[a, b)`` itself, its prices (and funding rates) first brought up to
        date with the last price of each series skipped since the desk last stepped.

        Those prices come in a step of their own (:meth:`_catch_up`) at a book instant (``book``:
        the book may change by itself there) or once the path gave a funding rate: the desk settles
        funding with the quotes of its previous step, which must be the tick-by-tick desk's. Otherwise
        they come in the same step, before the instant's ticks: a step of theirs would change nothing
        (nothing happened in the instants skipped: no level, stale price or liquidation moved, and
        their prices lie inside every band, so they reach no liquidation price in the instant's step
        either), and one desk step fewer is some 10 ms for 1,000 positions."""
        self._fold_seen()  # at the liquidation prices before the desk moves any
        instant = float(t.inst[a])
        self._rates_to(instant - 1)
        ahead: list[Tick] = []
        if book or not math.isnan(self._funding_until):
            yield from self._catch_up()
        else:
            ahead = self._skipped_ticks()
            self._sr.dirty[:] = False
        self._rates_to(instant)
        keys = self.table.keys
        self.feed.pending = ahead + [Tick(symbol=keys[c][1], ts=float(ts), price=float(p), venue=keys[c][0] or None)
                                     for c, ts, p in zip(t.code[a:b].tolist(), t.ts[a:b].tolist(),
                                                         t.price[a:b].tolist(), strict=True)]
        self._desk_step()
        self.stats["desk_steps"] += 1
        self._skip(t, a, b, count=False)
        yield from self.desk.drain_events()
        self._sync()

    def _catch_up(self) -> Iterator[PositionEvent]:
        """One step with the last price of each series skipped since the desk last stepped: its marks
        and clock become the tick-by-tick desk's (nothing happens in it, as nothing happened in the
        instants skipped), and so do its funding quotes (a settlement at the next step uses them):
        a step even without a price when only a rate moved."""
        if not self._sr.dirty.any() and not self._rates_moved:
            return
        self.feed.pending = self._skipped_ticks()
        self._desk_step()
        self.stats["catch_up_steps"] += 1
        self._sr.dirty[:] = False
        events = self.desk.drain_events()
        if events:  # never expected: the skipped instants were shown to change nothing
            log.warning("fast replay: the catch-up step at %s produced %d events", self._clock, len(events))
        yield from events

    def _skipped_ticks(self) -> list[Tick]:
        """The last price of each series skipped since the desk last stepped, as ticks (series order)."""
        keys = self.table.keys
        return [Tick(symbol=keys[c][1], ts=float(self._sr.ts[c]), price=float(self._sr.price[c]),
                     venue=keys[c][0] or None) for c in np.flatnonzero(self._sr.dirty).tolist()]

    def _desk_step(self) -> None:
        started = time.perf_counter()
        self.desk.step()
        self._rates_moved = False
        self.stats["desk_s"] += time.perf_counter() - started

    def _finish(self) -> Iterator[PositionEvent]:
        """The path's end: the desk's prices, clock and snapshot as after the last instant."""
        self.feed.finished = True
        self.stats["instants"] = self._instants
        self._fold_seen()
        self._rates_to(math.inf)
        self.feed.pending = self._skipped_ticks()
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
