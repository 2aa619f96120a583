"""Build a feed from its command-line spec: ``simulated``, ``replay:PATH[@SPEED]``, ``sqlite[:PATH]``.

``live:VENUE[,interval=S][,url=URL]`` polls a venue's mark prices through the optional ``live``
extra (ccxt); without it, a :class:`FeedError` says what to install. New kinds register a builder in
:data:`BUILDERS` (kind → function(argument, symbols, db_path, seed) → Feed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

from isodesk.feeds.base import Feed, FeedError
from isodesk.feeds.replay import ReplayFeed
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.feeds.sqlite_feed import SqlitePricesFeed

Builder = Callable[[str, Mapping[str, float], "str | Path | None", int], Feed]

SPECS = ("simulated", "replay:PATH[@SPEED]", "sqlite", "sqlite:PATH", "live:VENUE")


def _simulated(arg: str, symbols: Mapping[str, float], db_path: str | Path | None, seed: int) -> Feed:
    if arg:
        raise FeedError(f"simulated takes no argument, got 'simulated:{arg}'")
    try:
        return SimulatedFeed(symbols, seed=seed)
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


def _replay(arg: str, symbols: Mapping[str, float], db_path: str | Path | None, seed: int) -> Feed:
    if not arg:
        raise FeedError("replay needs a file: replay:PATH[@SPEED], e.g. replay:crash-30pct-rebound.csv@10")
    text, speed = split_speed(arg)
    return ReplayFeed(resolve_path_file(text), speed=speed)


def _sqlite(arg: str, symbols: Mapping[str, float], db_path: str | Path | None, seed: int) -> Feed:
    target = arg or db_path
    if not target:
        raise FeedError("sqlite needs a database: give --db PATH or sqlite:PATH")
    return SqlitePricesFeed(target)


def _live(arg: str, symbols: Mapping[str, float], db_path: str | Path | None, seed: int) -> Feed:
    """``live:VENUE[,interval=SECONDS][,url=URL]``: the venue's mark prices for ``symbols`` (ccxt)."""
    import importlib.util

    if importlib.util.find_spec("ccxt") is None:
        raise FeedError(f"live feeds need `pip install isodesk[live]` (ccxt is not installed; live:{arg or 'VENUE'})")
    from isodesk.feeds.live import LiveFeed, parse_live_arg

    if not arg:
        raise FeedError("live needs a venue: live:VENUE[,interval=SECONDS][,url=URL], e.g. live:binance-usdm")
    venue, options = parse_live_arg(arg)
    try:
        interval = float(options.get("interval", "2"))
    except ValueError:
        raise FeedError(f"live: interval {options['interval']!r} is not a number of seconds") from None
    feed = LiveFeed(venue, symbols, base_url=options.get("url") or None)
    if not (math.isfinite(interval) and interval > 0):
        raise FeedError(f"live: interval {interval!r} must be a positive number of seconds")
    feed.interval_s = max(interval, feed.spec.min_interval_s)  # within the venue's rate limit
    feed.max_backoff_s = max(feed.max_backoff_s, feed.interval_s)
    return feed


BUILDERS: dict[str, Builder] = {"simulated": _simulated, "replay": _replay, "sqlite": _sqlite, "live": _live}


def make_feed(spec: str, *, symbols: Mapping[str, float], db_path: str | Path | None = None, seed: int = 7) -> Feed:
    """The feed named by ``spec`` (see :data:`SPECS`); ``symbols`` maps market → start price (quote per coin).

    ``symbols`` seeds the simulated feed; ``db_path`` is the database the ``sqlite`` feed reads;
    ``seed`` seeds the simulated feed. An unknown spec raises FeedError listing the valid ones.
    """
    kind, _, arg = spec.strip().partition(":")
    builder = BUILDERS.get(kind.strip().lower())
    if builder is None:
        raise FeedError(f"unknown feed {spec!r}: use one of {', '.join(SPECS)}")
    return builder(arg.strip(), symbols, db_path, seed)
