"""Everything needed to run a desk in one place: the database, the feed, the desk.

``DeskConfig`` is plain data (safe to build in one thread and use in another); ``open_desk``
creates the store, the feed and the desk in the calling thread, which is the thread that must
then own them (a sqlite3 connection belongs to the thread that made it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from isodesk.desk.desk import Desk
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.desk.stored_prices import guarded_latest_prices, latest_market_prices
from isodesk.desk.writer import BookBusy, describe, holder_of
from isodesk.feeds.base import Feed
from isodesk.feeds.factory import make_feed
from isodesk.margin.markets import PriceKey, market_of
from isodesk.paths import default_db_path
from isodesk.store import Store


@dataclass(frozen=True)
class DeskConfig:
    """How to start a desk: the database, the feed spec, the step period, the staleness limit.

    ``feed_factory`` (tests, benchmarks) replaces ``feed`` with a callable building the feed from
    the opened store. ``speed`` multiplies the simulated or replay clock.
    """

    db: str | None = None
    demo: bool = False
    feed: str = "simulated"
    step_ms: int = 100
    stale_after_s: float | None = None
    seed: int = 7
    speed: float = 1.0
    feed_factory: Callable[[Store], Feed] | None = None

    @property
    def db_path(self) -> Path:
        """The database file this config opens."""
        return Path(self.db) if self.db else default_db_path()


def starting_prices(store: Store) -> dict[str, float]:
    """Start price per market of the open book: the latest stored price of the market (its newest
    series, a venue's own or the reference), else the entry price of its first open position."""
    latest = latest_market_prices(guarded_latest_prices(store, time.time()))
    prices: dict[str, float] = {}
    for record in store.positions(("open",)):
        market = market_of(record.venue, record.symbol)
        if market in latest:
            prices[market] = latest[market][1]
        else:
            prices.setdefault(market, float(record.entry_price))
    return prices


def starting_series(store: Store) -> dict[PriceKey, float]:
    """Start price per price series ``(venue, market)`` the open book holds: the series' own latest
    stored price, else its market's (:func:`starting_prices`). The venues the simulated feed gives
    their own marks and ``--feed live`` runs a feed for."""
    now = time.time()
    latest = guarded_latest_prices(store, now)
    markets = latest_market_prices(latest)
    series: dict[PriceKey, float] = {}
    for record in store.positions(("open",)):
        market = market_of(record.venue, record.symbol)
        key = (record.venue, market)
        if key in series:
            continue
        known = latest.get(key) or markets.get(market)
        series[key] = known[1] if known is not None else float(record.entry_price)
    return series


def open_desk(config: DeskConfig) -> Desk:
    """Open the store, build the feed and the desk, in the calling thread.

    The desk is the book's writer when nobody else holds the book; when another isodesk does (or
    the file or its folder is read-only) it only observes, with ``writer_note`` saying why: it
    follows the book from the file, with no feed of its own, and refuses every command.
    """
    store = open_book(config.db, demo=config.demo)
    try:
        busy = _writer_problem(store)
        if busy:
            return Desk(store, None, catalog=shipped_catalog(), stale_after_s=config.stale_after_s,
                        observe_only=True, writer_note=busy)
        if config.feed_factory is not None:
            feed = config.feed_factory(store)
        else:
            feed = make_feed(config.feed, symbols=starting_prices(store), db_path=config.db_path, seed=config.seed,
                             series=starting_series(store))
        setter = getattr(feed, "set_speed", None)
        if setter is not None and config.speed != 1.0:
            setter(config.speed)
        try:
            return Desk(store, feed, catalog=shipped_catalog(), stale_after_s=config.stale_after_s,
                        program="the isodesk app")
        except (BookBusy, OSError) as exc:  # lost a race for the lock, or cannot create the lock file
            feed.close()
            return Desk(store, None, catalog=shipped_catalog(), stale_after_s=config.stale_after_s,
                        observe_only=True, writer_note=_busy_text(exc))
    except BaseException:
        store.close()
        raise


def _writer_problem(store: Store) -> str:
    """Why this process cannot write the book (read-only file, another writer), or ``""``."""
    if getattr(store, "read_only", False):
        return f"{store.path} is read-only"
    holder = holder_of(store.path) if str(store.path) != ":memory:" else None
    return f"the book is open for writing in {describe(holder)}" if holder else ""


def _busy_text(exc: BaseException) -> str:
    if isinstance(exc, BookBusy):
        return f"the book is open for writing in {describe(exc.holder)}"
    return f"cannot take the book's writer lock: {exc}"
