"""The one small interface every price source implements: :class:`Tick`, :class:`FeedHealth`, :class:`Feed`.

A feed's ``poll(now)`` hands out the ticks that arrived since the last poll, already checked by a
:class:`~isodesk.feeds.guard.TickGuard` (bad ticks are counted, never handed out; a move beyond the
sanity band waits for the next tick of its series, which hands it out if it confirms it); ``health(now)``
says whether the source is connected, how old its last tick is and how many ticks it refused.
Times are Unix seconds (float); prices are mark prices in quote currency per coin.

A tick belongs to a **series** ``(venue, market)`` (:attr:`Tick.key`): the mark one venue publishes
for a market, or, when ``venue`` is None, a reference price of the market (see
:mod:`isodesk.margin.markets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class FeedError(Exception):
    """A feed cannot be built: a bad spec, an unreadable or malformed file. Never raised by ``poll``."""


@dataclass(frozen=True, slots=True)
class Tick:
    """One mark price: ``symbol`` (market name, e.g. ``BTCUSDT``), ``ts`` (Unix seconds), ``price`` (quote
    per coin) and ``venue``, the isodesk venue that published it (``hyperliquid``), or None for a
    reference price of the market that marks every venue's position until the venue's own price comes."""

    symbol: str
    ts: float
    price: float
    venue: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The tick's series ``(venue, symbol)``, venue ``""`` for a reference price."""
        return (self.venue or "", self.symbol)

    def label(self) -> str:
        """``hyperliquid BTCUSDT`` (``BTCUSDT`` for a reference price): the series in a message."""
        return f"{self.venue} {self.symbol}" if self.venue else self.symbol


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """A venue's funding rate of one market: ``rate`` (fraction per funding interval, a positive rate
    makes longs pay shorts) that will be applied at ``next_ts`` (Unix seconds), the venue's
    ``interval_s`` (seconds between payments) and ``ts``, when the quote was taken (Unix seconds).
    ``venue`` is the isodesk venue name; a quote always belongs to a venue (funding has no reference)."""

    venue: str
    symbol: str
    rate: float
    next_ts: float
    interval_s: float
    ts: float

    @property
    def key(self) -> tuple[str, str]:
        """The quote's series ``(venue, symbol)``, as :attr:`Tick.key`."""
        return (self.venue, self.symbol)


def funding_quotes(feed: object, now: float) -> list[FundingQuote]:
    """The funding quotes a feed has at Unix time ``now`` (s): its optional ``funding(now)`` hook, or
    none for a feed without funding (the interface is additive: every older feed keeps working)."""
    hook = getattr(feed, "funding", None)
    if hook is None:
        return []
    quotes = hook(now)
    return list(quotes) if quotes else []


class FrozenCounts(dict[str, int]):
    """A read-only ``dict`` of counts (reason → ticks): mutation raises TypeError.

    A dict subclass rather than a ``MappingProxyType`` so that ``json.dumps``,
    ``dataclasses.asdict``, ``copy.deepcopy`` and pickle keep working on a :class:`FeedHealth`.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("feed counts are read-only")

    __setitem__ = __delitem__ = __ior__ = _refuse  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[FrozenCounts], tuple[dict[str, int]]]:
        return (FrozenCounts, (dict(self),))

    def __copy__(self) -> FrozenCounts:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenCounts:
        return self


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """The state of a feed at one instant, safe to hand to another thread (immutable).

    ``last_tick_ts`` is the Unix time (s) of the newest accepted tick; ``last_tick_age_s`` is
    ``now - last_tick_ts`` in seconds for the ``now`` given to ``health()`` (None before the first
    tick). ``accepted`` / ``rejected`` count ticks since the feed was made; ``rejected_by_reason``
    (read-only) splits the rejections by the guard's reasons. ``finished`` is True for a replay
    that has played out. ``parts`` holds the health of each feed of a feed made of several (one
    live feed per venue), each on its own; empty for a single feed.
    """

    source: str
    connected: bool
    last_tick_ts: float | None
    last_tick_age_s: float | None
    accepted: int
    rejected: int
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)
    last_error: str | None = None
    finished: bool = False
    parts: tuple[FeedHealth, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.rejected_by_reason, FrozenCounts):
            object.__setattr__(self, "rejected_by_reason", FrozenCounts(self.rejected_by_reason))


@runtime_checkable
class Feed(Protocol):
    """A source of mark prices the desk polls from one thread.

    ``clock_from_ticks`` is True when the desk's clock is the ticks' time (a replay);
    ``writes_prices_table`` is True when the ticks are already in the ``prices`` table (the sqlite
    feed), so the desk must not store them again.

    Optional hooks the desk calls when a feed has them: ``follow_book(series)`` with the book's
    price series ``{(venue, market): start price}`` whenever the book is (re)loaded, so a feed can
    price what the book now holds (a new venue, a new market); ``pause``/``resume``/``set_speed``;
    ``funding(now) -> list[FundingQuote]``, the latest funding quote of each series the feed knows
    (read through :func:`funding_quotes`, which gives none for a feed without the hook).
    """

    name: str
    clock_from_ticks: bool
    writes_prices_table: bool

    def poll(self, now: float) -> list[Tick]:
        """The accepted ticks since the last poll, in time order per market; ``now`` is the caller's wall
        Unix time (s): ticks stamped more than 10 s after it are refused (not by a replay)."""
        ...

    def health(self, now: float) -> FeedHealth:
        """The feed's health at Unix time ``now`` (s)."""
        ...

    def close(self) -> None:
        """Release the source (files, connections). Idempotent."""
        ...


def tick_age(last_tick_ts: float | None, now: float) -> float | None:
    """Seconds from ``last_tick_ts`` to ``now`` (None when there was no tick or ``now`` is not finite)."""
    if last_tick_ts is None or not math.isfinite(now):
        return None
    return now - last_tick_ts
