"""Read the mark prices another program writes into the ``prices`` table while isodesk runs.

The table (owned by ``isodesk.store``; this module only reads it)::

    prices(id INTEGER PRIMARY KEY, ts REAL NOT NULL, symbol TEXT NOT NULL, price REAL NOT NULL,
           source TEXT NOT NULL DEFAULT '', venue TEXT NOT NULL DEFAULT '')

``venue`` names the isodesk venue whose own mark the row is (``hyperliquid``); ``''`` (the
default, so a writer that knows nothing of venues keeps working) is a reference price of the
market. A table without the column (a book not yet opened by this isodesk) is read as reference
prices only. A venue isodesk does not know makes the row ``malformed``.

The feed opens its own read-only connection lazily, in the thread that first polls, and reads the
rows with ``id`` greater than the last one it saw, in id order, at most :data:`BATCH_ROWS` per
poll. By default it starts after the largest id present at its first successful read, so the
history is not replayed as fresh ticks (when the table does not exist yet at the first poll, every
row that appears later is new). Every row passes the feed's :class:`~isodesk.feeds.guard.TickGuard`
on its own, with the ``now`` of the poll: a row with a millisecond or future timestamp, a price
out of bounds or older than one already taken (of its series: venue and market) is rejected and
counted, and never blocks the rows after it; a row that cannot be read as ``(ts, symbol, price)``
numbers is ``malformed``. A missing
file or table, a locked or busy database is reported in ``health()`` (``connected=False``,
``last_error``) and retried at the next poll; ``poll`` never raises for them.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sqlite3
import threading
from pathlib import Path
from typing import Any

from isodesk.feeds.base import FeedHealth, Tick, tick_age
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, MALFORMED, TickGuard
from isodesk.margin.markets import venue_name

log = logging.getLogger("isodesk.feed")

BATCH_ROWS = 10_000


class SqlitePricesFeed:
    """Ticks from new rows of the ``prices`` table of the SQLite file at ``path``.

    ``start_after_id``: hand out rows with a larger id only (default: the largest id at the first
    successful read). ``batch_rows``: the most rows read per poll. ``band``: the guard's jump band.
    """

    clock_from_ticks = False
    writes_prices_table = True

    def __init__(self, path: str | Path, *, start_after_id: int | None = None, batch_rows: int = BATCH_ROWS,
                 band: float = DEFAULT_JUMP_BAND, timeout_s: float = 5.0, name: str = "sqlite"):
        if batch_rows < 1:
            raise ValueError(f"batch_rows: {batch_rows!r} must be >= 1")
        self.path = Path(path)
        self.name = name
        self.batch_rows = int(batch_rows)
        self.timeout_s = float(timeout_s)
        self.guard = TickGuard(band, feed_name=name)
        self._last_id: int | None = None if start_after_id is None else int(start_after_id)
        self._seen_missing_table = False
        self._conn: sqlite3.Connection | None = None
        self._venue_column: bool | None = None  # whether the table has ``venue`` (looked up once per connection)
        self._lock = threading.Lock()
        self._connected = False
        self._last_error: str | None = None
        self._closed = False
        self.rows_read = 0

    @property
    def last_id(self) -> int | None:
        """The id of the last row read (None before the start is known)."""
        return self._last_id

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            # check_same_thread=False only so close() may come from another thread; polls stay in one.
            self._conn = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, check_same_thread=False)
        return self._conn

    def _drop_connection(self) -> None:
        self._venue_column = None
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def poll(self, now: float) -> list[Tick]:
        """The guard-checked ticks of the rows added since the last poll, in time order (stable by id);
        ``now`` is the caller's wall Unix time (s), against which a row's time is checked.

        Never raises for a missing file or table or a locked database: it records the error for
        ``health()`` and tries again at the next poll.
        """
        with self._lock:
            if self._closed:
                return []
            try:
                rows = self._read()
            except sqlite3.Error as exc:
                self._fail(exc)
                return []
            self._connected, self._last_error = True, None
        ticks: list[Tick] = []
        for row_id, ts, symbol, price, written_venue in rows:
            if not (isinstance(ts, (int, float)) and isinstance(price, (int, float))):  # TEXT or NULL in the row
                self.guard.reject(MALFORMED, f"prices row {row_id}: ts={ts!r} symbol={symbol!r} price={price!r}")
                continue
            if not isinstance(symbol, str) or not symbol:
                self.guard.reject(MALFORMED, f"prices row {row_id}: symbol {symbol!r} is not a market name")
                continue
            try:
                venue = venue_name(written_venue) if isinstance(written_venue, str) else None
            except ValueError as exc:
                self.guard.reject(MALFORMED, f"prices row {row_id}: {exc}")
                continue
            if written_venue is not None and not isinstance(written_venue, str):
                self.guard.reject(MALFORMED, f"prices row {row_id}: venue {written_venue!r} is not text")
                continue
            ticks.append(Tick(symbol=symbol, ts=float(ts), price=float(price), venue=venue))
        ticks.sort(key=lambda t: t.ts if math.isfinite(t.ts) else math.inf)
        return self.guard.check(ticks, now)

    def _read(self) -> list[tuple[Any, ...]]:
        conn = self._connect()
        if self._last_id is None:
            (max_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM prices").fetchone()
            self._last_id = 0 if self._seen_missing_table else int(max_id)
            log.debug("%s: starting after prices id %d", self.name, self._last_id)
        if self._venue_column is None:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(prices)")}
            if columns:  # no columns: no table yet, asked again at the next read
                self._venue_column = "venue" in columns
        venue = "venue" if self._venue_column else "NULL"
        rows = conn.execute(f"SELECT id, ts, symbol, price, {venue} FROM prices WHERE id > ? ORDER BY id LIMIT ?",
                            (self._last_id, self.batch_rows)).fetchall()
        if rows:
            self._last_id = int(rows[-1][0])
            self.rows_read += len(rows)
        return rows

    def _fail(self, exc: sqlite3.Error) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if message != self._last_error:
            log.warning("%s: %s (%s); retrying at the next poll", self.name, message, self.path)
        self._connected, self._last_error = False, message
        if "no such table" in str(exc) and self._last_id is None:
            self._seen_missing_table = True
        # A connection opened before the file existed, or on a broken file, is not reused.
        transient = "locked" in str(exc) or "busy" in str(exc)
        if not transient:
            self._drop_connection()

    def health(self, now: float) -> FeedHealth:
        """Connected when the last read succeeded; ``last_error`` says why not; ages in seconds at ``now``."""
        g = self.guard
        return FeedHealth(source=self.name, connected=self._connected and not self._closed,
                          last_tick_ts=g.last_tick_ts, last_tick_age_s=tick_age(g.last_tick_ts, now),
                          accepted=g.accepted, rejected=g.rejected, rejected_by_reason=g.rejected_by_reason,
                          last_error=self._last_error, finished=False)

    def close(self) -> None:
        """Close the read-only connection. Idempotent."""
        with self._lock:
            self._closed = True
            self._drop_connection()
