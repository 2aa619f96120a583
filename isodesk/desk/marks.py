"""Which price marks each position: its own venue's, or the market's reference price until then.

Prices are kept per series ``(venue, market)`` (:mod:`isodesk.margin.markets`): the mark a venue
publishes for a market, or, with venue ``""``, a reference price of the market (a price file
without venues, the demo's starting marks). The rule, for a position on venue V in market M:

1. It is marked by its **own** series (V, M) once that series is *established*: a tick of it
   came from the feed in this run, or, under a wall-clock feed, the book held a price of it that
   was fresh (not older than the staleness limit) when the desk read the stored prices.
2. Until then it is marked by the **reference** series ("", M) when there is a reference price;
   with none, by its own series' stored price if there is one (stale: shown, never acted on).
3. Once its own series is established, a reference price never marks it again in this run: when
   the venue's price goes quiet the position turns **stale** (it keeps its last own mark), even
   while reference prices keep coming; a stale position is never liquidated. This is the safe
   answer: a price that is not the venue's never liquidates a position the venue has priced.
4. Only a fresh tick of the series that marks a position, in this step, can liquidate it: a
   Binance BTCUSDT price never liquidates a Hyperliquid BTC position. The very first price of a
   series (no stored or earlier price) marks but never liquidates: the tick guard had no earlier
   price to check it against; the next price, which the guard checks against it, can.

Under a replay (the ticks' clock) stored prices belong to another timeline: they never
establish a series, so a reference path marks every venue's positions of its markets even in a
book that once had live venue prices; a venue row of the path establishes its series as usual.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from isodesk.desk.book import LoadedBook
from isodesk.feeds.base import Tick
from isodesk.margin.markets import REFERENCE, PriceKey


@dataclass(frozen=True, slots=True)
class RowMarks:
    """Per row of a book: ``mark`` (quote per coin, NaN: no price), ``ts`` (Unix s of that price),
    ``own`` (True: marked by its venue's own series; False: by the reference, or by nothing),
    ``ticked`` (its marking series had accepted ticks in this step), ``low``/``high`` (the lowest and
    highest of those ticks, NaN when none)."""

    mark: np.ndarray
    ts: np.ndarray
    own: np.ndarray
    ticked: np.ndarray
    low: np.ndarray
    high: np.ndarray


class MarkBoard:
    """The latest price of every series and the rule of the module docstring.

    ``tick_clock``: the feed's clock is its ticks' time (a replay), so stored prices never
    establish a series. Not thread-safe: the desk's thread owns it.
    """

    def __init__(self, *, tick_clock: bool = False):
        self.tick_clock = tick_clock
        self._price: dict[PriceKey, float] = {}
        self._ts: dict[PriceKey, float] = {}
        self._established: set[PriceKey] = set()
        self._checked: set[PriceKey] = set()  # series whose next tick the guard checks against a known price
        self._low: dict[PriceKey, float] = {}
        self._high: dict[PriceKey, float] = {}
        self.fresh: frozenset[PriceKey] = frozenset()

    def take_stored(self, prices: Mapping[PriceKey, tuple[float, float]], now: float, stale_after_s: float) -> None:
        """Take stored prices ``{(venue, market): (ts, price)}`` read at wall time ``now`` (Unix s): a
        newer one replaces an older price of its series; a venue's price fresh within
        ``stale_after_s`` seconds establishes its series (not under a replay)."""
        for key, (ts, price) in prices.items():
            if ts >= self._ts.get(key, -math.inf):
                self._price[key], self._ts[key] = price, ts
            if not self.tick_clock:  # the live feed's guard is seeded with them (Desk): its ticks are checked
                self._checked.add(key)
            if key[0] != REFERENCE and not self.tick_clock and now - ts <= stale_after_s:
                self._established.add(key)

    def begin_step(self) -> None:
        """Forget the previous step's ticks (what is fresh, the step's extremes)."""
        self._low, self._high = {}, {}
        self.fresh = frozenset()

    def take_ticks(self, ticks: Iterable[Tick]) -> None:
        """Take a step's accepted ticks, in order: the last of a series is its price; each venue's
        series becomes established; the step's lowest and highest price of each series are kept."""
        low, high = self._low, self._high
        fresh = set(self.fresh)
        for t in ticks:
            key = t.key
            unchecked = key not in self._checked  # no earlier price of the series: the guard had nothing to check it by
            self._checked.add(key)
            self._price[key], self._ts[key] = t.price, t.ts
            if key[0] != REFERENCE:
                self._established.add(key)
            if unchecked:
                continue  # it marks, but cannot liquidate: the series' next price, checked against it, can
            low[key] = min(low.get(key, t.price), t.price)
            high[key] = max(high.get(key, t.price), t.price)
            fresh.add(key)
        self.fresh = frozenset(fresh)

    def price(self, key: PriceKey) -> tuple[float, float] | None:
        """``(ts, price)`` of a series, or None."""
        price = self._price.get(key)
        return None if price is None else (self._ts[key], price)

    def established(self, key: PriceKey) -> bool:
        """True once a venue's own series marks its positions (see the module docstring)."""
        return key in self._established

    def marking(self, venue: str, market: str) -> PriceKey:
        """The series that marks a position of ``venue`` in ``market`` now (rules 1 and 2)."""
        own = (venue, market)
        if own in self._established or ((REFERENCE, market) not in self._price and own in self._price):
            return own
        return (REFERENCE, market)

    def rows(self, book: LoadedBook) -> RowMarks:
        """Each row's mark by the rule (vectorised over the book's series and markets); closed rows
        too (the desk replaces their marks by the frozen ones)."""
        own_keys = book.series
        ref_keys = [(REFERENCE, m) for m in book.markets]
        own_price, own_ts, own_low, own_high, own_fresh = self._columns(own_keys)
        ref_price, ref_ts, ref_low, ref_high, ref_fresh = self._columns(ref_keys)
        if not len(book):
            empty = np.zeros(0)
            return RowMarks(empty, empty.copy(), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), empty.copy(),
                            empty.copy())
        oi, mi = book.series_index, book.market_index
        established = np.array([k in self._established for k in own_keys], dtype=bool)[oi]
        own = established | (~np.isnan(own_price[oi]) & np.isnan(ref_price[mi]))
        return RowMarks(mark=np.where(own, own_price[oi], ref_price[mi]), ts=np.where(own, own_ts[oi], ref_ts[mi]),
                        own=own, ticked=np.where(own, own_fresh[oi], ref_fresh[mi]),
                        low=np.where(own, own_low[oi], ref_low[mi]), high=np.where(own, own_high[oi], ref_high[mi]))

    def _columns(self, keys: list[PriceKey] | tuple[PriceKey, ...]) -> tuple[np.ndarray, ...]:
        nan = math.nan
        price = np.array([self._price.get(k, nan) for k in keys], dtype=np.float64)
        ts = np.array([self._ts.get(k, nan) for k in keys], dtype=np.float64)
        low = np.array([self._low.get(k, nan) for k in keys], dtype=np.float64)
        high = np.array([self._high.get(k, nan) for k in keys], dtype=np.float64)
        fresh = np.array([k in self.fresh for k in keys], dtype=bool)
        return price, ts, low, high, fresh
