"""Opening the SQLite file: the files refused, read-only books, the integrity check, then migrations.

What :func:`connect` does with a path:

- **missing**: creates the book (only with ``create``) in a temporary file beside it — migrated, and
  filled by ``initialize`` (the demo book) — and links it into place only when complete, so no
  other process ever sees a half-made book, and of two processes creating the same file one wins
  and the other opens what the winner made. ``Opened.created`` says whether this call made it;
- **refused** with a :class:`StoreError` naming the file, which is left untouched: a folder, an
  empty (0-byte) file, a file that is not SQLite, an SQLite database of another program (or one with
  no tables), a book written by a newer isodesk, a damaged book;
- **read-only** (the file or its folder is not writable, or ``read_only`` asked): opened for
  reading (``mode=ro``; ``immutable=1`` when the folder does not even allow SQLite's shared-memory
  file), ``Opened.read_only_reason`` saying why; pending migrations cannot be applied, so a
  read-only book from an older isodesk is refused with that said;
- **writable**: WAL journal, ``busy_timeout`` 5000 ms, foreign keys on, ``synchronous=FULL``,
  pending migrations.

The integrity check at open is ``PRAGMA quick_check`` of every table except ``prices`` (a table of
ticks: 1.9 s of checking at 2M rows, against ~20 ms for a book of 10,000 ledger entries; a damaged
prices page still fails the query that reads it, with the same clear error). ``isodesk check`` runs
the full ``integrity_check``.

Errors SQLite raises while opening, reading or writing become one line through :func:`io_error`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from isodesk.store import migrations
from isodesk.store.errors import StoreError, StoreIOError

BUSY_TIMEOUT_S = 5.0
SQLITE_HEADER = b"SQLite format 3\x00"
#: Tables the integrity check at open skips (see the module docstring); ``isodesk check`` covers them.
UNCHECKED_AT_OPEN = frozenset({"prices"})

#: ``initialize(db, path)``: fills a book being created, before anyone else can see it.
Initializer = Callable[[sqlite_utils.Database, Path], None]


@dataclass(frozen=True)
class Opened:
    """An open book: the connection, whether it is read-only (and why), whether this open created it."""

    db: sqlite_utils.Database
    read_only: bool = False
    read_only_reason: str = ""
    created: bool = False


def open_database(path: str | Path) -> sqlite_utils.Database:
    """The connection of :func:`connect` with its defaults (create when missing, check, migrate)."""
    return connect(path).db


def connect(
    path: str | Path,
    *,
    create: bool = True,
    read_only: bool = False,
    verify: bool = True,
    require_current: bool = True,
    initialize: Initializer | None = None,
) -> Opened:
    """Open the isodesk book at ``path`` as the module docstring says; the connection belongs to the
    calling thread.

    ``create``: make the book when the file does not exist (else ``StoreError``). ``read_only``: open
    for reading even if the file is writable. ``verify``: run the integrity check at open.
    ``require_current``: refuse a read-only book that lacks migrations (``isodesk check`` reads old
    books as they are). ``initialize``: fill a book this call creates.
    """
    name = str(path)
    if name == ":memory:":
        db = sqlite_utils.Database(sqlite3.connect(name), strict=True)
        _configure(db, wal=False)
        migrations.migrations.apply(db)
        return Opened(db, created=True)
    file = Path(path)
    created = False
    if not file.exists():
        if not create:
            raise StoreError(f"{name}: no such file")
        created = _create(file, initialize)
    _refuse_file(file)
    reason = "opened for reading only" if read_only else _read_only_reason(file)
    try:
        conn = _connect_read_only(file) if reason else sqlite3.connect(name, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise io_error(exc, name, "open") from exc
    try:
        db = sqlite_utils.Database(conn, strict=True)
        _refuse_foreign(db, name)
        if verify:
            _quick_check(db, name)
        _configure(db, wal=not reason)
        if not reason:
            migrations.migrations.apply(db)
        elif require_current:
            pending = [m.name for m in migrations.migrations.pending(db)]
            if pending:
                raise StoreError(
                    f"{name} is read-only ({reason}) and was written by an older isodesk: it needs "
                    f"{', '.join(pending)}, which cannot be applied to it; make it writable and open it once"
                )
    except sqlite3.Error as exc:
        conn.close()
        raise io_error(exc, name, "open") from exc
    except BaseException:
        conn.close()
        raise
    return Opened(db, read_only=bool(reason), read_only_reason=reason, created=created)


def copy_database(source: str | Path, target: str | Path) -> None:
    """Copy the SQLite database file ``source`` to ``target`` with SQLite's backup API: a
    consistent copy even while another connection writes the source."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def describe(exc: sqlite3.Error) -> str:
    """What went wrong, in words, with SQLite's own message in brackets."""
    code = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc)
    if code == "SQLITE_FULL" or "disk is full" in text:
        return f"the disk is full ({text})"
    if code.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return f"a disk I/O error ({text})"
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return f"the file cannot be written ({text})"
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return f"another program held the book's lock too long ({text})"
    if code.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return f"the file is damaged ({text})"
    if code == "SQLITE_NOTADB" or "not a database" in text:
        return f"it is not an SQLite file ({text})"
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return f"the file cannot be opened ({text})"
    return text


