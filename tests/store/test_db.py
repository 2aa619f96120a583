"""Opening the database: schema, pragmas, migrations, and the files the store refuses."""

from __future__ import annotations

import sqlite3

import pytest

from isodesk.store import Store, StoreError
from isodesk.store.db import open_database
from isodesk.store.migrations import MIGRATION_SET, known_names

TABLES = {"accounts", "positions", "ledger", "prices", "alerts", "scenarios", "settings"}


def test_schema_has_every_table_strict(store):
    names = set(store.db.table_names())
    assert names >= TABLES | {"_sqlite_migrations"}
    for table in TABLES:
        sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
        assert sql.rstrip().endswith("STRICT"), table


def test_money_columns_are_text(store):
    columns = {c.name: c.type for c in store.db["positions"].columns}
    for money in ("quantity", "contract_size", "entry_price", "leverage", "close_price"):
        assert columns[money] == "TEXT"
    assert {c.name: c.type for c in store.db["ledger"].columns}["amount"] == "TEXT"


def test_pragmas(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_foreign_keys_are_enforced(store):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        store.db.execute(
            "INSERT INTO alerts (ts, position_id, level, kind, message) VALUES (1, 999, 'danger', 'x', 'y')"
        )


def test_check_constraints_guard_enumerations(book):
    store, _, pid = book
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        store.db.execute("UPDATE positions SET side = 'sideways' WHERE id = ?", [pid])


def test_reopen_applies_nothing_twice(tmp_path):
    path = tmp_path / "a.db"
    Store.open(path).close()
    with Store.open(path) as again:
        rows = list(again.db["_sqlite_migrations"].rows)
    assert [r["name"] for r in rows] == sorted(known_names())
    assert [r["name"] for r in rows][:5] == ["0001_initial", "0002_journal", "0003_venue_sync",
                                             "0004_command_queue", "0005_balances_and_compaction"]
    assert all(r["migration_set"] == MIGRATION_SET for r in rows)


def test_memory_database_opens_without_wal():
    db = open_database(":memory:")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    assert "ledger" in db.table_names()
    db.close()


def test_database_from_newer_isodesk_is_refused_untouched(tmp_path):
    path = tmp_path / "newer.db"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, '0042_future', 'x')",
        [MIGRATION_SET],
    )
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"written by a newer isodesk \(migration 0042_future unknown\)"):
        Store.open(path)
    assert path.read_bytes() == before


def test_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"label,venue\nthis is a CSV, not SQLite\n" * 50)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not an isodesk database"):
        Store.open(path)
    assert path.read_bytes() == before


def test_other_programs_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another program"):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["recipes"]
    conn.close()
