"""The schema, as forward-only sqlite-utils migrations applied at open.

Each migration runs in its own transaction and is recorded in ``_sqlite_migrations`` under the set
name ``"isodesk"``. Never edit a released migration; append a new one. Tables are STRICT; money
columns are TEXT holding exact decimals (see :mod:`isodesk.store.money`).

``venue`` carries no CHECK constraint on purpose: adding a venue would otherwise mean rebuilding
``positions`` (referenced by the append-only ledger). The store checks venues in Python instead.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

MIGRATION_SET = "isodesk"

migrations = sqlite_utils.Migrations(MIGRATION_SET)
_KNOWN: list[str] = []


_Step = Callable[[sqlite_utils.Database], None]


def _migration(name: str) -> Callable[[_Step], _Step]:
    """Register a migration under ``name`` and remember the name as known to this version."""
    _KNOWN.append(name)
    return migrations(name=name)


_INITIAL = [
    """
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (name <> ''),
        venue TEXT NOT NULL,
        currency TEXT NOT NULL CHECK (currency <> ''),
        created_at REAL NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE positions (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL UNIQUE CHECK (label <> ''),
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        venue TEXT NOT NULL,
        symbol TEXT NOT NULL CHECK (symbol <> ''),
        contract TEXT NOT NULL CHECK (contract IN ('linear', 'inverse')),
        side TEXT NOT NULL CHECK (side IN ('long', 'short')),
        quantity TEXT NOT NULL,
        contract_size TEXT,
        entry_price TEXT NOT NULL,
        leverage TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'liquidated')),
        opened_at REAL NOT NULL,
        closed_at REAL,
        close_price TEXT,
        venue_position_id TEXT,
        CHECK ((contract = 'inverse') = (contract_size IS NOT NULL))
    ) STRICT
    """,
    "CREATE INDEX positions_account ON positions(account_id)",
    "CREATE INDEX positions_status ON positions(status)",
    """
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        kind TEXT NOT NULL CHECK (kind <> ''),
        amount TEXT NOT NULL CHECK (amount <> '' AND substr(amount, 1, 1) <> '-'),
        source TEXT NOT NULL,
        dest TEXT NOT NULL,
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        position_id INTEGER REFERENCES positions(id),
        request_id TEXT,
        memo TEXT NOT NULL DEFAULT '',
        reverses INTEGER REFERENCES ledger(id),
        CHECK (source <> dest)
    ) STRICT
    """,
    "CREATE INDEX ledger_account ON ledger(account_id)",
    "CREATE INDEX ledger_position ON ledger(position_id)",
    "CREATE INDEX ledger_request ON ledger(request_id)",
    """
    CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only: entries cannot be updated; post a reversing entry');
    END
    """,
    """
    CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only: entries cannot be deleted; post a reversing entry');
    END
    """,
    """
    CREATE TABLE prices (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        symbol TEXT NOT NULL,
        price REAL NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    ) STRICT
    """,
    "CREATE INDEX prices_symbol_ts ON prices(symbol, ts)",
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        position_id INTEGER REFERENCES positions(id),
        level TEXT NOT NULL CHECK (level IN ('safe', 'warning', 'danger', 'liquidated', 'stale')),
        kind TEXT NOT NULL,
        message TEXT NOT NULL,
        acknowledged INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1))
    ) STRICT
    """,
    "CREATE INDEX alerts_unacknowledged ON alerts(acknowledged, id)",
    """
    CREATE TABLE scenarios (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE CHECK (name <> ''),
        body TEXT NOT NULL CHECK (json_valid(body)),
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL CHECK (json_valid(value))
    ) STRICT
    """,
]


@_migration("0001_initial")
def _initial(db: sqlite_utils.Database) -> None:
    """Create every table, index and the ledger's append-only triggers."""
    for statement in _INITIAL:
        db.execute(statement)


def known_names() -> set[str]:
    """Names of the migrations this version of isodesk knows."""
    return set(_KNOWN)


def unknown_applied(db: sqlite_utils.Database) -> list[str]:
    """Migrations recorded in ``db`` that this version does not know (a newer isodesk wrote it). Read-only."""
    known = known_names()
    return [m.name for m in migrations.applied(db) if m.name not in known]


def applied_names(db: sqlite_utils.Database) -> list[str]:
    """Names of the isodesk migrations recorded in ``db``, in the order applied. Read-only."""
    return [m.name for m in migrations.applied(db)]