def io_error(exc: sqlite3.Error, name: str, doing: str) -> StoreIOError:
    """One line for an error SQLite raised while ``doing`` ("open", "read", "write") the book ``name``."""
    what = describe(exc)
    if doing == "write":
        what += "; rolled back, the book is as it was"
    if "damaged" in what:
        what += f"; run `isodesk check --db {name}` for the full report"
    return StoreIOError(f"{name}: cannot {doing} the book: {what}")


def is_io_error(exc: BaseException) -> bool:
    """True for the SQLite errors :func:`io_error` turns into a line: operational errors (full disk,
    I/O, read-only, lock, ...) and damaged files; not constraint violations or misuse of the API."""
    if isinstance(exc, StoreError):
        return False
    return type(exc) is sqlite3.DatabaseError or isinstance(exc, sqlite3.OperationalError)


def _configure(db: sqlite_utils.Database, *, wal: bool) -> None:
    """The connection settings of every book; ``wal`` switches a writable file to the WAL journal."""
    if wal:
        db.enable_wal()
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA synchronous = FULL")


def _create(file: Path, initialize: Initializer | None) -> bool:
    """Make a new book at ``file`` (see the module docstring); False if another process made it first."""
    folder = file.absolute().parent
    if not folder.is_dir():
        raise StoreError(f"{file}: cannot create the book: the folder {folder} does not exist")
    temp = folder / f".{file.name}.new-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        conn = sqlite3.connect(str(temp), timeout=BUSY_TIMEOUT_S)
        try:
            db = sqlite_utils.Database(conn, strict=True)
            _configure(db, wal=True)
            # nobody sees the file before it is complete: no syncs while making it, one at the end
            db.execute("PRAGMA synchronous = OFF")
            migrations.migrations.apply(db)
            if initialize is not None:
                initialize(db, temp)
        finally:
            conn.close()
        _fsync(temp)
        try:
            os.link(temp, file)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: rename, unless someone made the file meanwhile
            if file.exists():
                return False
            os.replace(temp, file)
        _fsync(folder)
        return True
    except sqlite3.Error as exc:
        raise StoreError(f"{file}: cannot create the book in {folder}: {describe(exc)}") from exc
    except OSError as exc:
        raise StoreError(f"{file}: cannot create the book in {folder}: {exc.strerror or exc}") from exc
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                Path(f"{temp}{suffix}").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file (or, where the system allows it, a folder's entries) to the disk."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a folder; its renames are durable
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _refuse_file(file: Path) -> None:
    """Raise :class:`StoreError` for a path that is no SQLite file at all (read-only look at its bytes)."""
    if file.is_dir():
        raise StoreError(f"{file} is a folder, not an isodesk database")
    try:
        size = file.stat().st_size
        with file.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"{file}: cannot read the file ({exc.strerror or exc})") from exc
    if size == 0:
        raise StoreError(
            f"{file} is empty (0 bytes), not an isodesk database; refusing to use it "
            "(remove it to start a new book there, or choose another file)"
        )
    if head != SQLITE_HEADER:
        raise StoreError(f"{file} is not an isodesk database (not an SQLite file); refusing to open it")


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only (no write bit: root ignores permissions, we do not)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & 0o222)


def _read_only_reason(file: Path) -> str:
    """Why the book can only be read ("" when it can be written)."""
    if not _writable(file):
        return "the file is not writable"
    folder = file.absolute().parent
    if not _writable(folder):
        return f"its folder {folder} is not writable"
    return ""


def _connect_read_only(file: Path) -> sqlite3.Connection:
    """A read-only connection: ``mode=ro``, or ``immutable=1`` when SQLite cannot make its ``-shm``
    file (a read-only folder) and no write-ahead log holds changes the main file lacks."""
    uri = f"{file.absolute().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        code = str(getattr(exc, "sqlite_errorname", "") or "")
        if not code.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
            raise
    wal = Path(f"{file}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StoreError(
            f"{file} is read-only and so is its folder, and its write-ahead log {wal.name} holds changes "
            "not yet in the file; make the folder writable to read it"
        )
    return sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=BUSY_TIMEOUT_S)


def _refuse_foreign(db: sqlite_utils.Database, name: str) -> None:
    """Raise :class:`StoreError` unless ``db`` is an isodesk database this version can run.

    Read-only: nothing is written before this check passes."""
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    if not tables:
        raise StoreError(f"{name} is an SQLite database with no tables, not an isodesk database; refusing to use it")
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


def _quick_check(db: sqlite_utils.Database, name: str) -> None:
    """``PRAGMA quick_check`` of every table but :data:`UNCHECKED_AT_OPEN`; ``StoreError`` on any problem."""
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
    problems: list[str] = []
    for table in ["sqlite_schema", *tables]:
        if table in UNCHECKED_AT_OPEN:
            continue
        quoted = "'" + table.replace("'", "''") + "'"
        for (text,) in db.execute(f"PRAGMA quick_check({quoted})").fetchall():
            if text != "ok":  # one row may hold several problems, one a line
                problems += [line for line in str(text).splitlines() if line.strip()]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StoreError(
            f"{name} is damaged: {problems[0]}{more}; refusing to open it; run `isodesk check --db {name}` "
            "for the full report"
        )
