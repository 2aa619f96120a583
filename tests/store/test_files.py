"""The files a book lives in (finding 7): empty, foreign, damaged, read-only, a full disk.

"A 0-byte book opens silently as a new empty book (the default one is re-seeded with the demo); a
corrupt page gives a traceback; a read-only book says 'not an isodesk database', even for status; a
full disk gives a raw OperationalError traceback; nothing runs an integrity check at open."
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from decimal import Decimal

import pytest

from isodesk.desk import setup
from isodesk.store import (
    EXTERNAL,
    ReadOnlyError,
    Store,
    StoreError,
    StoreIOError,
    free_ref,
    position_ref,
)
from isodesk.store.db import describe, io_error


def _write_book(path, entries: int = 300) -> None:
    """A book with one account and ``entries`` deposits (the ledger spans several pages)."""
    with Store.open(path) as store:
        account = store.create_account("main", "bybit", "USDT", ts=1.0)
        with store.transaction():
            for i in range(entries):
                store.transfer(Decimal("1.5"), EXTERNAL, free_ref(account.id), kind="deposit", ts=float(i),
                               account_id=account.id, memo="x" * 40)
        store.insert_prices([(float(i), "BTCUSDT", 50000.0 + i) for i in range(2000)])


def _damage(path, table: str) -> None:
    """Overwrite the b-tree header of ``table``'s root page with 0xFF bytes."""
    conn = sqlite3.connect(path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page + 8)
        handle.write(b"\xff" * 16)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".new-" in p.name)


# -- creating and refusing ---------------------------------------------------------------------------


def test_a_new_file_is_created_complete_and_says_so(tmp_path):
    path = tmp_path / "new.db"
    with Store.open(path) as store:
        assert store.created and not store.read_only
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Store.open(path) as again:
        assert not again.created
    assert _leftovers(tmp_path) == []


def test_a_missing_file_is_not_created_when_asked_not_to(tmp_path):
    with pytest.raises(StoreError, match=r"missing\.db: no such file"):
        Store.open(tmp_path / "missing.db", create=False)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_initializer_leaves_no_file(tmp_path):
    def boom(store: Store) -> None:
        store.create_account("half", "bybit", "USDT", ts=0)
        raise RuntimeError("seed failed")

    with pytest.raises(RuntimeError, match="seed failed"):
        Store.open(tmp_path / "new.db", initialize=boom)
    assert list(tmp_path.iterdir()) == []


def test_a_book_in_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(StoreError, match=r"nowhere[/\\]book\.db: cannot create the book: the folder .*nowhere does "
                                         r"not exist"):
        Store.open(tmp_path / "nowhere" / "book.db")


def test_a_file_system_without_hard_links_still_gets_a_complete_book(tmp_path, monkeypatch):
    from isodesk.store import db

    def no_links(source, target):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(db.os, "link", no_links)
    with Store.open(tmp_path / "book.db", initialize=lambda s: s.create_account("a", "bybit", "USDT", ts=0)) as store:
        assert store.created and [a.name for a in store.accounts()] == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.db"]


def test_two_processes_creating_one_book_create_it_once(tmp_path):
    path = tmp_path / "race.db"
    results: list[object] = []
    gate = threading.Barrier(4)

    def create() -> None:
        gate.wait()
        try:
            with Store.open(path, initialize=lambda s: s.create_account("only", "bybit", "USDT", ts=0)) as store:
                results.append((store.created, [a.name for a in store.accounts()]))
        except BaseException as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [(False, ["only"])] * 3 + [(True, ["only"])]
    assert _leftovers(tmp_path) == []


def test_an_empty_file_is_refused_untouched(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(StoreError, match=r"empty\.db is empty \(0 bytes\), not an isodesk database; refusing to use "
                                         r"it"):
        Store.open(path)
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_an_empty_default_book_is_refused_not_reseeded(tmp_path, monkeypatch):
    path = tmp_path / "isodesk.db"
    path.write_bytes(b"")
    monkeypatch.setattr(setup, "default_db_path", lambda: path)
    with pytest.raises(StoreError, match="is empty"):
        setup.open_book(None)
    assert path.read_bytes() == b""


def test_only_a_created_book_is_seeded(tmp_path, monkeypatch):
    default = tmp_path / "isodesk.db"
    monkeypatch.setattr(setup, "default_db_path", lambda: default)
    with setup.open_book(None, ts=1_700_000_000.0) as store:
        assert store.created and store.positions()  # a new default book gets the demo
    named = tmp_path / "mine.db"
    Store.open(named).close()  # an existing, empty book of the trader's
    with setup.open_book(named, demo=True) as store:
        assert not store.created and store.accounts() == [] and store.positions(None) == []
    with setup.open_book(tmp_path / "fresh.db", demo=True, ts=1_700_000_000.0) as store:
        assert store.created and store.positions()
    with setup.open_book(tmp_path / "plain.db") as store:
        assert store.created and store.accounts() == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"label,venue\nthis is a CSV, not SQLite\n" * 50, r"notes\.db is not an isodesk database \(not an SQLite "
                                                           r"file\)"),
        (b"SQLite format 3\x00" + b"\x00" * 84, r"notes\.db: cannot open the book: "),
    ],
)
def test_files_that_are_not_books_are_refused_untouched(tmp_path, content, message):
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        Store.open(path)
    assert path.read_bytes() == content