_JOURNAL = [
    """
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        position_id INTEGER NOT NULL REFERENCES positions(id),
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        ledger_id INTEGER REFERENCES ledger(id),
        kind TEXT NOT NULL CHECK (kind IN ('open', 'add', 'remove', 'close', 'liquidation', 'undo')),
        amount TEXT NOT NULL,
        before TEXT NOT NULL CHECK (json_valid(before)),
        after TEXT NOT NULL CHECK (json_valid(after)),
        reason TEXT NOT NULL DEFAULT '',
        undoes INTEGER REFERENCES journal(id)
    ) STRICT
    """,
    "CREATE INDEX journal_by_position ON journal (position_id, id)",
    "CREATE INDEX journal_by_account ON journal (account_id, id)",
    """
    CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END
    """,
    """
    CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END
    """,
]


@_migration("0002_journal")
def _journal(db: sqlite_utils.Database) -> None:
    """The collateral journal: every movement with the position's figures before and after it."""
    for statement in _JOURNAL:
        db.execute(statement)


_VENUE_SYNC = [
    """
    CREATE TABLE venue_reports (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        position_id INTEGER NOT NULL REFERENCES positions(id),
        venue TEXT NOT NULL,
        venue_liquidation_price TEXT,
        venue_margin TEXT,
        raw_changes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(raw_changes))
    ) STRICT
    """,
    "CREATE INDEX venue_reports_by_position ON venue_reports (position_id, id)",
    """
    CREATE TRIGGER venue_reports_no_update BEFORE UPDATE ON venue_reports
    BEGIN SELECT RAISE(ABORT, 'venue reports are append-only'); END
    """,
]


@_migration("0003_venue_sync")
def _venue_sync(db: sqlite_utils.Database) -> None:
    """What each import from a venue said about a position: its liquidation price, margin, what changed."""
    for statement in _VENUE_SYNC:
        db.execute(statement)


_COMMAND_QUEUE = [
    # Commands another process hands to the book's one writer (the running desk), and the desk's
    # answer to each; also the record of every book-changing command by request id, so a retry of a
    # command whose answer was lost is answered again instead of being executed twice.
    """
    CREATE TABLE commands (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        body TEXT NOT NULL CHECK (json_valid(body)),
        origin TEXT NOT NULL DEFAULT '',
        submitted_at REAL NOT NULL,
        expires_at REAL,
        state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'cancelled', 'expired')),
        accepted INTEGER CHECK (accepted IN (0, 1)),
        reply TEXT CHECK (reply IS NULL OR json_valid(reply)),
        answered_at REAL
    ) STRICT
    """,
    "CREATE INDEX commands_by_state ON commands (state, id)",
    # One counter every change of the book's contents moves (not prices): a reader that sees
    # PRAGMA data_version move compares it to decide whether the book itself changed.
    "CREATE TABLE book_clock (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT",
    "INSERT INTO book_clock (id, version) VALUES (1, 0)",
    *(f"""
    CREATE TRIGGER book_clock_{table}_{event} AFTER {event.upper()} ON {table}
    BEGIN UPDATE book_clock SET version = version + 1 WHERE id = 1; END
    """ for table, event in (("accounts", "insert"), ("positions", "insert"), ("positions", "update"),
                             ("ledger", "insert"), ("alerts", "insert"), ("alerts", "update"),
                             ("settings", "insert"), ("settings", "update"), ("venue_reports", "insert"))),
]


@_migration("0004_command_queue")
def _command_queue(db: sqlite_utils.Database) -> None:
    """The command queue and record (one writer per book across processes) and the book's change counter."""
    for statement in _COMMAND_QUEUE:
        db.execute(statement)


_BALANCES_AND_COMPACTION = [
    # Balance of one ref with an index: Store.balance reads only the entries of that ref, and only
    # those after its checkpoint (SQLite ends every index with the rowid, so ``source = ? AND id > ?``
    # is one range of ledger_source).
    "CREATE INDEX ledger_source ON ledger(source)",
    "CREATE INDEX ledger_dest ON ledger(dest)",
    # balance of ``ref`` over the entries with id <= ``through_id``: written by Store.transfer in the
    # transaction of the entry it ends at, so it can never disagree with the append-only ledger.
    """
    CREATE TABLE balance_checkpoints (
        ref TEXT PRIMARY KEY,
        through_id INTEGER NOT NULL REFERENCES ledger(id),
        balance TEXT NOT NULL
    ) STRICT
    """,
    # Checkpoints hold only if no entry is ever slipped in below a later one.
    """
    CREATE TRIGGER ledger_ids_only_grow AFTER INSERT ON ledger
    WHEN NEW.id < (SELECT max(id) FROM ledger)
    BEGIN
        SELECT RAISE(ABORT, 'the ledger is append-only: an entry cannot be inserted before a later one');
    END
    """,
    # How far Store.compact_prices has compacted (prices older than through_ts are one per minute).
    "CREATE TABLE prices_compaction (id INTEGER PRIMARY KEY CHECK (id = 1), through_ts REAL NOT NULL) STRICT",
]


