"""Marks read back from the ``prices`` table, through the same tick guard as live ticks.

Another program may write the ``prices`` table (the sqlite feed invites it), so a stored price is
data from outside like any tick: before the desk or a feed starts from it, each market's recent
stored rows are replayed through a :class:`~isodesk.feeds.guard.TickGuard` in time order, and the
market's mark is the guard's last *accepted* price. A lone spike at the end (a price the next one
has not confirmed yet) is therefore not used: the price before it is; a move confirmed by a later
row is used. Rows in the future, in milliseconds or out of bounds never count.
"""

from __future__ import annotations

from isodesk.feeds.base import Tick
from isodesk.feeds.guard import TickGuard
from isodesk.store import Store

LOOKBACK_ROWS = 64


def guarded_latest_prices(store: Store, now: float, *, symbols: set[str] | None = None,
                          lookback: int = LOOKBACK_ROWS) -> dict[str, tuple[float, float]]:
    """market → ``(ts, price)`` (Unix s, quote per coin) of its last stored price the tick guard accepts
    at wall time ``now``, from the last ``lookback`` stored rows of each market."""
    out: dict[str, tuple[float, float]] = {}
    for symbol in sorted(store.latest_prices(now=now)):
        if symbols is not None and symbol not in symbols:
            continue
        rows = store.price_history(symbol, limit=lookback)
        guard = TickGuard(feed_name="stored prices")
        guard.check([Tick(symbol=symbol, ts=ts, price=price) for ts, price in rows], now=now)
        last = guard.last_accepted(symbol)
        if last is not None:
            out[symbol] = last
    return out
