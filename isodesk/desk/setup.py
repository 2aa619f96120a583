"""Opening the book a command works on: ``--db PATH`` or the default database, seeded as the rules say.

The default database (no ``--db``) is seeded with the demo book when it is created; ``--demo``
seeds a new or empty database named with ``--db``; otherwise a named database starts empty, so a
trader's own book never holds demo positions.
"""

from __future__ import annotations

import time
from pathlib import Path

from isodesk.desk.demo import seed_demo
from isodesk.margin.catalog import TierCatalog
from isodesk.paths import default_db_path, resource_path
from isodesk.store import Store


def shipped_catalog() -> TierCatalog:
    """The tier catalog of the shipped ``resources/tiers``."""
    return TierCatalog(resource_path("tiers"))


def open_book(db: str | Path | None, *, demo: bool = False, ts: float | None = None) -> Store:
    """Open (creating when missing) the database, seeding the demo book where the rules say so."""
    path = Path(db) if db is not None else default_db_path()
    store = Store.open(path)
    empty = not store.accounts() and not store.positions(statuses=None)
    if empty and (db is None or demo):
        seed_demo(store, shipped_catalog(), ts=time.time() if ts is None else ts)
    return store
