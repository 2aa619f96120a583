"""SqlitePricesFeed: rows another connection writes while the feed polls, none lost or duplicated."""

import sqlite3
import threading

import pytest

from isodesk.feeds import Feed, SqlitePricesFeed, Tick

SCHEMA = ("CREATE TABLE prices (id INTEGER PRIMARY KEY, ts REAL NOT NULL, symbol TEXT NOT NULL, "
          "price REAL NOT NULL, source TEXT NOT NULL DEFAULT '')")
T0 = 1_717_200_000.0


def writer(path, *, table=True, wal=True):
    conn = sqlite3.connect(path, isolation_level=None)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    if table:
        conn.execute(SCHEMA)
    return conn


def insert(conn, rows):
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO prices (ts, symbol, price, source) VALUES (?, ?, ?, 'other')", rows)
    conn.execute("COMMIT")


def test_flags_and_health_before_the_first_poll(tmp_path):
    feed = SqlitePricesFeed(tmp_path / "x.db")
    assert isinstance(feed, Feed)
    assert feed.writes_prices_table is True and feed.clock_from_ticks is False
    health = feed.health(T0)
    assert health.source == "sqlite" and health.connected is False and health.accepted == 0


def test_history_before_the_start_is_not_replayed(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    insert(conn, [(T0 - 60 + i, "BTCUSDT", 60000.0 + i) for i in range(50)])
    feed = SqlitePricesFeed(path)
    assert feed.poll(T0) == []
    assert feed.last_id == 50
    assert feed.health(T0).connected is True
    insert(conn, [(T0 + 1, "BTCUSDT", 60100.0), (T0 + 1, "ETHUSDT", 3000.0)])
    assert feed.poll(T0 + 1) == [Tick("BTCUSDT", T0 + 1, 60100.0), Tick("ETHUSDT", T0 + 1, 3000.0)]
    health = feed.health(T0 + 3)
    assert health.accepted == 2 and health.last_tick_ts == T0 + 1 and health.last_tick_age_s == 2.0
    feed.close()
    conn.close()


def test_start_after_id_replays_from_there(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    insert(conn, [(T0 + i, "BTCUSDT", 60000.0 + i) for i in range(10)])
    feed = SqlitePricesFeed(path, start_after_id=7)
    assert [x.price for x in feed.poll(T0)] == [60007.0, 60008.0, 60009.0]
    feed.close()
    conn.close()


def test_two_thousand_rows_in_small_batches_none_lost_or_duplicated(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    insert(conn, [(T0 - 1, "BTCUSDT", 60000.0)])  # history
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    got: list[Tick] = []
    expected: list[Tick] = []
    n, batch = 0, 0
    while n < 2000:
        size = 1 + batch % 7
        rows = [(T0 + n + k, ("BTCUSDT", "ETHUSDT", "SOLUSDT")[(n + k) % 3], 100.0 + (n + k) % 5)
                for k in range(min(size, 2000 - n))]
        insert(conn, rows)
        expected += [Tick(s, ts, p) for ts, s, p in rows]
        n += len(rows)
        batch += 1
        if batch % 3:  # poll after two batches in three: sometimes a poll sees several batches
            got += feed.poll(T0 + n)
    got += feed.poll(T0 + n)
    assert got == expected
    assert feed.poll(T0 + n) == []
    health = feed.health(T0 + n)
    assert health.accepted == 2000 and health.rejected == 0 and feed.rows_read == 2000
    feed.close()
    conn.close()


def test_concurrent_writer_thread_no_row_lost_or_duplicated(tmp_path):
    path = tmp_path / "book.db"
    writer(path).close()
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    done = threading.Event()

    def write():
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        try:
            for i in range(0, 2000, 4):
                insert(conn, [(T0 + i + k, "BTCUSDT", 60000.0 + (i + k) % 10) for k in range(4)])
        finally:
            conn.close()
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    got: list[Tick] = []
    now = T0 + 2000  # the wall time: every row is at or before it (a row more than 10 s ahead is refused)
    while not done.is_set():
        got += feed.poll(now)
    thread.join()
    got += feed.poll(now)
    assert [x.ts - T0 for x in got] == list(range(2000))
    feed.close()


def test_batches_are_limited_and_continue_next_poll(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    feed = SqlitePricesFeed(path, batch_rows=100)
    feed.poll(T0)
    insert(conn, [(T0 + i, "BTCUSDT", 60000.0) for i in range(250)])
    assert [len(feed.poll(T0 + 250)) for _ in range(4)] == [100, 100, 50, 0]
    feed.close()
    conn.close()


def test_missing_file_and_missing_table_are_reported_not_raised(tmp_path):
    path = tmp_path / "later.db"
    feed = SqlitePricesFeed(path)
    assert feed.poll(T0) == []
    health = feed.health(T0)
    assert health.connected is False and "unable to open" in health.last_error
    conn = writer(path, table=False)
    assert feed.poll(T0 + 1) == []
    health = feed.health(T0 + 1)
    assert health.connected is False and "no such table: prices" in health.last_error
    # the table appears: everything written from now on is new (there was no history at the start)
    conn.execute(SCHEMA)
    insert(conn, [(T0 + 2, "BTCUSDT", 60000.0)])
    assert feed.poll(T0 + 2) == [Tick("BTCUSDT", T0 + 2, 60000.0)]
    health = feed.health(T0 + 2)
    assert health.connected is True and health.last_error is None
    feed.close()
    conn.close()


def test_locked_database_is_reported_and_retried(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path, wal=False)  # rollback journal: an exclusive lock blocks readers
    insert(conn, [(T0, "BTCUSDT", 60000.0)])
    feed = SqlitePricesFeed(path, timeout_s=0.05, start_after_id=0)
    conn.execute("BEGIN EXCLUSIVE")
    assert feed.poll(T0) == []
    health = feed.health(T0)
    assert health.connected is False and "locked" in health.last_error
    conn.execute("COMMIT")
    assert feed.poll(T0 + 1) == [Tick("BTCUSDT", T0, 60000.0)]
    assert feed.health(T0 + 1).connected is True
    feed.close()
    conn.close()


def test_bad_rows_are_counted_not_raised(tmp_path):
    path = tmp_path / "book.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE prices (id INTEGER PRIMARY KEY, ts, symbol, price, source DEFAULT '')")  # not strict
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    conn.executemany("INSERT INTO prices (ts, symbol, price) VALUES (?, ?, ?)",
                     [(T0, "BTCUSDT", "abc"), (T0, "BTCUSDT", -1.0), (T0, "BTCUSDT", 60000.0), (T0, None, 1.0)])
    assert feed.poll(T0) == [Tick("BTCUSDT", T0, 60000.0)]
    assert dict(feed.health(T0).rejected_by_reason) == {"malformed": 2, "non_positive": 1}
    feed.close()
    conn.close()


def test_connection_is_read_only_and_close_is_idempotent(tmp_path):
    path = tmp_path / "book.db"
    writer(path).close()
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        feed._connect().execute("INSERT INTO prices (ts, symbol, price) VALUES (1, 'X', 1)")
    feed.close()
    feed.close()
    assert feed.poll(T0) == [] and feed.health(T0).connected is False


def test_polls_from_another_thread_after_creation(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    feed = SqlitePricesFeed(path)  # made in this thread, polled in a worker (as the app does)
    out = []

    def work():
        feed.poll(T0)
        other = sqlite3.connect(path, isolation_level=None)
        insert(other, [(T0 + 1, "BTCUSDT", 1.0)])
        other.close()
        out.extend(feed.poll(T0 + 1))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert out == [Tick("BTCUSDT", T0 + 1, 1.0)]
    feed.close()  # from the main thread
    conn.close()


# -- issue 10: every row passes the guard on its own ----------------------------------------------------

def test_a_millisecond_row_is_refused_and_the_good_rows_after_it_are_taken(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    insert(conn, [(T0, "BTCUSDT", 60000.0), (T0 * 1000 + 1000, "BTCUSDT", 59000.0)])
    assert feed.poll(T0 + 1) == [Tick("BTCUSDT", T0, 60000.0)]
    # BTC falls 11.5 % through the next minute: every tick is seen
    insert(conn, [(T0 + 30, "BTCUSDT", 56000.0), (T0 + 60, "BTCUSDT", 53100.0)])
    assert [x.price for x in feed.poll(T0 + 60)] == [56000.0, 53100.0]
    health = feed.health(T0 + 60)
    assert (health.accepted, dict(health.rejected_by_reason), health.last_tick_ts) == (
        3, {"ts_milliseconds": 1}, T0 + 60)
    feed.close()
    conn.close()


def test_prices_out_of_bounds_and_rows_from_the_future_are_refused_per_row(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    insert(conn, [(T0, "BTCUSDT", 60000.0), (T0 + 1, "BTCUSDT", 0.0), (T0 + 2, "BTCUSDT", -1.0),
                  (T0 + 3, "BTCUSDT", float("inf")), (T0 + 4, "BTCUSDT", 1e-300), (T0 + 5, "BTCUSDT", 1e300),
                  (T0 + 3600, "BTCUSDT", 60100.0),  # an hour after now
                  (T0 + 6, "BTCUSDT", 60050.0)])
    assert [x.price for x in feed.poll(T0 + 6)] == [60000.0, 60050.0]
    assert dict(feed.health(T0 + 6).rejected_by_reason) == {"non_positive": 2, "not_finite": 1, "out_of_bounds": 2,
                                                            "future": 1}
    feed.close()
    conn.close()


def test_a_crash_the_next_row_confirms_is_taken_a_lone_spike_is_not(tmp_path):
    path = tmp_path / "book.db"
    conn = writer(path)
    feed = SqlitePricesFeed(path)
    feed.poll(T0)
    insert(conn, [(T0, "BTCUSDT", 60000.0), (T0, "ETHUSDT", 3000.0)])
    feed.poll(T0)
    insert(conn, [(T0 + 1, "BTCUSDT", 20400.0), (T0 + 1, "ETHUSDT", 30000.0)])
    assert feed.poll(T0 + 1) == []  # both held until the next row of their market
    insert(conn, [(T0 + 2, "BTCUSDT", 20300.0), (T0 + 2, "ETHUSDT", 3001.0)])
    assert feed.poll(T0 + 2) == [Tick("BTCUSDT", T0 + 1, 20400.0), Tick("BTCUSDT", T0 + 2, 20300.0),
                                 Tick("ETHUSDT", T0 + 2, 3001.0)]
    assert dict(feed.health(T0 + 2).rejected_by_reason) == {"jump": 1}
    feed.close()
    conn.close()


def test_the_venue_column_is_read_and_a_table_without_it_gives_reference_prices(tmp_path):
    from isodesk.store import Store

    path = tmp_path / "book.db"
    Store.open(path).close()  # the prices table as isodesk makes it, with ``venue``
    conn = sqlite3.connect(path, isolation_level=None)
    feed = SqlitePricesFeed(path)
    assert feed.poll(T0) == []
    conn.executemany("INSERT INTO prices (ts, symbol, price, venue) VALUES (?, ?, ?, ?)",
                     [(T0, "BTCUSDT", 60000.0, "hyperliquid"), (T0, "BTCUSDT", 60010.0, ""),
                      (T0, "BTCUSDT", 60020.0, "kraken"), (T0 + 1, "BTCUSDT", 60030.0, "hyperliquid")])
    conn.execute("INSERT INTO prices (ts, symbol, price) VALUES (?, 'BTCUSDT', 60040.0)", [T0 + 1])  # no venue named
    assert feed.poll(T0 + 1) == [Tick("BTCUSDT", T0, 60000.0, "hyperliquid"), Tick("BTCUSDT", T0, 60010.0),
                                 Tick("BTCUSDT", T0 + 1, 60030.0, "hyperliquid"), Tick("BTCUSDT", T0 + 1, 60040.0)]
    assert feed.health(T0 + 1).rejected_by_reason == {"malformed": 1}
    feed.close()
    conn.close()
    old = tmp_path / "old.db"
    conn = writer(old)  # a table of an older isodesk or another program: no venue column
    insert(conn, [(T0 - 1, "BTCUSDT", 1.0)])
    feed = SqlitePricesFeed(old)
    feed.poll(T0)
    insert(conn, [(T0, "BTCUSDT", 60000.0)])
    assert feed.poll(T0) == [Tick("BTCUSDT", T0, 60000.0)]
    feed.close()
    conn.close()
