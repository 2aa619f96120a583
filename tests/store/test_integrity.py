"""``check_book``: SQLite's checks and the ledger's invariants, on sound and on broken books."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from isodesk.store import EXTERNAL, Store, StoreError, free_ref, pnl_ref, position_ref
from isodesk.store.integrity import Finding, check_book


def _raw(path, *statements: str) -> None:
    """Write behind the store's back (what a bug, an old isodesk or another program could leave)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    for sql in statements:
        conn.execute(sql)
    conn.close()


def _entry(amount: str, source: str, dest: str, position_id: str = "NULL", reverses: str = "NULL") -> str:
    return ("INSERT INTO ledger (ts, kind, amount, source, dest, account_id, position_id, reverses) "
            f"VALUES (9, 'raw', '{amount}', '{source}', '{dest}', 1, {position_id}, {reverses})")


@pytest.fixture
def sound(book):
    """The small book, closed, with a journal entry: its path."""
    store, account, pid = book
    entry = store.transfer(Decimal(50), free_ref(account.id), position_ref(pid), kind="add_margin", ts=4,
                           account_id=account.id)
    store.add_journal(ts=4, position_id=pid, account_id=account.id, ledger_id=entry, kind="add", amount=Decimal(50),
                      before={}, after={})
    store.close()
    return store.path


def test_a_sound_book_is_ok(sound):
    before = sound.read_bytes()
    report = check_book(sound)
    assert report.ok and report.findings == ()
    assert report.counts == {"accounts": 1, "positions": 1, "ledger": 3, "journal": 1, "prices": 0}
    assert report.as_json()["ok"] is True
    assert sound.read_bytes() == before


@pytest.mark.parametrize(
    ("statements", "finding"),
    [
        ([_entry("9000", "free:1", "external")],
         Finding("ledger", "free:1 is -300.5 USDT; a free balance never goes below 0")),
        ([_entry("2000", "position:1", "pnl:1", "1")],
         Finding("ledger", "position:1 (btc-long) is -699.5 USDT; margin never goes below 0")),
        (["UPDATE positions SET status = 'liquidated', closed_at = 5"],
         Finding("ledger", "position:1 (btc-long) is liquidated but still holds 1300.5 USDT of margin")),
        ([_entry("abc", "external", "free:1")], Finding("ledger", "entry 4: amount 'abc' is not a positive decimal")),
        ([_entry("5", "free:2", "external")],
         Finding("ledger", "entry 4: source free:2 belongs to another account than the entry's (1)")),
        ([_entry("5", "free:1", "position:1")], Finding("ledger", "entry 4: dest position:1 but position_id None")),
        ([_entry("5", "free:1", "margin:1")], Finding("ledger", "entry 4: dest 'margin:1' is not a ledger ref")),
        ([_entry("5", "free:1", "position:9", "9")], Finding("ledger", "entry 4: dest position:9: no such position")),
        ([_entry("5", "free:1", "external", reverses="1")],
         Finding("ledger", "entry 4 reverses entry 1 (10000 external→free:1) but moves 5 free:1→external")),
        ([_entry("10000", "free:1", "external", reverses="1"), _entry("10000", "free:1", "external", reverses="1")],
         Finding("ledger", "entry 1 is reversed twice (by 4 and 5)")),
        ([_entry("1", "free:1", "external", reverses="99")],
         Finding("ledger", "entry 4 reverses entry 99, which is not an earlier valid entry")),
        (["INSERT INTO balance_checkpoints (ref, through_id, balance) VALUES ('free:1', 2, '8000')"],
         Finding("checkpoint", "free:1 through entry 2 is checkpointed at 8000 but the entries sum to 8749.5")),
        (["INSERT INTO balance_checkpoints (ref, through_id, balance) VALUES ('free:1', 99, '0')"],
         Finding("checkpoint", "free:1 is checkpointed through entry 99, which does not exist")),
        (["INSERT INTO journal (ts, position_id, account_id, ledger_id, kind, amount, before, after) "
          "VALUES (5, 1, 1, 3, 'add', '49', '{}', '{}')"],
         Finding("journal", "entry 2 (add) records 49 but ledger entry 3 moved 50")),
        (["INSERT INTO journal (ts, position_id, account_id, ledger_id, kind, amount, before, after) "
          "VALUES (5, 1, 1, 1, 'close', '0', '{}', '{}')"],
         Finding("journal", "entry 2 is about position 1 of account 1 but ledger entry 1 about position None of "
                            "account 1")),
        (["INSERT INTO journal (ts, position_id, account_id, ledger_id, kind, amount, before, after) "
          "VALUES (5, 1, 1, 77, 'add', '1', '{}', '{}')"],
         Finding("journal", "entry 2 names ledger entry 77, which does not exist")),
        (["INSERT INTO alerts (ts, position_id, level, kind, message) VALUES (1, 42, 'danger', 'x', 'y')"],
         Finding("foreign key", "alerts row 1 refers to a positions row that does not exist")),
    ],
)
def test_each_broken_rule_is_reported(sound, statements, finding):
    _raw(sound, *statements)
    before = sound.read_bytes()
    report = check_book(sound)
    assert finding in report.findings, report.findings
    assert not report.ok
    assert sound.read_bytes() == before


