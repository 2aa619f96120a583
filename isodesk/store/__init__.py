"""isodesk.store: SQLite through sqlite-utils — schema, migrations, the book, the ledger, prices,
alerts, settings and scenarios. No Qt. Money is ``Decimal`` here and TEXT on disk."""

from isodesk.store.errors import LedgerRefused, ReadOnlyError, StoreError, StoreIOError
from isodesk.store.ledger import EXTERNAL, free_ref, parse_ref, pnl_ref, position_ref
from isodesk.store.portfolio_io import (
    ImportProblems,
    PositionSpec,
    Problem,
    import_positions,
    read_positions,
    write_positions,
)
from isodesk.store.records import (
    ALERT_LEVELS,
    CONTRACTS,
    POSITION_STATUSES,
    SIDES,
    VENUES,
    Account,
    Alert,
    JournalEntry,
    LedgerEntry,
    PositionRecord,
)
from isodesk.store.store import Store

__all__ = [
    "ALERT_LEVELS",
    "CONTRACTS",
    "EXTERNAL",
    "POSITION_STATUSES",
    "SIDES",
    "VENUES",
    "Account",
    "Alert",
    "ImportProblems",
    "JournalEntry",
    "LedgerEntry",
    "LedgerRefused",
    "PositionRecord",
    "PositionSpec",
    "Problem",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "StoreIOError",
    "free_ref",
    "import_positions",
    "parse_ref",
    "pnl_ref",
    "position_ref",
    "read_positions",
    "write_positions",
]