def test_an_sqlite_file_without_tables_is_refused(tmp_path):
    path = tmp_path / "blank.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")  # writes the header: a valid, empty SQLite database
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"blank\.db is an SQLite database with no tables, not an isodesk database"):
        Store.open(path)
    assert path.read_bytes() == before


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder, not an isodesk database"):
        Store.open(tmp_path)


# -- damaged books ---------------------------------------------------------------------------------


def test_a_damaged_book_is_refused_at_open_with_the_way_to_check_it(tmp_path):
    path = tmp_path / "book.db"
    _write_book(path)
    _damage(path, "ledger")
    before = path.read_bytes()
    with pytest.raises(StoreIOError, match=r"book\.db: cannot open the book: the file is damaged \(database disk "
                                           r"image is malformed\); run `isodesk check --db .*book\.db` for the full "
                                           r"report"):
        Store.open(path)
    assert path.read_bytes() == before


def test_quick_check_problems_refuse_the_book(tmp_path):
    """A page SQLite can read but whose contents are inconsistent: quick_check's report, not a crash."""
    path = tmp_path / "book.db"
    _write_book(path)
    def raw(*statements: str) -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA writable_schema = ON")
        for sql in statements:
            conn.execute(sql)
        conn.close()

    # a NULL slipped into a NOT NULL column (the schema relaxed, written, restored behind SQLite's back)
    raw("UPDATE sqlite_master SET sql = replace(sql, 'name TEXT NOT NULL UNIQUE', 'name TEXT UNIQUE') "
        "WHERE name = 'accounts'")
    raw("UPDATE accounts SET name = NULL")
    raw("UPDATE sqlite_master SET sql = replace(sql, 'name TEXT UNIQUE', 'name TEXT NOT NULL UNIQUE') "
        "WHERE name = 'accounts'")
    with pytest.raises(StoreError, match=r"book\.db is damaged: NULL value in accounts\.name.*refusing to open it; "
                                         r"run `isodesk check --db"):
        Store.open(path)


def test_a_damaged_prices_page_is_one_line_when_read(tmp_path):
    path = tmp_path / "book.db"
    _write_book(path)
    _damage(path, "prices")
    with Store.open(path) as store:  # prices are not checked at open (they are not the book)
        assert store.free_balance(1) == Decimal("450.0")
        with pytest.raises(StoreIOError, match=r"cannot read the book: the file is damaged \(database disk image is "
                                               r"malformed\); run `isodesk check"):
            store.latest_prices()


# -- read-only books -------------------------------------------------------------------------------


