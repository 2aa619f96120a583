"""Live mark prices from a venue through ccxt (the optional ``live`` extra), polled in a thread of its own.

``LiveFeed`` starts a daemon thread on the first ``poll`` (building one never touches the network).
The thread loads the venue's markets once, then fetches the mark prices of the wanted isodesk
markets (``BASEUSDT``) in one request every ``interval_s`` seconds (ccxt's own throttle keeps each
request within the venue's published rate limit). Each price becomes a :class:`Tick` of the
venue's own series (``venue`` set: it marks that venue's positions only) stamped with the local
time it arrived, in a thread-safe queue; ``poll`` drains the queue through a :class:`TickGuard`,
so the desk's thread never waits on the network. :class:`~isodesk.feeds.multi.FeedGroup` runs one
such feed per venue at once (``--feed live``).

A failure (timeout, refused or dropped connection, HTTP error, malformed answer) marks the feed
disconnected with the error (keys and signatures scrubbed) and retries with exponential back-off
(``interval_s × 2ⁿ``, capped at ``max_backoff_s``). No ticks come meanwhile, so the desk turns the
affected positions stale after its staleness limit, and a stale price never liquidates. When prices
flow again the feed is connected and the back-off resets.

Funding. Every ``funding_every_s`` seconds (default 60) the same thread also asks the venue for
its funding rates through ccxt's unified ``fetch_funding_rates(symbols)`` (Binance
``/fapi/v1/premiumIndex`` ``lastFundingRate``/``nextFundingTime``, Hyperliquid ``metaAndAssetCtxs``
``funding``, hourly): :func:`parse_funding_rates` turns the unified answer (``fundingRate``,
``fundingTimestamp`` in ms, ``interval`` such as ``"8h"``) into :class:`FundingQuote` items, which
:meth:`LiveFeed.funding` hands out. A venue without the method, or a failed funding request, leaves
the marks untouched: the failure is logged and the quotes simply stay as they were.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from isodesk.feeds.base import FeedError, FeedHealth, FundingQuote, Tick, tick_age
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, MALFORMED, TickGuard
from isodesk.margin.funding import check_rate, funding_rule, next_funding_ts

log = logging.getLogger("isodesk.feed")

DEFAULT_INTERVAL_S = 2.0
DEFAULT_MAX_BACKOFF_S = 60.0
DEFAULT_FUNDING_EVERY_S = 60.0


def _interval_s(text: object, default: float) -> float:
    """ccxt's funding ``interval`` (``"8h"``, ``"1h"``, ``"30m"``) in seconds; ``default`` when absent or odd."""
    if not isinstance(text, str) or len(text) < 2 or text[-1] not in "hm":
        return default
    try:
        value = float(text[:-1])
    except ValueError:
        return default
    seconds = value * (3600.0 if text[-1] == "h" else 60.0)
    return seconds if math.isfinite(seconds) and seconds > 0 else default


def parse_funding_rates(venue: str, answer: object, wanted: Mapping[str, str], now: float
                        ) -> tuple[list[FundingQuote], list[tuple[str, str]]]:
    """ccxt's unified ``fetch_funding_rates`` answer (ccxt symbol → funding-rate structure) as
    :class:`FundingQuote` items for the isodesk markets of ``wanted`` (market → ccxt symbol), stamped
    ``now`` (Unix s), and the (market, reason) problems of the ones that could not be read.

    ``fundingRate`` is the rate per interval (fraction), ``fundingTimestamp`` the next funding time in
    ms (ccxt's Binance parser puts ``nextFundingTime`` there), ``interval`` the venue's interval
    (``"8h"``; absent: the venue's rule, :func:`~isodesk.margin.funding.funding_rule`)."""
    if not isinstance(answer, Mapping):
        return [], [(m, f"malformed funding rates: expected a mapping, got {type(answer).__name__}") for m in wanted]
    default = funding_rule(venue).interval_s
    quotes: list[FundingQuote] = []
    problems: list[tuple[str, str]] = []
    for market, symbol in sorted(wanted.items()):
        item = answer.get(symbol)
        if not isinstance(item, Mapping):
            problems.append((market, f"no funding rate for {symbol}"))
            continue
        try:
            rate = check_rate(item.get("fundingRate"), f"{venue} {symbol}")
        except ValueError as exc:
            problems.append((market, str(exc)))
            continue
        interval = _interval_s(item.get("interval"), default)
        stamp = item.get("fundingTimestamp")
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) and math.isfinite(stamp) and stamp > 0:
            next_ts = float(stamp) / 1000.0
        else:
            next_ts = next_funding_ts(now, interval)
        quotes.append(FundingQuote(venue, market, rate, next_ts, interval, float(now)))
    return quotes, problems


