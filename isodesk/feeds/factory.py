"""Build a feed from its command-line spec: ``simulated``, ``replay:PATH[@SPEED]``, ``sqlite[:PATH]``, ``live[:VENUE]``.

``live:VENUE[,interval=S][,url=URL]`` polls one venue's mark prices through the optional ``live``
extra (ccxt); without it, a :class:`FeedError` says what to install. ``live`` alone runs one live
feed per venue the book holds open positions on, all at once, each in its own thread with its own
health (:class:`~isodesk.feeds.multi.FeedGroup`). ``simulated`` publishes each venue's own mark of
each market the book holds there. New kinds register a builder in :data:`BUILDERS`
(kind → function(argument, :class:`FeedContext`) → Feed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from isodesk.feeds.base import Feed, FeedError
from isodesk.feeds.multi import FeedGroup, venues_of
from isodesk.feeds.replay import ReplayFeed
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.feeds.sqlite_feed import SqlitePricesFeed
from isodesk.paths import live_install_hint


@dataclass(frozen=True)
class FeedContext:
    """What a builder may use: ``symbols`` (market → start price, quote per coin), ``db_path`` (the
    book the sqlite feed reads), ``seed`` (the simulated feed's) and ``series``: the book's open
    price series ``{(venue, market): start price}``, whose venues the simulated and live feeds price."""

    symbols: Mapping[str, float]
    db_path: str | Path | None = None
    seed: int = 7
    series: Mapping[tuple[str, str], float] = field(default_factory=dict)


Builder = Callable[[str, FeedContext], Feed]

SPECS = ("simulated", "replay:PATH[@SPEED]", "sqlite", "sqlite:PATH", "live", "live:VENUE")


def _simulated(arg: str, ctx: FeedContext) -> Feed:
    if arg:
        raise FeedError(f"simulated takes no argument, got 'simulated:{arg}'")
    symbols = dict(ctx.symbols)
    for (_venue, market), price in ctx.series.items():
        symbols.setdefault(market, price)
    try:
        return SimulatedFeed(symbols, seed=ctx.seed, venues={m: [v for v, mk in ctx.series if v and mk == m]
                                                             for m in symbols})
    except ValueError as exc:
        raise FeedError(f"simulated: {exc}") from None


def split_speed(arg: str) -> tuple[str, float | None]:
    """``PATH@SPEED`` → ``(PATH, SPEED)`` (speed in path seconds per wall second; ``10`` or ``10x``).

    The text after the last ``@`` counts as a speed only when it is a number, so a path holding an
    ``@`` still works; no ``@`` gives speed None (one instant per poll).
    """
    path, sep, tail = arg.rpartition("@")
    if not sep:
        return arg, None
    text = tail.strip().lower().removesuffix("x").removesuffix("×")
    try:
        speed = float(text)
    except ValueError:
        return arg, None
    if not (math.isfinite(speed) and speed > 0):
        raise FeedError(f"replay speed {tail!r} must be a positive number (path seconds per second)")
    return path, speed


def resolve_path_file(text: str) -> Path:
    """The replay file named by ``text``: as given, else a shipped path in ``resources/paths``."""
    path = Path(text).expanduser()
    if path.exists():
        return path
    try:
        from isodesk.paths import resource_path

        shipped = resource_path("paths", text)
        if shipped.exists():
            return shipped
        if not shipped.suffix and shipped.with_suffix(".csv").exists():
            return shipped.with_suffix(".csv")
    except FileNotFoundError:
        pass
    return path


def _replay(arg: str, ctx: FeedContext) -> Feed:
    if not arg:
        raise FeedError("replay needs a file: replay:PATH[@SPEED], e.g. replay:crash-30pct-rebound.csv@10")
    text, speed = split_speed(arg)
    return ReplayFeed(resolve_path_file(text), speed=speed)


def _sqlite(arg: str, ctx: FeedContext) -> Feed:
    target = arg or ctx.db_path
    if not target:
        raise FeedError("sqlite needs a database: give --db PATH or sqlite:PATH")
    return SqlitePricesFeed(target)


def _live(arg: str, ctx: FeedContext) -> Feed:
    """``live:VENUE[,interval=SECONDS][,url=URL]``: the venue's mark prices for ``symbols`` (ccxt);
    ``live`` alone: one such feed per venue of the book's open series, at once."""
    import importlib.util

    if importlib.util.find_spec("ccxt") is None:
        raise FeedError(f"live:{arg or 'VENUE'}: live feeds need ccxt: {live_install_hint('ccxt')}")
    from isodesk.feeds.live import parse_live_arg

    if not arg:
        return _live_all(ctx)
    venue, options = parse_live_arg(arg)
    return live_feed(venue, list(ctx.symbols), interval=options.get("interval", "2"), url=options.get("url"))


def live_feed(venue: str, markets: list[str], *, interval: str = "2", url: str | None = None) -> Feed:
    """One venue's live feed for ``markets``, polling every ``interval`` seconds (text, as written;
    at least the venue's minimum), from ``url`` (None: the venue's own). FeedError says what is wrong."""
    from isodesk.feeds.live import LiveFeed

    try:
        seconds = float(interval)
    except ValueError:
        raise FeedError(f"live: interval {interval!r} is not a number of seconds") from None
    feed = LiveFeed(venue, markets, base_url=url or None)
    if not (math.isfinite(seconds) and seconds > 0):
        raise FeedError(f"live: interval {seconds!r} must be a positive number of seconds")
    feed.interval_s = max(seconds, feed.spec.min_interval_s)  # within the venue's rate limit
    feed.max_backoff_s = max(feed.max_backoff_s, feed.interval_s)
    return feed


def _live_all(ctx: FeedContext) -> Feed:
    """One live feed per venue of the book's open series (a venue without a live connection is named
    in the group's health); FeedError when no venue of the book has one."""
    from isodesk.venues.registry import SPECS as LIVE_VENUES

    members: dict[str, Feed] = {}
    unavailable: dict[str, str] = {}

    def member(venue: str, markets: list[str]) -> Feed:
        if venue not in LIVE_VENUES:
            raise FeedError(f"no live connection (live feeds exist for {', '.join(LIVE_VENUES)}); "
                            "its positions have no mark of their own")
        return live_feed(venue, markets)

    for venue, markets in venues_of(ctx.series).items():
        try:
            members[venue] = member(venue, markets)
        except FeedError as exc:
            unavailable[venue] = str(exc)
    if not members:
        held = f" (the book's venues: {', '.join(sorted(unavailable))})" if unavailable else ""
        raise FeedError(f"live needs a venue: no open position is on a venue with a live connection{held}; "
                        f"use live:VENUE[,interval=SECONDS][,url=URL] with one of {', '.join(LIVE_VENUES)}")
    return FeedGroup(members, name="live", make_member=member, unavailable=unavailable)


BUILDERS: dict[str, Builder] = {"simulated": _simulated, "replay": _replay, "sqlite": _sqlite, "live": _live}


def make_feed(spec: str, *, symbols: Mapping[str, float], db_path: str | Path | None = None, seed: int = 7,
              series: Mapping[tuple[str, str], float] | None = None) -> Feed:
    """The feed named by ``spec`` (see :data:`SPECS`); ``symbols`` maps market → start price (quote per coin).

    ``symbols`` seeds the simulated feed; ``db_path`` is the database the ``sqlite`` feed reads;
    ``seed`` seeds the simulated feed; ``series`` (``{(venue, market): start price}``, the book's
    open positions) names the venues the simulated feed gives their own marks and ``live`` runs
    a feed for. An unknown spec raises FeedError listing the valid ones.
    """
    kind, _, arg = spec.strip().partition(":")
    builder = BUILDERS.get(kind.strip().lower())
    if builder is None:
        raise FeedError(f"unknown feed {spec!r}: use one of {', '.join(SPECS)}")
    return builder(arg.strip(), FeedContext(symbols, db_path, seed, dict(series or {})))
