"""The sanity check every tick passes before the desk sees it: bad prices never act, real crashes do.

Per tick, a tick is rejected, counted by reason and logged (logger ``isodesk.feed``, DEBUG) when:

- ``unknown_symbol``: an allow-list was given and the symbol is not on it;
- ``not_finite``: the price or the timestamp is NaN or infinite (or not a number at all);
- ``non_positive``: the price is <= 0;
- ``out_of_bounds``: the price is outside :func:`isodesk.margin.bounds.price_in_bounds`
  (10^-12 … 10^12 quote per coin: ``1e-300`` and ``1e300`` are no prices);
- ``ts_milliseconds``: the timestamp is above :data:`MAX_TS_S` (10^11 s, the year 5138), so it can
  only be milliseconds (or finer) written where seconds belong;
- ``future``: the timestamp is more than :data:`FUTURE_TOLERANCE_S` (10 s) after the ``now`` given
  to :meth:`TickGuard.check` (only feeds whose clock is wall time give one; a replay does not);
- ``time_backwards``: the timestamp is older than the last accepted (or held) tick of the same
  series; with ``path_order`` (a replay: one timeline) older than the newest accepted tick of any
  series. An equal timestamp is accepted.

Every rule that compares a tick with earlier ones works per **series** ``(venue, market)``
(:attr:`~isodesk.feeds.base.Tick.key`): Bybit's BTCUSDT, Binance's BTCUSDT and the reference
BTCUSDT price are three series, so a bad Bybit tick never holds back or rejects a Binance one,
and a basis between two venues is never taken for a jump.

None of these rejected ticks becomes a reference for later ones, so one bad row (a millisecond
stamp, a stamp from next year) never blocks the good ticks after it.

The jump rule (two ticks of one series decide it). A tick whose price moved more than ``band``
(fraction, default 0.5 = 50 %) from the last accepted price of its series is **held**: not handed
out, not a reference, until the next good tick of that series decides:

- the next price is also beyond the band, on the same side: the move persisted, it is real. The
  held tick is accepted and handed out, immediately followed by the confirming tick (measured
  against the held price, now the reference: normally within the band and accepted; if it is
  itself a jump from there it is held in turn). The held tick is handed out too, not just the
  confirming one, because it is a real price: the extreme of a crash must reach the ``prices``
  table and the desk, in the same poll as its confirmation, so that a position whose liquidation
  price the crash crossed can be liquidated even when the confirming bar has rebounded a little
  above that price (a desk that marks each series by the last tick of a poll only, acts on the
  confirming price alone);
- the next price is back within the band of the reference, or beyond it on the other side: the
  held tick was a lone spike and is rejected as ``jump``; the next tick is then judged as usual
  against the unchanged reference.

A held tick whose next price never comes (the end of a replay file) is rejected as
``unconfirmed`` by :meth:`TickGuard.reject_unconfirmed`. The first tick of a series has no
reference and is taken if it passes the per-tick rules (a wrong first price is replaced as soon as
the next two good prices agree with each other).

Prices read back from the ``prices`` table pass the same per-tick rules through
:func:`stored_price_problem`. Feeds may add their own reasons through :meth:`TickGuard.reject`
(e.g. ``malformed`` rows).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from isodesk.feeds.base import FrozenCounts, Tick
from isodesk.margin.bounds import price_in_bounds

log = logging.getLogger("isodesk.feed")

UNKNOWN_SYMBOL = "unknown_symbol"
NOT_FINITE = "not_finite"
NON_POSITIVE = "non_positive"
OUT_OF_BOUNDS = "out_of_bounds"
TS_MILLISECONDS = "ts_milliseconds"
FUTURE = "future"
TIME_BACKWARDS = "time_backwards"
JUMP = "jump"
UNCONFIRMED = "unconfirmed"
MALFORMED = "malformed"
REASONS = (NOT_FINITE, NON_POSITIVE, OUT_OF_BOUNDS, TS_MILLISECONDS, FUTURE, TIME_BACKWARDS, JUMP, UNCONFIRMED,
           UNKNOWN_SYMBOL, MALFORMED)

DEFAULT_JUMP_BAND = 0.5
#: The largest Unix time in seconds a tick may carry: 10^11 s is the year 5138, while 10^11 ms is
#: 1973. A larger stamp can only be milliseconds (or micro-, nanoseconds) written as seconds.
MAX_TS_S = 1e11
#: How far (s) a wall-clock tick may be stamped after the ``now`` it is checked at (clock skew).
FUTURE_TOLERANCE_S = 10.0

#: ``on_reject(tick, reason, detail)``: told of every tick the guard rejects, when it is decided.
RejectHook = Callable[[Tick, str, str], None]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def price_problem(price: float) -> str | None:
    """Why ``price`` (quote per coin) is no mark price: ``not_finite``, ``non_positive``, ``out_of_bounds``; or None."""
    if not _is_number(price) or not math.isfinite(price):
        return NOT_FINITE
    if price <= 0:
        return NON_POSITIVE
    if not price_in_bounds(float(price)):
        return OUT_OF_BOUNDS
    return None


def ts_problem(ts: float, now: float | None = None, tolerance_s: float = FUTURE_TOLERANCE_S) -> str | None:
    """Why ``ts`` (Unix s) is no tick time: ``not_finite``, ``ts_milliseconds``, ``future`` (only when
    ``now``, the wall Unix time, is given and finite); or None."""
    if not _is_number(ts) or not math.isfinite(ts):
        return NOT_FINITE
    if ts > MAX_TS_S:
        return TS_MILLISECONDS
    if now is not None and math.isfinite(now) and ts > now + tolerance_s:
        return FUTURE
    return None


def stored_price_problem(ts: float, price: float, now: float | None) -> str | None:
    """Why a ``(ts, price)`` row read back from the ``prices`` table must not be used as a mark, or None.

    The guard's per-tick rules, one by one: the price within bounds (``not_finite``,
    ``non_positive``, ``out_of_bounds``), the time in seconds (``not_finite``,
    ``ts_milliseconds``) and not more than :data:`FUTURE_TOLERANCE_S` after ``now`` (``future``;
    pass ``now=None`` when the clock is not wall time, e.g. a replay's). The order and jump
    rules need the neighbouring rows: a reader that wants them feeds the rows to a
    :class:`TickGuard`. Example: ``stored_price_problem(1_717_200_000_000.0, 60_000.0, now)`` is
    ``"ts_milliseconds"``; ``stored_price_problem(now - 5, 1e-300, now)`` is ``"out_of_bounds"``.
    """
    return ts_problem(ts, now) or price_problem(price)


def _move(price: float, reference: float) -> float:
    return price / reference - 1.0


def _when(ts: float) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"{ts:.6g}"


def _price_problem_text(price: float) -> tuple[str, str] | None:
    reason = price_problem(price)
    if reason == NOT_FINITE:
        return reason, f"price {price!r} is not a finite number"
    if reason == NON_POSITIVE:
        return reason, f"price {price!r} is not above 0"
    if reason == OUT_OF_BOUNDS:
        return reason, f"price {price!r} is outside 10^-12 to 10^12"
    return None


def _ts_problem_text(ts: float, now: float | None, tolerance_s: float) -> tuple[str, str] | None:
    reason = ts_problem(ts, now, tolerance_s)
    if reason == NOT_FINITE:
        return reason, f"ts {ts!r} is not a finite time"
    if reason == TS_MILLISECONDS:
        return reason, (f"ts {ts:.0f} is after the year 5138 as seconds: milliseconds (it would be "
                        f"{_when(ts / 1000.0)}); write Unix seconds")
    if reason == FUTURE and now is not None:
        return reason, f"ts {_when(ts)} is {ts - now:.1f} s after now ({_when(now)})"
    return None


class TickGuard:
    """Accepts good ticks, holds big moves until the next price decides, counts the bad by reason.

    ``band``: the largest relative move between two accepted ticks of one series (venue, market)
    taken without confirmation (fraction, 0.5 = 50 %). ``symbols``: an optional allow-list of markets.
    ``future_tolerance_s``: seconds a tick may be stamped after ``now`` (when ``check`` is given
    one). ``path_order``: ticks form one timeline (a replay), so a tick older than the newest
    accepted one of any market is ``time_backwards``. ``on_reject``: told of each rejected tick with
    its reason and a sentence saying why (a replay lists them by line). See the module docstring.
    """

    def __init__(self, band: float = DEFAULT_JUMP_BAND, *, symbols: Iterable[str] | None = None,
                 future_tolerance_s: float = FUTURE_TOLERANCE_S, path_order: bool = False,
                 on_reject: RejectHook | None = None, feed_name: str = ""):
        if not (math.isfinite(band) and band > 0):
            raise ValueError(f"band: {band!r} must be a positive fraction (0.5 = 50 %)")
        if not (math.isfinite(future_tolerance_s) and future_tolerance_s >= 0):
            raise ValueError(f"future_tolerance_s: {future_tolerance_s!r} must be >= 0 seconds")
        self.band = float(band)
        self.allowed: frozenset[str] | None = None if symbols is None else frozenset(symbols)
        self.future_tolerance_s = float(future_tolerance_s)
        self.path_order = path_order
        self.on_reject = on_reject
        self.feed_name = feed_name
        self.accepted = 0
        self._rejected: dict[str, int] = {}
        self._last: dict[tuple[str, str], tuple[float, float]] = {}  # series -> (ts, price) of the last accepted tick
        self._held: dict[tuple[str, str], Tick] = {}  # series -> a tick beyond the band awaiting the next price
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

    @property
    def held(self) -> tuple[Tick, ...]:
        """The ticks held now, awaiting the next price of their series (neither accepted nor rejected yet)."""
        return tuple(self._held.values())

    def last_accepted(self, symbol: str, venue: str | None = None) -> tuple[float, float] | None:
        """``(ts, price)`` of the last accepted tick of the series ``(venue, symbol)`` (Unix s, quote per
        coin; venue None: the reference series), or None."""
        return self._last.get((venue or "", symbol))

    def seed(self, prices: Mapping[tuple[str, str], tuple[float, float]]) -> None:
        """Take ``{(venue, market): (ts, price)}`` (the book's stored prices, already through
        :func:`stored_price_problem`) as the last accepted price of each series that has none yet,
        so the first live tick of a series is checked against them like any later one. Nothing is
        handed out or counted."""
        for key, (ts, price) in prices.items():
            self._last.setdefault(key, (float(ts), float(price)))

    def reject(self, reason: str, detail: object = None) -> None:
        """Count one rejection under ``reason`` (for checks a feed makes itself) and log it at DEBUG."""
        self._rejected[reason] = self._rejected.get(reason, 0) + 1
        log.debug("%s: rejected tick (%s): %s", self.feed_name or "feed", reason, detail)

    def _reject_tick(self, tick: Tick, reason: str, detail: str) -> None:
        self.reject(reason, f"{tick}: {detail}")
        if self.on_reject is not None:
            self.on_reject(tick, reason, detail)

    # -- the check --------------------------------------------------------------------------------

    def check(self, ticks: Iterable[Tick], now: float | None = None) -> list[Tick]:
        """The ticks of ``ticks`` to hand out, in order; updates counts, references and held ticks.

        ``now`` (wall Unix s) enables the ``future`` rule; leave it None when the ticks' clock is not
        wall time. A held tick that the next price confirms is handed out just before that price.
        """
        out: list[Tick] = []
        for tick in ticks:
            problem = self._problem(tick, now)
            if problem is None:
                self._decide(tick, out)
            else:
                self._reject_tick(tick, *problem)
        return out

    def reject_unconfirmed(self) -> list[Tick]:
        """Reject every held tick as ``unconfirmed`` (no next price will come: a replay's end); returns them."""
        held, self._held = list(self._held.values()), {}
        for tick in held:
            reference = self._last[tick.key][1]
            self._reject_tick(tick, UNCONFIRMED, f"a {_move(tick.price, reference):+.1%} move from {reference:g} "
                                                 f"that no later price of {tick.label()} confirmed")
        return held

    def _problem(self, tick: Tick, now: float | None) -> tuple[str, str] | None:
        """The per-tick rules: ``(reason, why)`` for a tick to reject, None for one to judge for jumps."""
        if self.allowed is not None and tick.symbol not in self.allowed:
            return UNKNOWN_SYMBOL, f"{tick.symbol!r} is not among the markets priced"
        price, ts = tick.price, tick.ts
        if not (type(price) is float and price_in_bounds(price)):  # the common case costs one call
            problem = _price_problem_text(price)
            if problem is not None:
                return problem
        if not (type(ts) is float and -MAX_TS_S <= ts <= MAX_TS_S) or (now is not None and ts > now +
                                                                         self.future_tolerance_s):
            problem = _ts_problem_text(ts, now, self.future_tolerance_s)
            if problem is not None:
                return problem
        key = tick.key
        last = self._last.get(key)
        newest = None if last is None else last[0]
        held = self._held.get(key) if self._held else None
        if held is not None and (newest is None or held.ts > newest):
            newest = held.ts
        if self.path_order and self.last_tick_ts is not None and (newest is None or self.last_tick_ts > newest):
            newest = self.last_tick_ts
        if newest is not None and ts < newest:
            return TIME_BACKWARDS, f"ts {_when(ts)} is older than {_when(newest)}, already taken"
        return None

    def _decide(self, tick: Tick, out: list[Tick]) -> None:
        """Accept, hold, or settle a held tick with ``tick`` (a tick that passed the per-tick rules)."""
        key = tick.key
        last = self._last.get(key)
        held = self._held.pop(key, None) if self._held else None
        if last is None:
            self._accept(tick, out)
            return
        reference = last[1]
        move = tick.price / reference - 1.0
        if held is None:
            if abs(move) <= self.band:
                self._accept(tick, out)
            else:
                self._held[key] = tick
                log.debug("%s: holding %s (%+.1f %% from %g) until the next price", self.feed_name or "feed",
                          tick, move * 100, reference)
            return
        held_move = _move(held.price, reference)
        if abs(move) > self.band and (move > 0) == (held_move > 0):
            log.info("%s: %s moved %+.1f %% (%g -> %g), confirmed by the next price %g: taken",
                     self.feed_name or "feed", tick.label(), held_move * 100, reference, held.price, tick.price)
            self._accept(held, out)
        else:
            self._reject_tick(held, JUMP, f"a {held_move:+.1%} move from {reference:g} that the next price "
                                          f"{tick.price:g} did not confirm")
        self._decide(tick, out)  # nothing is held now: at most one more level

    def _accept(self, tick: Tick, out: list[Tick]) -> None:
        self._last[tick.key] = (tick.ts, tick.price)
        self.accepted += 1
        if self.last_tick_ts is None or tick.ts > self.last_tick_ts:
            self.last_tick_ts = tick.ts
        out.append(tick)
