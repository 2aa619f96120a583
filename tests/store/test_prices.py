"""Prices: batched inserts, the latest mark per symbol, polling by id, history, compaction."""

from __future__ import annotations

import math

import pytest

from isodesk.feeds.guard import stored_price_problem
from isodesk.store.store import (
    DEFAULT_PRICE_RETENTION_S,
    PRICE_RETENTION_KEY,
    stored_price_usable,
)


def test_insert_latest_after_and_history(store):
    assert store.max_price_id() == 0
    assert store.latest_prices() == {}
    count = store.insert_prices(
        [
            (100.0, "BTCUSDT", 50000.5),
            (100.0, "ETHUSDT", 3000.25),
            (101.0, "BTCUSDT", 50010.0),
            (99.0, "ETHUSDT", 2999.0),
        ],
        source="sim",
    )
    assert count == 4
    assert store.latest_prices() == {"BTCUSDT": (101.0, 50010.0), "ETHUSDT": (100.0, 3000.25)}
    assert store.max_price_id() == 4
    assert store.prices_after(0) == [
        (1, 100.0, "BTCUSDT", 50000.5),
        (2, 100.0, "ETHUSDT", 3000.25),
        (3, 101.0, "BTCUSDT", 50010.0),
        (4, 99.0, "ETHUSDT", 2999.0),
    ]
    assert store.prices_after(2, limit=1) == [(3, 101.0, "BTCUSDT", 50010.0)]
    assert store.prices_after(4) == []
    assert store.price_history("ETHUSDT") == [(99.0, 2999.0), (100.0, 3000.25)]
    assert store.price_history("BTCUSDT", since_ts=100.5) == [(101.0, 50010.0)]
    assert store.price_history("BTCUSDT", limit=1) == [(101.0, 50010.0)]
    assert {r["source"] for r in store.db["prices"].rows} == {"sim"}


def test_many_prices_in_one_call(store):
    rows = [(float(i), f"S{i % 7}", 1.0 + i / 1000) for i in range(2500)]
    assert store.insert_prices(rows) == 2500
    assert store.max_price_id() == 2500
    assert store.latest_prices()["S0"] == (2499.0 - 2499 % 7, 1.0 + (2499 - 2499 % 7) / 1000)
    assert len(store.prices_after(0)) == 2500
    assert store.insert_prices([]) == 0


# -- finding 9: the prices table stays bounded and the latest prices stay cheap ---------------------

NOW = 1_717_200_000.0


def _steps(store, call) -> int:
    """How many thousands of SQLite VM instructions ``call()`` runs (a measure of rows visited)."""
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    store.db.conn.set_progress_handler(tick, 1000)
    try:
        call()
    finally:
        store.db.conn.set_progress_handler(None, 0)
    return count[0]


def test_latest_prices_seeks_the_index_instead_of_scanning(store):
    """Finding 9: status took 0.55 s at 115k rows, 2.1 s at 2M: every row was visited."""
    rows = [(NOW - 50_000 + i, f"S{i % 5}", 100.0 + i % 17) for i in range(50_000)]
    store.db.conn.executemany("INSERT INTO prices (ts, symbol, price) VALUES (?, ?, ?)", rows)
    store.db.conn.commit()
    assert _steps(store, store.latest_prices) < 5  # a scan of every row takes hundreds
    latest = store.latest_prices(now=NOW)
    assert latest == {f"S{k}": (NOW - 5 + k, 100.0 + (49_995 + k) % 17) for k in range(5)}
    assert _steps(store, lambda: store.latest_prices(now=NOW)) < 5


def test_latest_prices_skip_rows_that_break_the_stored_price_rule(store):
    store.insert_prices([
        (NOW - 60, "BTCUSDT", 60_000.0),
        (NOW - 50, "BTCUSDT", 1e-300),           # below the bounds
        (NOW - 40, "BTCUSDT", 1e300),            # above
        (NOW - 30, "BTCUSDT", math.inf),
        (NOW * 1000, "BTCUSDT", 61_000.0),       # a millisecond timestamp
        (NOW + 60, "BTCUSDT", 62_000.0),         # a minute in the future
        (NOW - 20, "ETHUSDT", 3_000.0),
        (NOW + 9, "ETHUSDT", 3_001.0),           # within the 10 s of clock skew
        (NOW - 10, "DOGEUSDT", -1.0),            # nothing usable at all
    ])
    assert store.latest_prices(now=NOW) == {"BTCUSDT": (NOW - 60, 60_000.0), "ETHUSDT": (NOW + 9, 3_001.0)}
    # no wall clock (a replay): the future rule does not apply, the others do
    assert store.latest_prices() == {"BTCUSDT": (NOW + 60, 62_000.0), "ETHUSDT": (NOW + 9, 3_001.0)}