@_migration("0005_balances_and_compaction")
def _balances_and_compaction(db: sqlite_utils.Database) -> None:
    """Indexes and checkpoints that keep a ref's balance cheap (the ledger checks it on every
    transfer), the ledger's growing ids, and the price compaction mark. An existing ledger gets a
    checkpoint of every ref at its last entry, so the first command after the upgrade does not sum
    the whole history (one pass here: about 1 s for 200,000 entries)."""
    from isodesk.store import ledger, money

    for statement in _BALANCES_AND_COMPACTION:
        db.execute(statement)
    rows = db.execute("SELECT id, source, dest, amount FROM ledger ORDER BY id").fetchall()
    if not rows:
        return
    try:
        balances = ledger.balances_of((source, dest, money.from_text(amount)) for _, source, dest, amount in rows)
    except (ValueError, ArithmeticError):  # an amount that is no number: leave it to `isodesk check`
        return
    db.conn.executemany(
        "INSERT INTO balance_checkpoints (ref, through_id, balance) VALUES (?, ?, ?)",
        [(ref, rows[-1][0], money.to_text(balance)) for ref, balance in balances.items() if ref != ledger.EXTERNAL],
    )


_TIER_TABLES = [
    # The venues' tier tables, one row per venue, contract kind and symbol, in the book so that a
    # book and the rules its numbers were computed with travel together (isodesk.store.tier_tables).
    # ``rows``: a JSON list of [floor, cap|null, rate, deduction|null, max_leverage|null], each an
    # exact decimal text; ``removed_at``: when a full refresh no longer listed the symbol (the row
    # is kept: positions may still hold it).
    """
    CREATE TABLE tier_tables (
        venue TEXT NOT NULL CHECK (venue <> ''),
        contract TEXT NOT NULL CHECK (contract IN ('linear', 'inverse')),
        symbol TEXT NOT NULL CHECK (symbol <> ''),
        basis TEXT NOT NULL CHECK (basis IN ('notional', 'contracts')),
        rows TEXT NOT NULL CHECK (json_valid(rows) AND json_type(rows) = 'array' AND json_array_length(rows) > 0),
        settlement TEXT NOT NULL CHECK (settlement <> ''),
        contract_value TEXT NOT NULL CHECK (contract_value <> ''),
        contract_size TEXT,
        strict_isolated INTEGER NOT NULL DEFAULT 0 CHECK (strict_isolated IN (0, 1)),
        source TEXT NOT NULL CHECK (source IN ('refresh', 'import', 'shipped')),
        fetched_at REAL NOT NULL,
        changed_at REAL NOT NULL,
        removed_at REAL,
        PRIMARY KEY (venue, contract, symbol),
        CHECK ((contract = 'inverse') = (contract_size IS NOT NULL))
    ) STRICT
    """,
    # A position's own maintenance rate (the ``mmr`` column of an imported file): one tier at that
    # rate for that position, whatever table its symbol has. Kept while the position exists.
    """
    CREATE TABLE position_rates (
        position_id INTEGER PRIMARY KEY REFERENCES positions(id),
        mmr TEXT NOT NULL CHECK (mmr <> ''),
        source TEXT NOT NULL CHECK (source <> ''),
        set_at REAL NOT NULL
    ) STRICT
    """,
    # One counter moved by every change of either table: a catalog built from them is still good
    # while the counter has not moved.
    "CREATE TABLE tier_clock (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL) STRICT",
    "INSERT INTO tier_clock (id, version) VALUES (1, 0)",
    *(f"""
    CREATE TRIGGER {clock}_{table}_{event} AFTER {event.upper()} ON {table}
    BEGIN UPDATE {clock} SET version = version + 1 WHERE id = 1; END
    """ for clock in ("tier_clock", "book_clock") for table in ("tier_tables", "position_rates")
      for event in ("insert", "update", "delete")),
]


@_migration("0006_tier_tables")
def _tier_tables(db: sqlite_utils.Database) -> None:
    """The venues' tier tables and positions' own rates in the book, and their change counter
    (the book's counter moves too, so a running desk reloads them)."""
    for statement in _TIER_TABLES:
        db.execute(statement)