def test_an_entry_that_could_break_the_zero_sum_is_reported_and_left_out(tmp_path):
    """Only an entry that is no valid movement could unbalance the books (one the ledger's CHECK refuses)."""
    path = tmp_path / "book.db"
    with Store.open(path) as store:
        account = store.create_account("main", "bybit", "USDT", ts=0)
        store.transfer(Decimal(5), EXTERNAL, free_ref(account.id), kind="deposit", ts=1, account_id=account.id)
    # an amount CHECK would refuse: the checker must not take it into the sums, and must say so
    _raw(path, "PRAGMA ignore_check_constraints = ON", _entry("-3", "pnl:1", "external"))
    report = check_book(path)
    assert report.findings == (Finding("ledger", "entry 2: amount '-3' is not a positive decimal"),)


def test_a_damaged_book_is_checked_as_far_as_it_can_be_read(sound):
    conn = sqlite3.connect(sound)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ledger'").fetchone()[0]
    conn.close()
    with open(sound, "r+b") as handle:
        # the b-tree page's type byte (2, 5, 10 or 13) made invalid: every read of the table fails.
        # (Cell pointers overwritten instead left it to the query plan whether a read met them.)
        handle.seek((root - 1) * 4096)
        handle.write(b"\xff")
    report = check_book(sound)
    assert not report.ok
    assert any(f.check == "integrity" for f in report.findings)
    assert Finding("ledger", "could not be read: the file is damaged (database disk image is malformed)") in \
        report.findings


def test_an_old_book_is_checked_as_it_is(sound):
    _raw(sound, "DROP TABLE balance_checkpoints", "DROP TABLE prices_compaction", "DROP INDEX ledger_source",
         "DROP INDEX ledger_dest", "DROP TRIGGER ledger_ids_only_grow",
         "DELETE FROM _sqlite_migrations WHERE name = '0005_balances_and_compaction'")
    report = check_book(sound)
    assert report.ok and report.pending_migrations == ("0005_balances_and_compaction",)
    with Store.open(sound) as store:  # a writable open upgrades it; the balances are unchanged
        assert store.free_balance(1) == Decimal("8699.5")
        assert store.position(1).isolated_margin == Decimal("1300.5")
        checkpoints = dict(store.db.execute("SELECT ref, balance FROM balance_checkpoints").fetchall())
    assert checkpoints == {"free:1": "8699.5", "position:1": "1300.5"}  # the first command sums nothing old
    upgraded = check_book(sound)
    assert upgraded.ok and upgraded.pending_migrations == ()


def test_an_old_book_with_an_unreadable_amount_still_upgrades(sound):
    _raw(sound, "DROP TABLE balance_checkpoints", "DROP TABLE prices_compaction", "DROP INDEX ledger_source",
         "DROP INDEX ledger_dest", "DROP TRIGGER ledger_ids_only_grow",
         "DELETE FROM _sqlite_migrations WHERE name = '0005_balances_and_compaction'",
         _entry("abc", "external", "pnl:1"))
    with Store.open(sound) as store:
        assert store.db.execute("SELECT count(*) FROM balance_checkpoints").fetchone()[0] == 0
        assert store.free_balance(1) == Decimal("8699.5")
    assert check_book(sound).findings == (Finding("ledger", "entry 4: amount 'abc' is not a positive decimal"),)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, r"book\.db: no such file"),
        (lambda p: p.write_bytes(b""), r"is empty \(0 bytes\)"),
        (lambda p: p.write_text("a,b\n1,2\n"), r"not an isodesk database \(not an SQLite file\)"),
        (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200),
         r"book\.db: cannot read the book at all: "),
    ],
)
def test_a_file_that_cannot_be_checked_is_one_error(tmp_path, make, message):
    path = tmp_path / "book.db"
    make(path)
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(StoreError, match=message):
        check_book(path)
    assert (path.read_bytes() if path.exists() else None) == before  # never created, never changed


def test_pnl_may_be_negative_and_external_is_not_checked(book):
    store, account, pid = book
    store.transfer(Decimal(5), pnl_ref(account.id), free_ref(account.id), kind="close_profit", ts=9,
                   account_id=account.id, position_id=pid)  # fmt: skip
    assert check_book(store.path).ok