def test_the_stored_price_rule_is_the_guards(store):
    """The store cannot import feeds: its rule and ``guard.stored_price_problem`` must agree row by row."""
    stamps = [NOW - 1e6, NOW, NOW + 10.0, NOW + 10.5, 1e11, 1.0000001e11, NOW * 1000, -5.0, math.inf, -math.inf]
    prices = [60_000.0, 1e-12, 9e-13, 1e12, 1.1e12, 0.0, -1.0, math.inf]
    rows = [(ts, f"X{i}-{j}", price) for i, ts in enumerate(stamps) for j, price in enumerate(prices)]
    store.insert_prices(rows)
    for now in (NOW, None):
        expected = {symbol for ts, symbol, price in rows if stored_price_problem(ts, price, now) is None}
        assert {symbol for ts, symbol, price in rows if stored_price_usable(ts, price, now)} == expected
        assert set(store.latest_prices(now=now)) == expected
        assert 0 < len(expected) < len(rows)


def test_compaction_keeps_recent_ticks_and_the_last_of_each_older_minute(store):
    day = 24 * 3600.0
    now = 1_717_200_000.0  # a whole minute
    ticks = [(now - 3 * day + s, sym, 100.0 + s) for s in range(0, 300, 10) for sym in ("A", "B")]
    ticks += [(now - 3600 + s, "A", 200.0 + s) for s in range(0, 300, 5)]
    store.insert_prices(ticks)
    ids_before = {(ts, sym): i for i, ts, sym, _ in store.prices_after(0)}
    latest = store.latest_prices(now=now)
    removed = store.compact_prices(now, retention_s=day)
    kept = store.prices_after(0)
    old = [(ts, sym, price) for _, ts, sym, price in kept if ts < now - day]
    # 300 s of ticks every 10 s = 5 minutes per symbol; the last tick of each minute stays
    assert sorted(old) == sorted((now - 3 * day + m * 60 + 50, sym, 100.0 + m * 60 + 50)
                                 for m in range(5) for sym in ("A", "B"))
    assert [r for r in kept if r[1] >= now - day] == [r for r in store.prices_after(0) if r[1] >= now - day]
    assert len([r for r in kept if r[1] >= now - day]) == 60  # the last hour untouched
    assert removed == len(ticks) - len(kept) == 60 - 10
    assert all(ids_before[(ts, sym)] == i for i, ts, sym, _ in kept)  # ids kept: a polling feed is undisturbed
    assert store.latest_prices(now=now) == latest
    assert store.compact_prices(now, retention_s=day) == 0  # nothing new to do


def _mark(store) -> float | None:
    row = store.db.execute("SELECT through_ts FROM prices_compaction").fetchone()
    return None if row is None else row[0]


def test_compaction_is_incremental_bounded_and_reads_the_retention_setting(store):
    now = 1_717_200_000.0
    month = [(now - 30 * 86400 + 60 * m, "A", 1.0 + m) for m in range(30 * 24 * 60 - 61)]  # a month of minutes
    hour = [(now - 3600 + s, "A", 2.0 + s) for s in range(0, 3600, 2)]  # then an hour of ticks every 2 s
    store.insert_prices(month + hour)
    store.set_setting(PRICE_RETENTION_KEY, 1800)  # keep half an hour of ticks
    calls = []
    while _mark(store) != now - 1800:  # each call goes over about PRICE_COMPACT_ROWS rows, whole minutes
        calls.append(store.compact_prices(now))
    assert calls == [0, 0, 900 - 30]  # the month (already one a minute) in two calls, then the ticks
    assert store.db.execute("SELECT count(*) FROM prices").fetchone()[0] == len(month) + 30 + 900
    store.insert_prices([(now + s, "A", 3.0 + s) for s in range(0, 600, 2)])
    steps = _steps(store, lambda: calls.append(store.compact_prices(now + 60)))
    assert calls[-1] == 30 - 1 and _mark(store) == now - 1740  # the one minute that aged out
    assert steps < 10  # not the month again
    assert DEFAULT_PRICE_RETENTION_S == 24 * 3600.0


def test_compaction_of_a_crowded_minute_takes_it_whole(store):
    now = 1_717_200_000.0
    store.insert_prices([(now - 7200 + i / 1000, sym, 1.0) for i in range(15_000) for sym in ("A", "B")])
    assert store.compact_prices(now, retention_s=3600) == 2 * (15_000 - 1)
    assert store.db.execute("SELECT count(*) FROM prices").fetchone()[0] == 2
    assert store.compact_prices(now, retention_s=3600) == 0 and _mark(store) == now - 3600


def test_compaction_refuses_nonsense(store):
    with pytest.raises(ValueError, match="must be finite"):
        store.compact_prices(math.nan)
    with pytest.raises(ValueError, match="retention_s >= 0"):
        store.compact_prices(NOW, retention_s=-1)


# -- prices per series: a venue's own mark, or the market's reference price -----------------------------