_PRICES_VENUE = [
    # Prices are kept per series (venue, market): ``venue`` names the isodesk venue whose own mark
    # the row is. '' is a reference price of the market (every row written before this migration,
    # and every writer that names no venue: the default keeps ``INSERT (ts, symbol, price)`` working).
    "ALTER TABLE prices ADD COLUMN venue TEXT NOT NULL DEFAULT ''",
    # The latest price of each series (two seeks per series), a series' history and compaction per
    # series each read one range of this index; the old (symbol, ts) index is its prefix's twin.
    "CREATE INDEX prices_series_ts ON prices(symbol, venue, ts)",
    "DROP INDEX prices_symbol_ts",
]


@_migration("0007_prices_venue")
def _prices_venue(db: sqlite_utils.Database) -> None:
    """The venue of each price (existing rows become reference prices, venue ''), indexed per series."""
    for statement in _PRICES_VENUE:
        db.execute(statement)


_VENUE_REPORT_FLAGS = [
    # What a venue said about a position besides prices: whether it tops the isolated margin up by
    # itself before liquidating (Bybit ``autoAddMargin``, Binance ``isAutoAddMargin``) and its
    # auto-deleveraging rank (Bybit ``adlRankIndicator``, OKX ``adl``). NULL: the venue did not say.
    "ALTER TABLE venue_reports ADD COLUMN auto_add_margin INTEGER CHECK (auto_add_margin IN (0, 1))",
    "ALTER TABLE venue_reports ADD COLUMN adl_rank INTEGER CHECK (adl_rank BETWEEN 0 AND 5)",
]


@_migration("0008_venue_report_flags")
def _venue_report_flags(db: sqlite_utils.Database) -> None:
    """The venue's auto-add-margin flag and ADL rank in each venue report (NULL where not said)."""
    for statement in _VENUE_REPORT_FLAGS:
        db.execute(statement)


_ALERT_COUNTS = [
    # Flapping collapses in the book, not only on screen: a level change of a position between the
    # same two levels as its newest alert, while that alert is not acknowledged, counts on that alert
    # (``count`` + 1; ``ts``, ``level``, ``previous`` and ``message`` become the latest change's)
    # instead of adding a row. ``previous``: the level before a level change (NULL for other kinds
    # and for rows written before this migration); ``first_ts``: when a collapsed run began (NULL
    # while ``count`` is 1: ``ts`` is then the only time).
    "ALTER TABLE alerts ADD COLUMN count INTEGER NOT NULL DEFAULT 1 CHECK (count >= 1)",
    "ALTER TABLE alerts ADD COLUMN previous TEXT "
    "CHECK (previous IS NULL OR previous IN ('safe', 'warning', 'danger', 'liquidated', 'stale'))",
    "ALTER TABLE alerts ADD COLUMN first_ts REAL",
    # The newest alert of one position (the desk looks at it before every level alert) is one seek.
    "CREATE INDEX alerts_position ON alerts(position_id, id)",
]


@_migration("0009_alert_counts")
def _alert_counts(db: sqlite_utils.Database) -> None:
    """Alerts carry a count (flapping collapses into one row), the level before a change, and when
    a collapsed run began; indexed per position."""
    for statement in _ALERT_COUNTS:
        db.execute(statement)


_CLOSE_FIGURES = [
    # A close (whole or partial) keeps its own figures beside the journal's reason text: the PnL the
    # account realized (a loss capped at the margin released; exact decimal TEXT) and the quantity
    # closed (base units, or contracts for inverse). NULL for every other kind of entry and for
    # entries written before this migration.
    "ALTER TABLE journal ADD COLUMN realized_pnl TEXT",
    "ALTER TABLE journal ADD COLUMN closed_quantity TEXT",
]


@_migration("0010_close_figures")
def _close_figures(db: sqlite_utils.Database) -> None:
    """The realized PnL and the quantity of each close in the journal (NULL elsewhere)."""
    for statement in _CLOSE_FIGURES:
        db.execute(statement)


