"""The one exception type the store raises for database-level problems."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used as asked: not SQLite, written by a newer isodesk, a missing row,
    or a state change the book forbids. The message names the file, row or value at fault."""
