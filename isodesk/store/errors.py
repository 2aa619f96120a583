"""The exception types the store raises for database-level problems.

Every one is a :class:`StoreError`, so a caller that only wants "the store said no" catches that;
the subclasses let the desk and the UI tell the cases apart without reading the message.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal


class StoreError(Exception):
    """The database cannot be used as asked: not SQLite, written by a newer isodesk, a missing row,
    or a state change the book forbids. The message names the file, row or value at fault."""


class ReadOnlyError(StoreError):
    """A write was asked of a book opened read-only (the file or its folder is not writable)."""


class StoreIOError(StoreError, sqlite3.OperationalError):
    """SQLite could not read or write the file: the disk is full, an I/O error, the file became
    read-only, another program held the lock past the busy timeout, or a damaged page. The
    transaction was rolled back, so the book is as it was. Also a ``sqlite3.OperationalError``, so
    code written against SQLite's own errors still catches it."""


class LedgerRefused(StoreError):
    """The ledger refused a movement or a status change that would break one of its rules.

    ``ref`` is the ledger ref at fault (``position:7``, ``free:2``), ``balance`` its balance when the
    movement was tried and ``amount`` what was asked (both exact, account currency)."""

    def __init__(self, message: str, *, ref: str, balance: Decimal, amount: Decimal):
        super().__init__(message)
        self.ref = ref
        self.balance = balance
        self.amount = amount
