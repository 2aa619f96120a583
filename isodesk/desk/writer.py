"""One writer per book, across processes: an OS lock on a file beside the book.

The desk that may change a book holds an exclusive, non-blocking lock on ``<book>.writer``
(``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows) for as long as it lives. The operating
system drops the lock when the process ends, however it ends (SIGKILL included), so a crashed
app never leaves a book locked. The file also says who holds it (program, pid, since when), so a
second app or a command can tell the trader where the book is open.

Why a lock file and not a row in the database: a row cannot tell a dead holder from a live one
without a heartbeat and a timeout, and a timeout is either too short (two writers) or too long (a
book locked after a crash). The kernel knows for certain.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


class BookBusy(Exception):
    """The book already has a writer; the message says which program holds it."""

    def __init__(self, path: Path, holder: dict[str, Any]):
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is open for writing in {describe(holder)}")


def describe(holder: dict[str, Any]) -> str:
    """``the isodesk app (pid 1234, since 14:03:07)`` from a lock file's contents."""
    program = holder.get("program") or "another isodesk"
    pid = holder.get("pid")
    since = holder.get("since")
    when = time.strftime(", since %H:%M:%S", time.localtime(since)) if isinstance(since, (int, float)) else ""
    return f"{program} (pid {pid}{when})" if pid else program


def lock_path(book: Path) -> Path:
    """The lock file of a book: ``book.db`` → ``book.db.writer``."""
    return book.with_name(book.name + ".writer")


@dataclass
class WriterLock:
    """A held writer lock; :meth:`release` (or process exit) drops it."""

    path: Path
    _file: IO[str] | None

    @classmethod
    def acquire(cls, book: str | Path, program: str) -> WriterLock:
        """Take the writer lock of ``book`` for ``program`` or raise :class:`BookBusy` at once (never waits).

        ``OSError`` when the lock file cannot be created (a read-only folder): the caller opens the
        book read-only.
        """
        path = lock_path(Path(book).resolve())
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lock's lifetime
        try:
            _lock(handle)
        except BlockingIOError:
            holder = read_holder(path)
            handle.close()
            raise BookBusy(Path(book), holder) from None
        except OSError:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"program": program, "pid": os.getpid(), "since": time.time()}))
        handle.flush()
        return cls(path, handle)

    def release(self) -> None:
        """Drop the lock (idempotent). The file stays; its contents no longer matter once unlocked."""
        if self._file is not None:
            try:
                _unlock(self._file)
            finally:
                self._file.close()
                self._file = None

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._file is not None


def read_holder(path: Path) -> dict[str, Any]:
    """What a lock file says about its holder (empty when unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def holder_of(book: str | Path) -> dict[str, Any] | None:
    """Who holds the writer lock of ``book`` now, or None when nobody does (probes without keeping it)."""
    try:
        lock = WriterLock.acquire(book, "probe")
    except BookBusy as busy:
        return busy.holder or {"program": "another isodesk"}
    except OSError:
        return None
    lock.release()
    return None


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(handle: IO[str]) -> None:
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from None

    def _unlock(handle: IO[str]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
