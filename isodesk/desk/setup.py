"""Opening the book a command works on: ``--db PATH`` or the default database, seeded as the rules say.

Only a file that did not exist is created, and only a created file is seeded: the default database
(no ``--db``) gets the demo book when it is created, and so does a new file named with ``--db`` and
``--demo``; otherwise a new named database starts empty, so a trader's own book never holds demo
positions. An existing file is never replaced or seeded: an empty (0-byte) or foreign file is
refused with a ``StoreError`` naming it (see :mod:`isodesk.store.db`), and a read-only one opens
for reading (``store.read_only``).
"""

from __future__ import annotations

import time
from pathlib import Path

from isodesk.desk.demo import seed_demo
from isodesk.margin.catalog import TierCatalog
from isodesk.paths import default_db_path
from isodesk.store import Store, tier_tables


def shipped_catalog() -> TierCatalog:
    """The tier catalog of the shipped ``resources/tiers`` (one per process: its files never change
    while isodesk runs). A desk puts its book's own tables in front of it
    (:func:`isodesk.store.tier_tables.catalog_for`)."""
    return tier_tables.shipped_catalog()


def open_book(db: str | Path | None, *, demo: bool = False, ts: float | None = None) -> Store:
    """Open the database, creating it when missing; a created default database (or a created one
    with ``demo``) is seeded with the demo book before any other process can see it."""
    path = Path(db) if db is not None else default_db_path()

    def seed(store: Store) -> None:
        seed_demo(store, shipped_catalog(), ts=time.time() if ts is None else ts)

    return Store.open(path, initialize=seed if (db is None or demo) else None)