@dataclass(frozen=True, slots=True)
class _Problem:
    market: str
    detail: str


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """The thread's state: connected, consecutive failures, seconds until the next try, the last error."""

    connected: bool
    failures: int
    retries: int
    backoff_s: float
    last_error: str | None
    requests: int
    markets: tuple[str, ...]
    unlisted: tuple[str, ...]


class LiveFeed:
    """Mark prices of one venue (see the module docstring).

    ``markets``: the isodesk markets to price (``BTCUSDT``…). ``client_factory`` builds the venue
    client (a :class:`isodesk.venues.client.VenueClient`); by default one is made from ccxt with
    ``base_url`` (tests, proxies) and no keys (mark prices are public). ``clock`` stamps ticks
    (Unix s). ``make_feed`` clamps ``interval_s`` to the venue's minimum (1 s); a test may go lower.
    """

    clock_from_ticks = False
    writes_prices_table = False

    def __init__(self, venue: str, markets: Iterable[str], *, interval_s: float = DEFAULT_INTERVAL_S,
                 base_url: str | None = None, client_factory: Callable[[], Any] | None = None,
                 max_backoff_s: float = DEFAULT_MAX_BACKOFF_S, band: float = DEFAULT_JUMP_BAND,
                 clock: Callable[[], float] = time.time, timeout_ms: int = 10_000, name: str | None = None,
                 funding_every_s: float = DEFAULT_FUNDING_EVERY_S):
        from isodesk.venues.errors import VenueError
        from isodesk.venues.registry import venue_spec  # the venue layer needs no ccxt until the thread runs

        try:
            self.spec = venue_spec(venue)
        except VenueError as exc:
            raise FeedError(str(exc)) from None
        if not (math.isfinite(interval_s) and interval_s > 0):
            raise FeedError(f"live interval {interval_s!r} must be a positive number of seconds")
        self.venue = self.spec.venue
        self.name = name or f"live:{self.venue}"
        self.interval_s = float(interval_s)
        self.max_backoff_s = max(float(max_backoff_s), self.interval_s)
        self.base_url = base_url
        self.timeout_ms = int(timeout_ms)
        self._client_factory = client_factory
        self._clock = clock
        self.guard = TickGuard(band, feed_name=self.name)
        self._queue: queue.SimpleQueue[Tick | _Problem] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._markets: set[str] = {str(m) for m in markets}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._connected = False
        self._failures = 0
        self._retries = 0
        self._backoff = 0.0
        self._last_error: str | None = None
        self._requests = 0
        self._unlisted: tuple[str, ...] = ()
        self._listed: tuple[str, ...] = ()
        self.funding_every_s = float(funding_every_s)
        self._funding: dict[tuple[str, str], FundingQuote] = {}
        self._funding_due = -math.inf  # monotonic time of the next funding request
        self._funding_error: str | None = None

    # -- configuration ----------------------------------------------------------------------------

    def set_symbols(self, symbols: Iterable[str]) -> None:
        """Also price these isodesk markets (a mapping's keys count); none is removed. Thread-safe."""
        with self._lock:
            added = {str(s) for s in symbols} - self._markets
            self._markets |= added
        if added:
            self._wake.set()

    def follow_book(self, series: Mapping[tuple[str, str], float]) -> None:
        """Also price the markets the book holds on this venue (``{(venue, market): price}``)."""
        self.set_symbols(market for venue, market in series if venue == self.venue)

    @property
    def markets(self) -> list[str]:
        """The isodesk markets priced, sorted."""
        with self._lock:
            return sorted(self._markets)

    def start(self) -> None:
        """Start the polling thread (``poll`` does it on first call). Idempotent."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    # -- the feed ---------------------------------------------------------------------------------

    def poll(self, now: float) -> list[Tick]:
        """The ticks that arrived since the last poll, checked by the guard against wall time ``now`` (s),
        oldest first. Never blocks."""
        if self._closed:
            return []
        self.start()
        ticks: list[Tick] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Problem):
                self.guard.reject(MALFORMED, f"{item.market}: {item.detail}")
            else:
                ticks.append(item)
        return self.guard.check(ticks, now)

    def funding(self, now: float) -> list[FundingQuote]:
        """The latest funding quote of each market fetched so far (thread-safe; ``now`` unused). Starts the
        thread as :meth:`poll` does; never blocks."""
        if self._closed:
            return []
        self.start()
        with self._lock:
            return [self._funding[k] for k in sorted(self._funding)]

    def status(self) -> LiveStatus:
        """The polling thread's state (thread-safe)."""
        with self._lock:
            return LiveStatus(self._connected, self._failures, self._retries, self._backoff, self._last_error,
                              self._requests, self._listed, self._unlisted)

    def health(self, now: float) -> FeedHealth:
        """Connected while the last request succeeded; ``last_error`` says what failed and when it retries."""
        s = self.status()
        error = s.last_error
        if error is not None and not s.connected:
            error = f"{error} (retry {s.retries} in {s.backoff_s:g} s)" if s.retries else error
        elif s.unlisted:
            error = f"{self.venue} lists no perpetual for {', '.join(s.unlisted)}"
        g = self.guard
        return FeedHealth(source=self.name, connected=s.connected and not self._closed, last_tick_ts=g.last_tick_ts,
                          last_tick_age_s=tick_age(g.last_tick_ts, now), accepted=g.accepted, rejected=g.rejected,
                          rejected_by_reason=g.rejected_by_reason, last_error=error, finished=False)

    def close(self) -> None:
        """Stop the thread (waits up to the request timeout for a request in flight). Idempotent."""
        self._closed = True
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout_ms / 1000 + 1.0)

    # -- the thread -------------------------------------------------------------------------------

    def _make_client(self) -> Any:
        if self._client_factory is not None:
            return self._client_factory()
        from isodesk.venues.client import make_client

        return make_client(self.spec, base_url=self.base_url, timeout_ms=self.timeout_ms)

    def _run(self) -> None:
        from isodesk.venues.errors import VenueError
        from isodesk.venues.marks import fetch_marks, wanted_symbols

        client = None
        wanted: dict[str, str] = {}
        known: frozenset[str] = frozenset()
        try:
            while not self._stop.is_set():
                try:
                    if client is None:
                        client = self._make_client()
                    markets = client.load_markets()
                    current = frozenset(self.markets)
                    if current != known:
                        wanted, unlisted = wanted_symbols(self.venue, markets, current)
                        known = current
                        with self._lock:
                            self._unlisted, self._listed = tuple(sorted(unlisted)), tuple(sorted(wanted))
                    batch = fetch_marks(client, wanted)
                    stamp = self._clock()
                    for market in sorted(batch.prices):
                        self._queue.put(Tick(market, stamp, batch.prices[market], self.venue))
                    for market, detail in batch.problems:
                        self._queue.put(_Problem(market, detail))
                    self._succeeded()
                    self._fetch_funding(client, wanted)
                    delay = self.interval_s
                except VenueError as exc:
                    delay = self._failed(str(exc))
                except Exception as exc:  # the thread must survive anything; message scrubbed
                    scrub = getattr(client, "scrub", str)
                    delay = self._failed(f"{self.venue}: {type(exc).__name__}: {scrub(exc)}")
                self._wake.clear()
                self._wait(delay)
        finally:
            if client is not None:
                client.close()

    def _fetch_funding(self, client: Any, wanted: Mapping[str, str]) -> None:
        """Refresh the funding quotes when due; a failure is logged and leaves the marks alone."""
        from isodesk.venues.errors import VenueError

        if not wanted or time.monotonic() < self._funding_due:
            return
        self._funding_due = time.monotonic() + self.funding_every_s
        exchange = client.exchange
        if not (getattr(exchange, "has", {}) or {}).get("fetchFundingRates"):
            return
        try:
            answer = client.call("fetching funding rates", exchange.fetch_funding_rates, sorted(set(wanted.values())))
        except VenueError as exc:
            self._funding_error = str(exc)
            log.warning("%s: %s", self.name, exc)
            return
        quotes, problems = parse_funding_rates(self.venue, answer, wanted, self._clock())
        for market, detail in problems:
            log.warning("%s: funding of %s: %s", self.name, market, client.scrub(detail))
        with self._lock:
            self._funding.update({q.key: q for q in quotes})
            self._funding_error = None

    def _wait(self, delay: float) -> None:
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._wake.wait(min(left, 0.25)):
                return

    def _succeeded(self) -> None:
        with self._lock:
            if not self._connected and self._failures:
                log.info("%s: prices flow again after %d failed attempts", self.name, self._failures)
            self._connected, self._failures, self._retries, self._backoff = True, 0, 0, 0.0
            self._last_error = None
            self._requests += 1

    def _failed(self, message: str) -> float:
        with self._lock:
            self._connected = False
            self._failures += 1
            self._retries += 1
            self._requests += 1
            self._backoff = min(self.max_backoff_s, self.interval_s * 2 ** (self._failures - 1))
            self._last_error = message
            delay = self._backoff
        log.warning("%s: %s; retrying in %g s", self.name, message, delay)
        return delay


def parse_live_arg(arg: str) -> tuple[str, dict[str, str]]:
    """``VENUE[,interval=S][,url=URL]`` → (venue, options)."""
    venue, *rest = [part.strip() for part in arg.split(",")]
    options = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("interval", "url"):
            raise FeedError(f"live:{arg}: unknown option {part!r}; use live:VENUE[,interval=SECONDS][,url=URL]")
        options[key.strip()] = value.strip()
    return venue, options