def test_prices_are_kept_per_venue_and_market(store):
    store.insert_prices([(100.0, "BTCUSDT", 60_000.0), (101.0, "BTCUSDT", 60_010.0, "hyperliquid"),
                         (102.0, "BTCUSDT", 59_990.0, "binance-usdm"), (99.0, "BTCUSDT", 60_020.0, None),
                         (100.5, "BTCUSDT", 60_005.0, "hyperliquid")], source="sim")
    assert store.latest_series_prices() == {("", "BTCUSDT"): (100.0, 60_000.0),
                                            ("hyperliquid", "BTCUSDT"): (101.0, 60_010.0),
                                            ("binance-usdm", "BTCUSDT"): (102.0, 59_990.0)}
    assert store.latest_prices() == {"BTCUSDT": (102.0, 59_990.0)}  # the market's newest, whatever venue
    assert store.price_series() == [("", "BTCUSDT"), ("binance-usdm", "BTCUSDT"), ("hyperliquid", "BTCUSDT")]
    assert store.price_history("BTCUSDT") == [(99.0, 60_020.0), (100.0, 60_000.0)]  # the reference series
    assert store.price_history("BTCUSDT", venue="hyperliquid") == [(100.5, 60_005.0), (101.0, 60_010.0)]
    assert store.price_history("BTCUSDT", venue="hyperliquid", limit=1) == [(101.0, 60_010.0)]
    rows = store.db.execute("SELECT venue, price FROM prices ORDER BY id").fetchall()
    assert rows == [("", 60_000.0), ("hyperliquid", 60_010.0), ("binance-usdm", 59_990.0), ("", 60_020.0),
                    ("hyperliquid", 60_005.0)]
    with pytest.raises(ValueError, match="venue: 3 is not a venue name"):
        store.insert_prices([(1.0, "BTCUSDT", 1.0, 3)])


def test_latest_series_prices_seek_the_index_at_any_size(store):
    venues = ["", "binance-usdm", "bybit", "hyperliquid", "okx"]
    rows = [(NOW - 100_000 + i, f"S{i % 6}", 100.0 + i % 17, venues[(i // 6) % 5]) for i in range(100_000)]
    store.db.conn.executemany("INSERT INTO prices (ts, symbol, price, venue) VALUES (?, ?, ?, ?)", rows)
    store.db.conn.commit()
    latest = store.latest_series_prices(now=NOW)
    expected: dict = {}
    for ts, symbol, price, venue in rows:
        expected[(venue, symbol)] = (ts, price)  # rows are in time order: the last one wins
    assert latest == expected and len(latest) == 30
    assert _steps(store, lambda: store.latest_series_prices(now=NOW)) < 10  # 30 series; a scan takes hundreds
    assert _steps(store, lambda: store.latest_prices(now=NOW)) < 10
    plan = " ".join(r[3] for r in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT ts FROM prices WHERE symbol = 'S1' AND venue = 'okx' ORDER BY ts DESC LIMIT 1"))
    assert "prices_series_ts" in plan


def test_compaction_is_per_series(store):
    now = 1_717_200_000.0
    old = now - 2 * 86400
    store.insert_prices([(old + s, "BTCUSDT", 100.0 + s, venue) for s in range(0, 60, 10)
                         for venue in (None, "bybit", "okx")])
    removed = store.compact_prices(now, retention_s=86400)
    kept = store.db.execute("SELECT venue, ts, price FROM prices ORDER BY venue").fetchall()
    assert kept == [("", old + 50, 150.0), ("bybit", old + 50, 150.0), ("okx", old + 50, 150.0)]  # each its last
    assert removed == 3 * 5


def test_a_book_from_before_venues_keeps_its_prices_as_reference_prices(tmp_path):
    """Migration 0007 on an existing book: every row kept, ids and all, as a reference price; the new
    index replaces the old one; the migrations run in order, 0006 before 0007."""
    import sqlite_utils

    from isodesk.store import Store
    from isodesk.store.migrations import applied_names, migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0007_prices_venue")
    assert "venue" not in {c.name for c in db["prices"].columns}
    db.conn.executemany("INSERT INTO prices (ts, symbol, price, source) VALUES (?, ?, ?, 'old')",
                        [(NOW - 60 + i, sym, 100.0 + i) for i in range(30) for sym in ("BTCUSDT", "ETHUSDT")])
    db.conn.commit()
    before = db.execute("SELECT id, ts, symbol, price FROM prices ORDER BY id").fetchall()
    db.close()
    with Store.open(path) as store:
        names = applied_names(store.db)
        assert names.index("0006_tier_tables") < names.index("0007_prices_venue")
        assert store.db.execute("SELECT id, ts, symbol, price FROM prices ORDER BY id").fetchall() == before
        assert {v for (v,) in store.db.execute("SELECT DISTINCT venue FROM prices")} == {""}
        assert store.latest_series_prices(now=NOW) == {("", "BTCUSDT"): (NOW - 31, 129.0),
                                                       ("", "ETHUSDT"): (NOW - 31, 129.0)}
        indexes = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'prices' "
                                                  "AND type = 'index'")}
        assert "prices_series_ts" in indexes and "prices_symbol_ts" not in indexes
        store.insert_prices([(NOW, "BTCUSDT", 131.0)])  # a writer that names no venue still works
        assert store.db.execute("INSERT INTO prices (ts, symbol, price) VALUES (?, 'BTCUSDT', 1.0) RETURNING venue",
                                [NOW]).fetchone() == ("",)
