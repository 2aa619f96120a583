"""The sanity check every tick passes before the desk sees it.

A tick is rejected, counted by reason and logged (logger ``isodesk.feed``, DEBUG) when:

- ``unknown_symbol``: an allow-list was given and the symbol is not on it;
- ``not_finite``: the price or the timestamp is NaN or infinite;
- ``non_positive``: the price is <= 0;
- ``time_backwards``: the timestamp is older than the last accepted tick of the same symbol
  (an equal timestamp is accepted);
- ``jump``: ``|price / last_accepted_price - 1| > band`` for the same symbol (default band 0.5,
  i.e. a 50 % move between two accepted ticks). The first tick of a symbol has no reference and
  is not jump-checked.

Feeds may add their own reasons through :meth:`TickGuard.reject` (e.g. ``malformed`` rows).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping

from isodesk.feeds.base import FrozenCounts, Tick

log = logging.getLogger("isodesk.feed")

UNKNOWN_SYMBOL = "unknown_symbol"
NOT_FINITE = "not_finite"
NON_POSITIVE = "non_positive"
TIME_BACKWARDS = "time_backwards"
JUMP = "jump"
REASONS = (NOT_FINITE, NON_POSITIVE, JUMP, TIME_BACKWARDS, UNKNOWN_SYMBOL)

DEFAULT_JUMP_BAND = 0.5


class TickGuard:
    """Accepts good ticks and counts the bad ones by reason.

    ``band`` is the largest accepted relative move between two accepted ticks of one symbol
    (fraction, 0.5 = 50 %). ``symbols`` is an optional allow-list. ``confirm_after`` (None, off,
    by default) re-anchors a symbol whose price really moved beyond the band: once that many
    consecutive ``jump`` rejections agreed with each other within the band, the next agreeing
    tick is accepted as the new reference, so a genuine gap does not freeze the symbol forever.
    """

    def __init__(self, band: float = DEFAULT_JUMP_BAND, *, symbols: Iterable[str] | None = None,
                 confirm_after: int | None = None, feed_name: str = ""):
        if not (math.isfinite(band) and band > 0):
            raise ValueError(f"band: {band!r} must be a positive fraction (0.5 = 50 %)")
        if confirm_after is not None and confirm_after < 1:
            raise ValueError(f"confirm_after: {confirm_after!r} must be >= 1 or None")
        self.band = float(band)
        self.allowed: frozenset[str] | None = None if symbols is None else frozenset(symbols)
        self.confirm_after = confirm_after
        self.feed_name = feed_name
        self.accepted = 0
        self._rejected: dict[str, int] = {}
        self._last: dict[str, tuple[float, float]] = {}  # symbol -> (ts, price) of the last accepted tick
        self._pending_jump: dict[str, tuple[int, float]] = {}  # symbol -> (run length, last rejected price)
        self.last_tick_ts: float | None = None

    # -- counts -----------------------------------------------------------------------------------

    @property
    def rejected(self) -> int:
        """Ticks rejected so far, all reasons together."""
        return sum(self._rejected.values())

    @property
    def rejected_by_reason(self) -> Mapping[str, int]:
        """A read-only copy of the rejection counts by reason (only reasons that occurred)."""
        return FrozenCounts(self._rejected)

    def last_accepted(self, symbol: str) -> tuple[float, float] | None:
        """``(ts, price)`` of the last accepted tick of ``symbol`` (Unix s, quote per coin), or None."""
        return self._last.get(symbol)

    def reject(self, reason: str, detail: object = None) -> None:
        """Count one rejection under ``reason`` (for checks a feed makes itself) and log it at DEBUG."""
        self._rejected[reason] = self._rejected.get(reason, 0) + 1
        log.debug("%s: rejected tick (%s): %s", self.feed_name or "feed", reason, detail)

    # -- the check --------------------------------------------------------------------------------

    def check(self, ticks: Iterable[Tick]) -> list[Tick]:
        """The accepted ticks of ``ticks``, in their order; updates counts and last accepted prices."""
        accepted: list[Tick] = []
        for tick in ticks:
            reason = self._reason(tick)
            if reason is None:
                self._accept(tick)
                accepted.append(tick)
            else:
                self.reject(reason, tick)
        return accepted

    def _accept(self, tick: Tick) -> None:
        self._last[tick.symbol] = (tick.ts, tick.price)
        self._pending_jump.pop(tick.symbol, None)
        self.accepted += 1
        if self.last_tick_ts is None or tick.ts > self.last_tick_ts:
            self.last_tick_ts = tick.ts

    def _reason(self, tick: Tick) -> str | None:
        if self.allowed is not None and tick.symbol not in self.allowed:
            return UNKNOWN_SYMBOL
        price, ts = tick.price, tick.ts
        if not (isinstance(price, (int, float)) and isinstance(ts, (int, float))):
            return NOT_FINITE
        if not (math.isfinite(price) and math.isfinite(ts)):
            return NOT_FINITE
        if price <= 0:
            return NON_POSITIVE
        last = self._last.get(tick.symbol)
        if last is None:
            return None
        last_ts, last_price = last
        if ts < last_ts:
            return TIME_BACKWARDS
        if abs(price / last_price - 1.0) > self.band:
            return self._jump(tick)
        return None

    def _jump(self, tick: Tick) -> str | None:
        if self.confirm_after is None:
            return JUMP
        run, previous = self._pending_jump.get(tick.symbol, (0, tick.price))
        run = run + 1 if abs(tick.price / previous - 1.0) <= self.band else 1
        if run > self.confirm_after:
            log.info("%s: %s re-anchored at %r after %d consistent jump rejections",
                     self.feed_name or "feed", tick.symbol, tick.price, self.confirm_after)
            return None
        self._pending_jump[tick.symbol] = (run, tick.price)
        return JUMP