@pytest.fixture
def read_only(tmp_path):
    """A book whose file (or folder) is made read-only; permissions restored afterwards."""
    path = tmp_path / "ro" / "book.db"
    path.parent.mkdir()
    _write_book(path, entries=3)
    yield path
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_book_opens_for_reading(read_only, what):
    if what == "file":
        os.chmod(read_only, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        reason = "the file is not writable"
    else:
        os.chmod(read_only.parent, 0o555)
        reason = f"its folder {read_only.parent} is not writable"
    before = read_only.read_bytes()
    with Store.open(read_only) as store:
        assert store.read_only and store.read_only_reason == reason
        assert store.free_balance(1) == Decimal("4.5")
        assert store.latest_prices(now=3000.0)["BTCUSDT"] == (1999.0, 51999.0)
        assert store.accounts()[0].name == "main"
        message = rf"book\.db is read-only \({reason}\); nothing can be written to it"
        with pytest.raises(ReadOnlyError, match=message):
            store.transfer(Decimal(1), EXTERNAL, free_ref(1), kind="deposit", ts=9.0, account_id=1)
        with pytest.raises(ReadOnlyError, match=message):
            store.set_setting("desk.thresholds", {"warning": 0.1})
        with pytest.raises(ReadOnlyError, match=message):
            store.insert_prices([(1.0, "BTCUSDT", 1.0)])
    assert read_only.read_bytes() == before


def test_a_writable_book_can_be_opened_for_reading_only(tmp_path):
    path = tmp_path / "book.db"
    _write_book(path, entries=1)
    with Store.open(path, read_only=True) as store:
        assert store.read_only and store.read_only_reason == "opened for reading only"
        with pytest.raises(ReadOnlyError):
            store.create_account("x", "bybit", "USDT", ts=0)


def test_a_read_only_book_of_an_older_isodesk_is_refused_with_the_reason(read_only):
    conn = sqlite3.connect(read_only)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0005_balances_and_compaction'")
    conn.commit()
    conn.close()
    os.chmod(read_only, 0o444)
    with pytest.raises(StoreError, match=r"is read-only \(the file is not writable\) and was written by an older "
                                         r"isodesk: it needs 0005_balances_and_compaction"):
        Store.open(read_only)


# -- a full disk, I/O errors -----------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_the_book_is_as_it_was(book):
    store, account, pid = book
    before = (store.ledger(), store.balances(), store.max_price_id(), store.positions(None))
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    full = (rf"{store.path}: cannot write the book: the disk is full \(database or disk is full\); rolled back, "
            r"the book is as it was")
    with pytest.raises(StoreIOError, match=full):
        store.insert_prices([(float(i), "BTCUSDT", 50000.0) for i in range(20000)])
    with pytest.raises(StoreIOError, match=full), store.transaction():  # a command of two movements
        store.transfer(Decimal(10), free_ref(account.id), position_ref(pid), kind="add_margin", ts=9.0,
                       account_id=account.id)
        store.transfer(Decimal(1), EXTERNAL, free_ref(account.id), kind="deposit", ts=9.0, account_id=account.id,
                       memo="m" * 200_000)
    assert not store.db.conn.in_transaction
    assert (store.ledger(), store.balances(), store.max_price_id(), store.positions(None)) == before
    store.db.execute("PRAGMA max_page_count = 1073741823")  # room again: the same store carries on
    store.transfer(Decimal(10), free_ref(account.id), position_ref(pid), kind="add_margin", ts=9.0,
                   account_id=account.id)
    assert store.position(pid).isolated_margin == Decimal("1260.5")


def test_a_full_disk_is_still_an_operational_error_for_older_callers(book):
    store, _, _ = book
    store.db.execute(f"PRAGMA max_page_count = {store.db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        store.insert_prices([(float(i), "BTCUSDT", 50000.0) for i in range(20000)])


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (sqlite3.OperationalError("disk I/O error"), "a disk I/O error (disk I/O error)"),
        (sqlite3.OperationalError("attempt to write a readonly database"), "the file cannot be written"),
        (sqlite3.OperationalError("database is locked"), "another program held the book's lock too long"),
        (sqlite3.DatabaseError("file is not a database"), "it is not an SQLite file"),
        (sqlite3.OperationalError("unable to open database file"), "the file cannot be opened"),
        (sqlite3.OperationalError("something new"), "something new"),
    ],
)
def test_sqlite_errors_read_as_one_line(error, words):
    assert describe(error).startswith(words)
    line = str(io_error(error, "/books/a.db", "write"))
    assert line.startswith(f"/books/a.db: cannot write the book: {words}") and "\n" not in line
    assert line.endswith("rolled back, the book is as it was")


def test_an_io_error_inside_a_command_rolls_it_back(book, monkeypatch):
    store, account, pid = book
    before = store.balances()
    real = store.add_journal

    def failing(**kw):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "add_journal", failing)
    with pytest.raises(StoreIOError, match=r"cannot write the book: a disk I/O error \(disk I/O error\); rolled "
                                           r"back"), store.transaction():
        store.transfer(Decimal(10), free_ref(account.id), position_ref(pid), kind="add_margin", ts=9.0,
                       account_id=account.id)
        store.add_journal(ts=9.0, position_id=pid, account_id=account.id, ledger_id=None, kind="add",
                          amount=Decimal(10), before={}, after={})
    monkeypatch.setattr(store, "add_journal", real)
    assert store.balances() == before


class _NoShmConnection:
    """What ``mode=ro`` gives as an unprivileged user in a folder it cannot write: no ``-shm`` file."""

    def execute(self, *args):
        exc = sqlite3.OperationalError("attempt to write a readonly database")
        exc.sqlite_errorname = "SQLITE_READONLY_DIRECTORY"
        raise exc

    def close(self):
        pass


def test_a_read_only_folder_without_a_shared_memory_file_is_read_immutable(read_only, monkeypatch):
    from isodesk.store import db

    real = sqlite3.connect
    uris: list[str] = []

    def connect(target, *args, **kwargs):
        uris.append(str(target))
        if "mode=ro" in str(target) and "immutable" not in str(target):
            return _NoShmConnection()
        return real(target, *args, **kwargs)

    os.chmod(read_only.parent, 0o555)
    monkeypatch.setattr(db.sqlite3, "connect", connect)
    with Store.open(read_only) as store:
        assert store.read_only and store.free_balance(1) == Decimal("4.5")
    assert uris[-1].endswith("?mode=ro&immutable=1")
    os.chmod(read_only.parent, 0o755)
    wal = read_only.parent / "book.db-wal"
    wal.write_bytes(b"unsaved frames")  # changes the main file lacks: immutable would not see them
    os.chmod(read_only.parent, 0o555)
    with pytest.raises(StoreError, match=r"book\.db is read-only and so is its folder, and its write-ahead log "
                                         r"book\.db-wal holds changes not yet in the file"):
        Store.open(read_only)
