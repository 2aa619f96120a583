"""The tick guard over chunks of a path: :class:`~isodesk.feeds.guard.TickGuard`'s rules, the common
case with numpy.

A row the guard would take at once (readable, a price within bounds, a time in seconds not older
than the newest tick taken, within the jump band of its series' last price, no move of its series
held) is taken in bulk: numpy decides a whole run of such rows. Every other row (a bad row, a big
move, the rows after it until its series decides) goes through the very :class:`TickGuard` methods
a replay feed uses, one row at a time, with the guard's state brought up to date first. So the
ticks handed out, their order, the rejections and their counts are the replay feed's
(:class:`~isodesk.feeds.replay.ReplayFeed` with ``speed=None``), which the tests check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from isodesk.feeds.base import Tick
from isodesk.feeds.chunks import PathChunk, SeriesTable
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, MALFORMED, MAX_TS_S, TickGuard
from isodesk.feeds.replay import RejectedRow, _malformed
from isodesk.margin.bounds import MAX_PRICE, MIN_PRICE

_MIN_PRICE, _MAX_PRICE = float(MIN_PRICE), float(MAX_PRICE)


@dataclass(frozen=True, slots=True)
class Handed:
    """The ticks the guard handed out for a chunk, in order: ``row`` (the chunk row whose check
    handed each out: its instant), ``code`` (series), ``ts`` (Unix s), ``price`` (quote per coin)."""

    row: np.ndarray
    code: np.ndarray
    ts: np.ndarray
    price: np.ndarray

    def __len__(self) -> int:
        return len(self.row)


class ChunkGuard(TickGuard):
    """A replay's :class:`TickGuard` (``path_order``) fed chunk by chunk; rejected rows are listed in
    :attr:`rejected_rows` as the replay feed lists them."""

    def __init__(self, table: SeriesTable, *, band: float = DEFAULT_JUMP_BAND, feed_name: str = ""):
        self.rejected_rows: list[RejectedRow] = []
        self._lines: dict[int, tuple[Tick, int]] = {}
        super().__init__(band, path_order=True, on_reject=self._record, feed_name=feed_name)
        self.table = table
        self._last_ts = np.zeros(0)
        self._last_price = np.zeros(0)
        self._dirty = np.zeros(0, dtype=bool)  # series taken in bulk since the dictionaries were last told
        self._newest = -math.inf  # last_tick_ts as a float (-inf: none yet)

    @property
    def newest_ts(self) -> float | None:
        """Unix time (s) of the newest tick taken so far (None before the first)."""
        return None if self._newest == -math.inf else self._newest

    def _record(self, tick: Tick, reason: str, detail: str) -> None:
        line = self._lines[id(tick)][1]
        self.rejected_rows.append(RejectedRow(line, reason, tick.symbol, tick.ts, tick.price, detail, tick.venue))

    def _grow(self) -> None:
        n = len(self.table)
        if len(self._last_ts) < n:
            extra = n - len(self._last_ts)
            self._last_ts = np.concatenate([self._last_ts, np.full(extra, np.nan)])
            self._last_price = np.concatenate([self._last_price, np.full(extra, np.nan)])
            self._dirty = np.concatenate([self._dirty, np.zeros(extra, dtype=bool)])

    # -- one chunk --------------------------------------------------------------------------------

    def run(self, chunk: PathChunk) -> Handed:
        """Check every row of ``chunk`` in order; the ticks handed out."""
        self._grow()
        n = len(chunk)
        parts: list[tuple[np.ndarray, ...]] = []
        one_rows: list[int] = []
        one_ticks: list[Tick] = []
        r = 0
        window = 1024
        while r < n:
            if self._held:
                self._one(chunk, r, one_rows, one_ticks)
                r += 1
                continue
            end = min(n, r + window)
            taken = self._clean_run(chunk, r, end)
            if taken:
                if one_rows:
                    parts.append(self._flush(one_rows, one_ticks))
                parts.append(self._take(chunk, r, r + taken))
                r += taken
            if r < end:
                self._one(chunk, r, one_rows, one_ticks)
                r += 1
                window = 1024
            else:
                window = min(window * 2, 1 << 16)
        if one_rows:
            parts.append(self._flush(one_rows, one_ticks))
        if not parts:
            empty = np.zeros(0)
            return Handed(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32), empty, empty.copy())
        return Handed(*(np.concatenate([p[i] for p in parts]) for i in range(4)))

    def finish(self) -> None:
        """The path's end: a move still held has no next price to confirm it (``unconfirmed``)."""
        self._tell()
        self.reject_unconfirmed()
        self._lines.clear()

    # -- the bulk rows ----------------------------------------------------------------------------

    def _clean_run(self, chunk: PathChunk, a: int, b: int) -> int:
        """How many rows from ``a`` the guard takes at once, one after the other (nothing held)."""
        code = chunk.code[a:b]
        ts = chunk.ts[a:b]
        price = chunk.price[a:b]
        ok = code >= 0
        ok &= (price >= _MIN_PRICE) & (price <= _MAX_PRICE)  # price_in_bounds (NaN fails)
        ok &= (ts >= -MAX_TS_S) & (ts <= MAX_TS_S)  # a finite time in seconds
        newest = np.empty_like(ts)
        newest[0] = self._newest
        if len(ts) > 1:
            np.maximum.accumulate(ts[:-1], out=newest[1:])
            np.maximum(newest[1:], self._newest, out=newest[1:])
        ok &= ts >= newest  # path order: not older than any tick taken
        stop = int(np.argmin(ok)) if not ok.all() else len(ok)
        if stop == 0:
            return 0
        code, price = code[:stop], price[:stop]
        order = np.argsort(code.astype(np.int16) if len(self.table) < 32768 else code, kind="stable")
        c = code[order]
        p = price[order]
        reference = np.empty_like(p)  # each row's previous price of its series
        reference[1:] = p[:-1]
        first = np.flatnonzero(c[1:] != c[:-1]) + 1  # a series' first row in the window
        first = np.concatenate([[0], first])
        reference[first] = self._last_price[c[first]]
        with np.errstate(invalid="ignore"):
            within = np.isnan(reference) | (np.abs(p / reference - 1.0) <= self.band)  # TickGuard._decide
        if within.all():
            return stop
        return min(stop, int(order[~within].min()))

    def _take(self, chunk: PathChunk, a: int, b: int) -> tuple[np.ndarray, ...]:
        code = chunk.code[a:b]
        last = np.full(len(self._last_ts), -1, dtype=np.intp)
        np.maximum.at(last, code, np.arange(b - a, dtype=np.intp))
        seen = np.flatnonzero(last >= 0)
        self._last_ts[seen] = chunk.ts[a:b][last[seen]]
        self._last_price[seen] = chunk.price[a:b][last[seen]]
        self._dirty[seen] = True
        self.accepted += b - a
        self._newest = max(self._newest, float(chunk.ts[b - 1]))  # times do not go back within the run
        return np.arange(a, b, dtype=np.intp), code.copy(), chunk.ts[a:b].copy(), chunk.price[a:b].copy()

    # -- one row through TickGuard ------------------------------------------------------------------

    def _tell(self) -> None:
        """Bring TickGuard's dictionaries up to date with the rows taken in bulk."""
        keys = self.table.keys
        for c in np.flatnonzero(self._dirty):
            self._last[keys[c]] = (float(self._last_ts[c]), float(self._last_price[c]))
        self._dirty[:] = False
        self.last_tick_ts = None if self._newest == -math.inf else self._newest

    def _one(self, chunk: PathChunk, r: int, rows: list[int], ticks: list[Tick]) -> None:
        """Row ``r`` through TickGuard's own checks (a bad row, a jump, a held move's decision)."""
        self._tell()
        code = int(chunk.code[r])
        if code < 0:
            bad = _malformed(chunk.bad[r])  # as ReplayFeed.poll does
            self.rejected_rows.append(bad)
            self.reject(MALFORMED, bad)
            return
        venue, symbol = self.table.keys[code]
        tick = Tick(symbol=symbol, ts=float(chunk.ts[r]), price=float(chunk.price[r]), venue=venue or None)
        self._lines[id(tick)] = (tick, int(chunk.line[r]))
        for out in self.check([tick]):
            rows.append(r)
            ticks.append(out)
        held = {id(t) for t in self._held.values()}
        self._lines = {k: v for k, v in self._lines.items() if k in held}
        for key in {tick.key} | {t.key for t in self._held.values()}:
            known = self._last.get(key)
            if known is not None:
                c = self.table.code(key)
                self._last_ts[c], self._last_price[c] = known
        self._newest = -math.inf if self.last_tick_ts is None else float(self.last_tick_ts)

    def _flush(self, rows: list[int], ticks: list[Tick]) -> tuple[np.ndarray, ...]:
        out = (np.array(rows, dtype=np.intp), np.array([self.table.code(t.key) for t in ticks], dtype=np.int32),
               np.array([t.ts for t in ticks], dtype=np.float64), np.array([t.price for t in ticks], dtype=np.float64))
        rows.clear()
        ticks.clear()
        return out