_FUNDING = [
    # One row per funding payment a position settled (isodesk.desk.funding): the funding time ``ts``
    # (Unix s, on the venue's grid), the rate per interval as quoted, the price the position's value
    # was taken at, the cash flow to the holder (``amount``, exact decimal TEXT, negative = paid) and
    # how it settled: ``to_margin`` into (−: out of) the isolated margin, ``to_free`` into (−: out of)
    # the free balance, each matching the ``funding`` ledger entries of the same settlement;
    # ``rule`` names the venue rule (isodesk.margin.funding.Settles). UNIQUE (position_id, ts): a
    # restart or a second process can never settle one payment twice.
    """
    CREATE TABLE funding (
        id INTEGER PRIMARY KEY,
        position_id INTEGER NOT NULL REFERENCES positions(id),
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        ts REAL NOT NULL,
        rate TEXT NOT NULL CHECK (rate <> ''),
        price TEXT NOT NULL CHECK (price <> ''),
        amount TEXT NOT NULL CHECK (amount <> ''),
        to_margin TEXT NOT NULL CHECK (to_margin <> ''),
        to_free TEXT NOT NULL CHECK (to_free <> ''),
        rule TEXT NOT NULL CHECK (rule <> ''),
        settled_at REAL NOT NULL,
        UNIQUE (position_id, ts)
    ) STRICT
    """,
    # The latest funding quote of each series (venue, market) a writing desk got from its feed, so that
    # a desk without a feed (``isodesk status``, a second window) shows the next payment too. Display
    # only: no desk settles from it (a rate is settled only by the desk that quoted it before its time).
    """
    CREATE TABLE funding_quotes (
        venue TEXT NOT NULL,
        market TEXT NOT NULL CHECK (market <> ''),
        rate TEXT NOT NULL CHECK (rate <> ''),
        next_ts REAL NOT NULL,
        interval_s REAL NOT NULL CHECK (interval_s > 0),
        ts REAL NOT NULL,
        PRIMARY KEY (venue, market)
    ) STRICT
    """,
    """
    CREATE TRIGGER funding_no_update BEFORE UPDATE ON funding
    BEGIN SELECT RAISE(ABORT, 'funding settlements are append-only'); END
    """,
    """
    CREATE TRIGGER funding_no_delete BEFORE DELETE ON funding
    BEGIN SELECT RAISE(ABORT, 'funding settlements are append-only'); END
    """,
]


@_migration("0011_funding")
def _funding(db: sqlite_utils.Database) -> None:
    """The funding settlements of each position, at most one per (position, funding time), and the
    latest funding quote of each series."""
    for statement in _FUNDING:
        db.execute(statement)


# The journal's kinds grow by ``increase`` (size added to an open position: isodesk.desk.increase).
# SQLite cannot change a CHECK in place, so the table is rebuilt as SQLite documents it ("Making Other
# Kinds Of Table Schema Changes", https://www.sqlite.org/lang_altertable.html#otheralter): the new
# table is made, the rows copied, the old table dropped and the new one renamed, then its indexes and
# append-only triggers made again, all in the migration's one transaction. ``undoes`` references the
# new table itself (rows are copied in id order, so an undo's target is there before it), so dropping
# the old table breaks no reference; the rename turns that self-reference into ``journal(id)``.
_JOURNAL_KINDS = ("'open', 'add', 'remove', 'close', 'liquidation', 'undo', 'increase'")
_JOURNAL_INCREASE = [
    f"""
    CREATE TABLE journal_rebuilt (
        id INTEGER PRIMARY KEY,
        ts REAL NOT NULL,
        position_id INTEGER NOT NULL REFERENCES positions(id),
        account_id INTEGER NOT NULL REFERENCES accounts(id),
        ledger_id INTEGER REFERENCES ledger(id),
        kind TEXT NOT NULL CHECK (kind IN ({_JOURNAL_KINDS})),
        amount TEXT NOT NULL,
        before TEXT NOT NULL CHECK (json_valid(before)),
        after TEXT NOT NULL CHECK (json_valid(after)),
        reason TEXT NOT NULL DEFAULT '',
        undoes INTEGER REFERENCES journal_rebuilt(id),
        realized_pnl TEXT,
        closed_quantity TEXT
    ) STRICT
    """,
    "INSERT INTO journal_rebuilt (id, ts, position_id, account_id, ledger_id, kind, amount, before, after, reason, "
    "undoes, realized_pnl, closed_quantity) SELECT id, ts, position_id, account_id, ledger_id, kind, amount, before, "
    "after, reason, undoes, realized_pnl, closed_quantity FROM journal ORDER BY id",
    "DROP TABLE journal",
    "ALTER TABLE journal_rebuilt RENAME TO journal",
    *_JOURNAL[1:],
]


@_migration("0012_journal_increase")
def _journal_increase(db: sqlite_utils.Database) -> None:
    """The journal accepts ``increase`` entries (size added to an open position); every entry kept."""
    columns = [c.name for c in db["journal"].columns]
    expected = ["id", "ts", "position_id", "account_id", "ledger_id", "kind", "amount", "before", "after", "reason",
                "undoes", "realized_pnl", "closed_quantity"]
    if columns != expected:  # a journal this migration does not know: refuse rather than drop a column
        raise RuntimeError(f"journal columns {columns} are not the expected {expected}")
    for statement in _JOURNAL_INCREASE:
        db.execute(statement)
