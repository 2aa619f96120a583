"""Opening the SQLite file: connection settings, the safety checks, then migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from isodesk.store import migrations
from isodesk.store.errors import StoreError

BUSY_TIMEOUT_S = 5.0


def open_database(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if missing) the isodesk database at ``path`` and bring its schema up to date.

    WAL journal (not for ``":memory:"``), ``busy_timeout`` 5000 ms, foreign keys on,
    ``synchronous=FULL``, then pending migrations. The connection belongs to the calling thread.

    Raises :class:`StoreError`, leaving the file untouched, if the file is not a SQLite database,
    is a SQLite database of some other program, or was written by a newer isodesk.
    """
    name = str(path)
    conn = sqlite3.connect(name, timeout=BUSY_TIMEOUT_S)
    try:
        db = sqlite_utils.Database(conn, strict=True)
        _refuse_foreign(db, name)
        if name != ":memory:":
            db.enable_wal()
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
        migrations.migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{name}: cannot open the database: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return db


def _refuse_foreign(db: sqlite_utils.Database, name: str) -> None:
    """Raise :class:`StoreError` unless ``db`` is empty or an isodesk database this version can run.

    Read-only: nothing is written before this check passes."""
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{name} is not an isodesk database (not SQLite: {exc})") from exc
    if not tables:
        return
    unknown = migrations.unknown_applied(db)
    if unknown:
        raise StoreError(
            f"{name} was written by a newer isodesk (migration {', '.join(unknown)} unknown); refusing to open it"
        )
    if not migrations.applied_names(db):
        raise StoreError(
            f"{name} is a SQLite database of another program (tables: {', '.join(sorted(tables)[:5])}); "
            "refusing to open it"
        )
