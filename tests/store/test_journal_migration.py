"""Migration 0012: the journal accepts ``increase`` entries; an old journal keeps every entry,
its self-references (an undo names what it undoes), its indexes and its append-only triggers."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
import sqlite_utils

from isodesk.store import Store
from isodesk.store.migrations import applied_names, migrations


def _old_book(path):
    """A book at migration 0011 with an account, a position, two ledger entries and two journal
    entries, the second undoing the first."""
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA foreign_keys = ON")
    migrations.apply(db, stop_before="0012_journal_increase")
    c = db.conn
    c.execute("INSERT INTO accounts (id, name, venue, currency, created_at) VALUES (1, 'bybit:USDT', 'bybit', "
              "'USDT', 0)")
    c.execute("INSERT INTO positions (id, label, account_id, venue, symbol, contract, side, quantity, entry_price, "
              "leverage, opened_at) VALUES (7, 'btc', 1, 'bybit', 'BTCUSDT', 'linear', 'long', '1', '60000', '10', 0)")
    for lid, source, dest in ((1, "external", "free:1"), (2, "free:1", "position:7"), (3, "position:7", "free:1")):
        c.execute("INSERT INTO ledger (id, ts, kind, amount, source, dest, account_id, position_id) VALUES "
                  "(?, 1, 'x', '100', ?, ?, 1, ?)", (lid, source, dest, None if lid == 1 else 7))
    c.execute("INSERT INTO journal (id, ts, position_id, account_id, ledger_id, kind, amount, before, after, reason) "
              "VALUES (1, 2, 7, 1, 2, 'add', '100', '{\"m\": 1}', '{\"m\": 2}', 'top-up')")
    c.execute("INSERT INTO journal (id, ts, position_id, account_id, ledger_id, kind, amount, before, after, reason, "
              "undoes, realized_pnl) VALUES (2, 3, 7, 1, 3, 'undo', '100', '{}', '{}', 'undo', 1, '-1.5')")
    c.commit()
    db.close()


def test_an_old_journal_is_kept_whole_and_accepts_increase(tmp_path):
    path = tmp_path / "old.db"
    _old_book(path)
    with sqlite3.connect(path) as raw:
        before = raw.execute("SELECT * FROM journal ORDER BY id").fetchall()
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            raw.execute("INSERT INTO journal (ts, position_id, account_id, kind, amount, before, after) VALUES "
                        "(4, 7, 1, 'increase', '1', '{}', '{}')")
    with Store.open(path) as store:
        assert "0012_journal_increase" in applied_names(store.db)
        rows = store.db.execute("SELECT * FROM journal ORDER BY id").fetchall()
        assert rows == before
        assert [(e.kind, e.undoes) for e in store.journal(position_id=7)] == [("add", None), ("undo", 1)]
        c = store.db.conn
        assert c.execute("PRAGMA foreign_key_check").fetchall() == []
        assert {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'journal'")} == {
            "journal", "journal_by_position", "journal_by_account", "journal_no_update", "journal_no_delete"}
        assert "journal_rebuilt" not in store.db.table_names()
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            c.execute("DELETE FROM journal WHERE id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            c.execute("UPDATE journal SET amount = '1' WHERE id = 1")
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            c.execute("INSERT INTO journal (ts, position_id, account_id, kind, amount, before, after, undoes) VALUES "
                      "(4, 7, 1, 'undo', '1', '{}', '{}', 99)")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            c.execute("INSERT INTO journal (ts, position_id, account_id, kind, amount, before, after) VALUES "
                      "(4, 7, 1, 'grow', '1', '{}', '{}')")
        new = store.add_journal(ts=5, position_id=7, account_id=1, ledger_id=None, kind="increase", amount=Decimal(1),
                                before={}, after={}, reason="added 0.5 at 61000")
        assert store.journal(position_id=7)[-1].kind == "increase" and new == 3
