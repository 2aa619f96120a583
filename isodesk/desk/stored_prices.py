"""Marks read back from the ``prices`` table, through the same tick guard as live ticks.

Another program may write the ``prices`` table (the sqlite feed invites it), so a stored price is
data from outside like any tick: before the desk or a feed starts from it, each price series'
(venue and market: a venue's own mark, or the market's reference price) recent stored rows are
replayed through a :class:`~isodesk.feeds.guard.TickGuard` in time order, and the series' mark is
the guard's last *accepted* price. A lone spike at the end (a price the next one has not
confirmed yet) is therefore not used: the price before it is; a move confirmed by a later row is
used. Rows in the future, in milliseconds or out of bounds never count. Series are guarded apart:
a bad Bybit row never rejects a good Binance one.
"""

from __future__ import annotations

from isodesk.feeds.base import Tick
from isodesk.feeds.guard import TickGuard
from isodesk.margin.markets import PriceKey
from isodesk.store import Store

LOOKBACK_ROWS = 64


def guarded_latest_prices(store: Store, now: float, *, symbols: set[str] | None = None,
                          lookback: int = LOOKBACK_ROWS) -> dict[PriceKey, tuple[float, float]]:
    """``(venue, market)`` → ``(ts, price)`` (Unix s, quote per coin; venue ``""``: the reference
    series) of each series' last stored price the tick guard accepts at wall time ``now``, from its
    last ``lookback`` stored rows; ``symbols`` keeps only those markets."""
    out: dict[PriceKey, tuple[float, float]] = {}
    for venue, symbol in sorted(store.latest_series_prices(now=now)):
        if symbols is not None and symbol not in symbols:
            continue
        rows = store.price_history(symbol, limit=lookback, venue=venue)
        guard = TickGuard(feed_name="stored prices")
        guard.check([Tick(symbol=symbol, ts=ts, price=price, venue=venue or None) for ts, price in rows], now=now)
        last = guard.last_accepted(symbol, venue or None)
        if last is not None:
            out[(venue, symbol)] = last
    return out


def latest_market_prices(prices: dict[PriceKey, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """market → ``(ts, price)`` of the newest of its series in ``prices`` (venues' own and reference; on a
    tie the reference): the market's last word, a start price, never a position's mark."""
    out: dict[str, tuple[float, float]] = {}
    for (_venue, market), (ts, price) in sorted(prices.items()):  # the reference ("") first
        seen = out.get(market)
        if seen is None or ts > seen[0]:
            out[market] = (ts, price)
    return out
