"""The ``Store``: the book (accounts, positions), the ledger, prices, alerts, settings and scenarios
over one SQLite file.

One command = one transaction: every writing method runs in :meth:`Store.transaction`, which is
``BEGIN IMMEDIATE`` … ``COMMIT`` when called alone and a savepoint inside an outer transaction.
Taking the write lock up front means a command never loses a read→write upgrade race with another
process appending prices. Money crosses the boundary only through :mod:`isodesk.store.money`.

The ledger defends itself, below every check of the desk and in the transaction of the movement
(:class:`~isodesk.store.errors.LedgerRefused` otherwise):

- no movement leaves a position's margin (``position:<id>``) or a free balance (``free:<id>``)
  below zero;
- margin enters and leaves only an ``open`` position. Closing or liquidating a position is
  therefore: move **all** of its margin out (:meth:`Store.transfer`, to ``pnl:``/``free:``), then
  :meth:`Store.set_position_status`, which refuses while the position still holds margin; both in
  one transaction;
- a caller that decided on a balance it read earlier passes it as ``expected_source_balance``;
  the movement is refused if the ledger holds anything else by then (another command or process
  moved collateral in between), so two removals checked against the same balance never both pass.

Files (see :mod:`isodesk.store.db`): a missing file is created, an empty or foreign one refused, a
read-only one opened for reading (:attr:`Store.read_only`; every write raises
:class:`~isodesk.store.errors.ReadOnlyError`), and a full disk, an I/O error or a damaged page
raise one :class:`~isodesk.store.errors.StoreIOError` line after rolling the transaction back.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from isodesk.margin.bounds import MAX_PRICE, MIN_PRICE, price_in_bounds
from isodesk.store import ledger as refs
from isodesk.store.db import connect, io_error, is_io_error
from isodesk.store.errors import LedgerRefused, ReadOnlyError, StoreError
from isodesk.store.money import (
    from_text,
    optional_from_text,
    optional_to_text,
    require_positive,
    to_text,
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
    VenueReport,
    require_choice,
)

if TYPE_CHECKING:
    from isodesk.store.liquidations import Liquidation

PRICE_BATCH = 1000

#: A row for :meth:`Store.insert_prices`: ``(ts, symbol, price)`` (a reference price) or
#: ``(ts, symbol, price, venue)`` (venue None or ``""``: a reference price).
PriceRow = tuple[float, str, float] | tuple[float, str, float, str | None]

#: A recursive walk over the ``prices_series_ts`` index naming one row id of each series
#: ``(symbol, venue)`` in index order: two index seeks per series, never a scan of the table.
_SERIES_WALK = (
    "WITH RECURSIVE series(id) AS ("
    " SELECT (SELECT id FROM prices ORDER BY symbol, venue LIMIT 1)"
    " UNION ALL SELECT coalesce("
    "(SELECT q.id FROM prices q WHERE q.symbol = c.symbol AND q.venue > c.venue ORDER BY q.symbol, q.venue LIMIT 1),"
    "(SELECT q.id FROM prices q WHERE q.symbol > c.symbol ORDER BY q.symbol, q.venue LIMIT 1))"
    " FROM series JOIN prices c ON c.id = series.id)"
)

#: A ref's balance is checkpointed once this many entries follow its last checkpoint, so a balance
#: never sums more than this many entries (a transfer stays ~2 ms at any ledger size).
CHECKPOINT_EVERY = 64

#: The stored-price rule, the same as ``isodesk.feeds.guard.stored_price_problem`` (the store may not
#: import feeds; ``tests/store/test_prices.py`` holds the two to the same answers): a row is a usable
#: mark only if its price passes :func:`isodesk.margin.bounds.price_in_bounds`, its ts is finite and
#: at most :data:`MAX_PRICE_TS_S` (10^11 s, the year 5138: a larger stamp is milliseconds written as
#: seconds) and, when a ``now`` is given, at most :data:`PRICE_FUTURE_TOLERANCE_S` after it.
MAX_PRICE_TS_S = 1e11
PRICE_FUTURE_TOLERANCE_S = 10.0

#: Prices younger than this (s) are kept tick by tick; older ones one per symbol per minute (the
#: last of the minute), by :meth:`Store.compact_prices`. A day: at the simulated feed's 4 ticks/s on
#: the demo's 5 markets that is 1.7M rows (about 110 MB), after which a market costs 1,440 rows a day.
DEFAULT_PRICE_RETENTION_S = 24 * 3600.0
#: The settings key that overrides :data:`DEFAULT_PRICE_RETENTION_S` (seconds, a JSON number).
PRICE_RETENTION_KEY = "prices.retention_s"
PRICE_BUCKET_S = 60
#: About the most rows one :meth:`Store.compact_prices` call goes over (whole minutes, all symbols).
PRICE_COMPACT_ROWS = 20_000


def stored_price_usable(ts: float, price: float, now: float | None = None) -> bool:
    """True if a ``prices`` row may be used as a mark: the rule of :data:`MAX_PRICE_TS_S`."""
    if not (math.isfinite(ts) and ts <= MAX_PRICE_TS_S and price_in_bounds(price)):
        return False
    return now is None or not math.isfinite(now) or ts <= now + PRICE_FUTURE_TOLERANCE_S


def _json_default(value: object) -> object:
    """JSON encoding of the values ``json`` does not know: a Decimal becomes its exact string."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} {value!r} as JSON")


def _to_json(value: object) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True, allow_nan=False)


def _alert(row: dict[str, Any]) -> Alert:
    return Alert(**{**row, "acknowledged": bool(row["acknowledged"])})


def _last_id(table: sqlite_utils.db.Table) -> int:
    """The id of the row ``table`` just inserted."""
    pk = table.last_pk
    if pk is None:  # pragma: no cover - sqlite-utils sets it after every insert
        raise StoreError(f"no id for the row just inserted into {table.name}")
    return int(pk)


@dataclass(frozen=True, slots=True)
class _Tally:
    """One ref's balance, how many entries it summed after its checkpoint, and the newest id it saw."""

    balance: Decimal
    count: int
    through_id: int


_ALERT_LEVEL_SET = frozenset(ALERT_LEVELS)


def _alert_levels_known(added: Sequence[tuple[int, float, int | None, str, str, str, str | None]],
                        repeated: Sequence[tuple[float, str, str | None, str, int]]) -> bool:
    """True when every level of ``added`` and ``repeated`` (rows of :meth:`Store.write_alerts`) is
    one of ``ALERT_LEVELS`` and every previous level one of them or None: the distinct values
    checked once each, not row by row."""
    try:
        levels = {row[3] for row in added} | {row[1] for row in repeated}
        previous = {row[6] for row in added} | {row[2] for row in repeated}
    except TypeError:  # an unhashable value: not a level
        return False
    return levels <= _ALERT_LEVEL_SET and previous <= _ALERT_LEVEL_SET | {None}


class Store:
    """The isodesk database. Open with :meth:`Store.open`; use from the thread that opened it.

    ``read_only``: the book can only be read (``read_only_reason`` says why: the file or its folder
    is not writable, or it was opened so); every write raises
    :class:`~isodesk.store.errors.ReadOnlyError`. ``created``: this open made the file.
    """

    def __init__(self, db: sqlite_utils.Database, path: str | Path, *, read_only: bool = False,
                 read_only_reason: str = "", created: bool = False):
        self.db = db
        self.path = Path(path)
        self.read_only = read_only
        self.read_only_reason = read_only_reason
        self.created = created
        self._savepoints = 0

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True, read_only: bool = False,
             initialize: Callable[[Store], None] | None = None) -> Store:
        """Open the book at ``path``; ``StoreError`` naming the file if it is refused.

        A missing file is created (unless ``create`` is False) and filled by ``initialize`` before
        any other process can see it; an existing file is never replaced or filled. ``read_only``
        opens a writable book for reading only. See :mod:`isodesk.store.db` for the files refused.
        """

        def fill(db: sqlite_utils.Database, temp: Path) -> None:
            if initialize is not None:
                initialize(cls(db, temp, created=True))

        opened = connect(path, create=create, read_only=read_only, initialize=fill)
        return cls(opened.db, path, read_only=opened.read_only, read_only_reason=opened.read_only_reason,
                   created=opened.created)

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back by SQLite)."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One command = one transaction: ``BEGIN IMMEDIATE`` … ``COMMIT``, ``ROLLBACK`` and re-raise on
        any exception. Inside an open transaction it becomes a savepoint of that transaction.

        A read-only book raises :class:`ReadOnlyError`; an error of the file (full disk, I/O error,
        lock held too long, damaged page) rolls back and raises one ``StoreIOError`` line.
        """
        if self.read_only:
            raise ReadOnlyError(f"{self.path} is read-only ({self.read_only_reason}); nothing can be written to it")
        conn = self.db.conn
        if conn.in_transaction:
            self._savepoints += 1
            name = f"isodesk_{self._savepoints}"
            try:
                self._write(f"SAVEPOINT {name}")
                try:
                    yield self
                except BaseException as exc:
                    if conn.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            conn.execute(f"ROLLBACK TO {name}")
                            conn.execute(f"RELEASE {name}")
                    self._raise_converted(exc, "write")
                    raise
                self._write(f"RELEASE {name}")
            finally:
                self._savepoints -= 1
            return
        self._write("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException as exc:
            self._rollback()
            self._raise_converted(exc, "write")
            raise
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback()
            self._raise_converted(exc, "write")
            raise

    def _write(self, sql: str) -> None:
        try:
            self.db.conn.execute(sql)
        except sqlite3.Error as exc:
            self._raise_converted(exc, "write")
            raise

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.db.conn.in_transaction:
                self.db.conn.execute("ROLLBACK")

    def _raise_converted(self, exc: BaseException, doing: str) -> None:
        """Raise ``exc`` as the one-line error of the file when it is one (full disk, I/O, ...);
        return (the caller re-raises ``exc`` itself) when it is not."""
        if isinstance(exc, sqlite3.Error) and is_io_error(exc):
            raise io_error(exc, str(self.path), doing) from exc

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A consistent snapshot for reads made of several queries (a deferred read transaction)."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        self._execute("BEGIN")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("COMMIT")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement; an error of the file becomes one ``StoreIOError`` line."""
        try:
            return self.db.conn.execute(sql, params)
        except sqlite3.Error as exc:
            self._raise_converted(exc, "write" if self.db.conn.in_transaction else "read")
            raise

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Every row of one query (tuples); errors of the file as in :meth:`_execute`."""
        try:
            return self.db.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            self._raise_converted(exc, "write" if self.db.conn.in_transaction else "read")
            raise

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of one query, or None."""
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert one row (column names are the code's own) with plain SQL; its id. sqlite-utils'
        ``insert`` reads the table's columns and keys each time (~0.5 ms a row): too slow for the
        thousands of liquidations a replay writes."""
        names = list(row)
        cursor = self._execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               [row[n] for n in names])
        if cursor.lastrowid is None:  # pragma: no cover - sqlite3 sets it after every insert
            raise StoreError(f"no id for the row just inserted into {table}")
        return int(cursor.lastrowid)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description]
        try:
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except sqlite3.Error as exc:
            self._raise_converted(exc, "read")
            raise

    # -- accounts ---------------------------------------------------------------------------------

    def create_account(self, name: str, venue: str, currency: str, *, ts: float) -> Account:
        """Create the account ``name`` on ``venue`` counting collateral in ``currency``; ``ts`` in Unix s."""
        require_choice(venue, VENUES, "venue")
        if not name or not currency:
            raise ValueError(f"account name and currency must not be empty; got {name!r}, {currency!r}")
        with self.transaction():
            if self.account(name) is not None:
                raise StoreError(f"account {name!r} already exists")
            table = self.db.table("accounts")
            table.insert({"name": name, "venue": venue, "currency": currency, "created_at": float(ts)})
            account_id = _last_id(table)
        return Account(account_id, name, venue, currency, float(ts))

    def account(self, name: str) -> Account | None:
        """The account called ``name``, or None."""
        rows = self._rows("SELECT * FROM accounts WHERE name = ?", [name])
        return Account(**rows[0]) if rows else None

    def account_by_id(self, account_id: int) -> Account | None:
        """The account with this id, or None."""
        rows = self._rows("SELECT * FROM accounts WHERE id = ?", [account_id])
        return Account(**rows[0]) if rows else None

    def accounts(self) -> list[Account]:
        """Every account, by id."""
        return [Account(**row) for row in self._rows("SELECT * FROM accounts ORDER BY id")]

    # -- positions --------------------------------------------------------------------------------

    def insert_position(
        self,
        *,
        label: str,
        account_id: int,
        venue: str,
        symbol: str,
        contract: str,
        side: str,
        quantity: Decimal,
        contract_size: Decimal | None,
        entry_price: Decimal,
        leverage: Decimal,
        ts: float,
        venue_position_id: str | None = None,
    ) -> int:
        """Record an open position and return its id. It holds no margin until the caller funds it with
        :meth:`transfer` to ``position_ref(id)``. ``quantity``: linear, base units; inverse, contracts
        (``contract_size`` USD each, required for inverse and refused for linear)."""
        require_choice(venue, VENUES, "venue")
        require_choice(contract, CONTRACTS, "contract")
        require_choice(side, SIDES, "side")
        if not label or not symbol:
            raise ValueError(f"label and symbol must not be empty; got {label!r}, {symbol!r}")
        for field, value in (("quantity", quantity), ("entry_price", entry_price), ("leverage", leverage)):
            require_positive(value, field)
        if contract == "inverse":
            require_positive(contract_size, "contract_size")
        elif contract_size is not None:
            raise ValueError(f"contract_size applies to inverse contracts only; got {contract_size} for linear")
        with self.transaction():
            account = self.account_by_id(account_id)
            if account is None:
                raise StoreError(f"no account with id {account_id}")
            if account.venue != venue:
                raise StoreError(f"position {label!r} is on {venue} but account {account.name!r} is on {account.venue}")
            if self.position_by_label(label) is not None:
                raise StoreError(f"a position labelled {label!r} already exists")
            table = self.db.table("positions")
            table.insert(
                {
                    "label": label,
                    "account_id": int(account_id),
                    "venue": venue,
                    "symbol": symbol,
                    "contract": contract,
                    "side": side,
                    "quantity": to_text(quantity),
                    "contract_size": optional_to_text(contract_size),
                    "entry_price": to_text(entry_price),
                    "leverage": to_text(leverage),
                    "status": "open",
                    "opened_at": float(ts),
                    "venue_position_id": venue_position_id,
                }
            )
            return _last_id(table)

    def positions(self, statuses: Iterable[str] | None = ("open",)) -> list[PositionRecord]:
        """Positions whose status is in ``statuses`` (None: all), by id, each with its isolated margin
        (the ledger balance of its ref, account currency)."""
        sql = f"SELECT {_POSITION_SELECT} FROM positions"
        params: list[Any] = []
        if statuses is not None:
            wanted = [require_choice(s, POSITION_STATUSES, "status") for s in statuses]
            sql += f" WHERE status IN ({', '.join(['?'] * len(wanted))})"
            params = wanted
        with self._reading():
            # plain tuples in a known column order, not a dict per row (a desk reads thousands at start)
            rows = self._all(sql + " ORDER BY id", params)
            margins = self._position_balances()
        zero = Decimal(0)
        return [_position_of(row, margins.get(refs.position_ref(row[0]), zero)) for row in rows]

    def position(self, position_id: int) -> PositionRecord | None:
        """The position with this id (any status), or None."""
        with self._reading():
            rows = self._rows("SELECT * FROM positions WHERE id = ?", [position_id])
            return _position(rows[0], self.balance(refs.position_ref(position_id))) if rows else None

    def position_by_label(self, label: str) -> PositionRecord | None:
        """The position labelled ``label`` (any status), or None."""
        with self._reading():
            rows = self._rows("SELECT * FROM positions WHERE label = ?", [label])
            return _position(rows[0], self.balance(refs.position_ref(rows[0]["id"]))) if rows else None

    def recently_closed(self, limit: int) -> list[tuple[PositionRecord, Decimal]]:
        """The ``limit`` most recently closed positions (by close time, then id), oldest id first, each
        with the margin it held when it was closed (the amount of its last ``close`` journal entry;
        0 when the journal has none). Their ledger balance is 0, as for every closed position."""
        with self._reading():
            rows = self._rows("SELECT * FROM positions WHERE status = 'closed' "
                              "ORDER BY closed_at DESC, id DESC LIMIT ?", [int(limit)])
            if not rows:
                return []
            ids = json.dumps([row["id"] for row in rows])
            held = {int(pid): from_text(amount) for pid, amount in self._all(
                "SELECT position_id, amount FROM journal WHERE id IN (SELECT max(id) FROM journal WHERE kind = "
                "'close' AND position_id IN (SELECT value FROM json_each(?)) GROUP BY position_id)", [ids])}
        rows.sort(key=lambda row: row["id"])
        return [(_position(row, Decimal(0)), held.get(row["id"], Decimal(0))) for row in rows]

    def set_position_status(
        self, position_id: int, status: str, *, ts: float, close_price: Decimal | None = None
    ) -> None:
        """Close or liquidate an open position at ``ts`` (Unix s), at ``close_price`` (quote per coin).

        Only ``open`` → ``closed``/``liquidated`` is allowed; anything else raises ``StoreError``.
        The position must hold no margin any more: move all of it out first (:meth:`transfer` to
        ``pnl:``/``free:``), then call this, in the same transaction; while margin remains this
        raises :class:`LedgerRefused` (a liquidation computed on a stale balance leaves none behind).
        """
        require_choice(status, ("closed", "liquidated"), "status")
        if close_price is not None:
            require_positive(close_price, "close_price")
        with self.transaction():
            rows = self._rows("SELECT status, label FROM positions WHERE id = ?", [position_id])
            if not rows:
                raise StoreError(f"no position with id {position_id}")
            if rows[0]["status"] != "open":
                raise StoreError(f"position {rows[0]['label']!r} is already {rows[0]['status']}")
            ref = refs.position_ref(position_id)
            held = self._tally(ref).balance
            if held != 0:
                raise LedgerRefused(
                    f"refused: {ref} ({rows[0]['label']}) still holds {held} of margin; move all of it out "
                    f"(to pnl: or free:) before marking it {status}",
                    ref=ref, balance=held, amount=Decimal(0),
                )
            self._execute("UPDATE positions SET status = ?, closed_at = ?, close_price = ? WHERE id = ?",
                          [status, float(ts), optional_to_text(close_price), position_id])

    def positions_by_id(self, position_ids: Iterable[int]) -> dict[int, PositionRecord]:
        """The positions of ``position_ids`` that exist (any status) by id, each as :meth:`position`
        gives it (isolated margin: its ledger balance, account currency), read in one pass."""
        ids = json.dumps(sorted({int(p) for p in position_ids}))
        with self._reading():
            rows = self._rows("SELECT * FROM positions WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                              [ids])
            margins = self.position_margins(row["id"] for row in rows)
        return {row["id"]: _position(row, margins[row["id"]]) for row in rows}

    def position_ledgers(self, position_ids: Iterable[int]) -> list[LedgerEntry]:
        """The ledger entries of the positions ``position_ids``, in the order written: what
        :meth:`ledger` with ``position_id`` gives for each, in one query."""
        ids = json.dumps(sorted({int(p) for p in position_ids}))
        rows = self._rows("SELECT * FROM ledger WHERE position_id IN (SELECT value FROM json_each(?)) ORDER BY id",
                          [ids])
        return [LedgerEntry(**{**row, "amount": from_text(row["amount"])}) for row in rows]

    def position_margins(self, position_ids: Iterable[int]) -> dict[int, Decimal]:
        """Each position's isolated margin (ledger balance, account currency) in one pass: what
        :meth:`balance` of each one's ``position_ref`` gives (:func:`isodesk.store.liquidations.position_margins`)."""
        from isodesk.store.liquidations import position_margins

        return position_margins(self, position_ids)

    def liquidate_positions(self, items: Sequence[Liquidation], *, ts: float) -> list[int | None]:
        """Liquidate whole every position of ``items`` at ``ts`` (Unix s) in one transaction, writing
        exactly what :meth:`transfer`, :meth:`add_journal` and :meth:`set_position_status` write for
        each in turn; each one's ledger entry id (None where it held no margin). All or nothing; see
        :func:`isodesk.store.liquidations.write_liquidations`."""
        from isodesk.store.liquidations import write_liquidations

        return write_liquidations(self, items, ts=ts)

    # -- ledger -----------------------------------------------------------------------------------

    def transfer(
        self,
        amount: Decimal,
        source: str,
        dest: str,
        *,
        kind: str,
        ts: float,
        account_id: int,
        position_id: int | None = None,
        memo: str = "",
        request_id: str | None = None,
        reverses: int | None = None,
        expected_source_balance: Decimal | None = None,
    ) -> int:
        """Move ``amount`` (> 0, account currency) from ref ``source`` to ref ``dest``; return the entry id.

        ``free:``/``pnl:`` refs must name ``account_id``; a ``position:`` ref must name a position of
        that account (``position_id`` is taken from it when not given). ``reverses`` names an entry
        this one undoes: same amount, source and dest swapped.

        The ledger's own rules (module docstring), checked in this transaction, each refusal a
        :class:`LedgerRefused` naming the ref, its balance and the amount: margin enters and leaves
        only an open position; ``free:`` and ``position:`` never go below 0; with
        ``expected_source_balance`` (the balance of ``source`` the caller's decision was based on),
        the source must still hold exactly that.

        Example: two removals of 19,999.99 from a position holding 40,000, each checked against the
        40,000 it read: the first passes, the second (``expected_source_balance=Decimal(40000)``)
        is refused because the position now holds 20,000.01.
        """
        require_positive(amount, "amount")
        if not kind:
            raise ValueError("kind must not be empty")
        if source == dest:
            raise ValueError(f"source and dest are the same ref {source!r}")
        if expected_source_balance is not None and not isinstance(expected_source_balance, Decimal):
            raise ValueError(f"expected_source_balance must be a decimal.Decimal, got {expected_source_balance!r}")
        with self.transaction():
            position_id, labels = self._check_refs(source, dest, amount, account_id, position_id)
            if reverses is not None:
                self._check_reversal(reverses, amount, source, dest)
            self._check_source(source, amount, labels.get(source, ""), expected_source_balance)
            entry_id = self._insert(
                "ledger",
                {
                    "ts": float(ts),
                    "kind": kind,
                    "amount": to_text(amount),
                    "source": source,
                    "dest": dest,
                    "account_id": int(account_id),
                    "position_id": position_id,
                    "request_id": request_id,
                    "memo": memo,
                    "reverses": reverses,
                },
            )
            for ref in (source, dest):
                if ref != refs.EXTERNAL:
                    self._checkpoint_if_due(ref)
            return entry_id

    def _check_refs(self, source: str, dest: str, amount: Decimal, account_id: int,
                    position_id: int | None) -> tuple[int | None, dict[str, str]]:
        """Validate both refs against the account and position; return the position id to record and
        the label of each position ref. Margin moves in and out of open positions only."""
        if self.account_by_id(account_id) is None:
            raise StoreError(f"no account with id {account_id}")
        labels: dict[str, str] = {}
        for role, ref in (("source", source), ("dest", dest)):
            kind, number = refs.parse_ref(ref)
            if kind in ("free", "pnl") and number != account_id:
                raise ValueError(f"{role} {ref!r} belongs to another account than {account_id}")
            if kind != "position":
                continue
            if position_id is None:
                position_id = number
            elif position_id != number:
                raise ValueError(f"{role} {ref!r} does not match position_id {position_id}")
            rows = self._rows("SELECT account_id, status, label FROM positions WHERE id = ?", [number])
            if not rows:
                raise StoreError(f"{role} {ref!r}: no such position")
            row = rows[0]
            if row["account_id"] != account_id:
                raise ValueError(f"{role} {ref!r} belongs to another account than {account_id}")
            labels[ref] = row["label"]
            if row["status"] == "open":
                continue
            held = self._tally(ref).balance
            if role == "dest":
                raise LedgerRefused(
                    f"refused: {ref} ({row['label']}) is {row['status']}; it takes no more margin "
                    f"(moving {amount} into it; it holds {held})",
                    ref=ref, balance=held, amount=amount,
                )
            raise LedgerRefused(
                f"refused: {ref} ({row['label']}) is {row['status']}; margin cannot leave a position that "
                f"is not open (moving {amount} out of it; it holds {held}). Move the margin out before "
                "closing or liquidating it",
                ref=ref, balance=held, amount=amount,
            )
        return position_id, labels

    def _check_source(self, source: str, amount: Decimal, label: str, expected: Decimal | None) -> None:
        """The balance rules of the source: what the caller expected it to hold, and never below 0."""
        kind, _ = refs.parse_ref(source)
        guarded = kind in ("free", "position")
        if not guarded and expected is None:
            return
        held = self._tally(source).balance
        named = f"{source} ({label})" if label else source
        if expected is not None and held != expected:
            raise LedgerRefused(
                f"refused: {named} holds {held}, not the {expected} this movement of {amount} was decided on; "
                "the book changed since it was read (another command or program moved collateral): "
                "read it again and retry",
                ref=source, balance=held, amount=amount,
            )
        if guarded and held < amount:
            what = "a position's margin" if kind == "position" else "a free balance"
            raise LedgerRefused(
                f"refused: {named} holds {held}; moving {amount} out of it would leave "
                f"{refs.difference(held, amount)}, and {what} never goes below 0",
                ref=source, balance=held, amount=amount,
            )

    def _tally(self, ref: str) -> _Tally:
        """The balance of ``ref``: its checkpoint plus the entries after it, read through the
        ``ledger_source``/``ledger_dest`` indexes (at most :data:`CHECKPOINT_EVERY` of them, as long
        as transfers keep the checkpoints)."""
        row = self._one("SELECT through_id, balance FROM balance_checkpoints WHERE ref = ?", [ref])
        through, base = (int(row[0]), from_text(row[1])) if row else (0, Decimal(0))
        ins = self._all("SELECT id, amount FROM ledger WHERE dest = ? AND id > ?", [ref, through])
        outs = self._all("SELECT id, amount FROM ledger WHERE source = ? AND id > ?", [ref, through])
        balance = refs.balance_from(base, (from_text(a) for _, a in ins), (from_text(a) for _, a in outs))
        newest = max([through, *(i for i, _ in ins), *(i for i, _ in outs)])
        return _Tally(balance, len(ins) + len(outs), newest)

    def _checkpoint_if_due(self, ref: str) -> None:
        """Write ``ref``'s checkpoint when :data:`CHECKPOINT_EVERY` entries followed the last one."""
        tally = self._tally(ref)
        if tally.count >= CHECKPOINT_EVERY:
            self._execute(
                "INSERT INTO balance_checkpoints (ref, through_id, balance) VALUES (?, ?, ?) "
                "ON CONFLICT(ref) DO UPDATE SET through_id = excluded.through_id, balance = excluded.balance",
                [ref, tally.through_id, to_text(tally.balance)],
            )

    def _check_reversal(self, reverses: int, amount: Decimal, source: str, dest: str) -> None:
        rows = self._rows("SELECT amount, source, dest FROM ledger WHERE id = ?", [reverses])
        if not rows:
            raise StoreError(f"reverses: no ledger entry {reverses}")
        original = rows[0]
        if (from_text(original["amount"]), original["source"], original["dest"]) != (amount, dest, source):
            raise ValueError(
                f"reverses: entry {reverses} moved {original['amount']} "
                f"{original['source']}→{original['dest']}; a reversal must move the same amount back"
            )
        if self._rows("SELECT id FROM ledger WHERE reverses = ?", [reverses]):
            raise StoreError(f"reverses: entry {reverses} is already reversed")

    def balance(self, ref: str) -> Decimal:
        """Balance of one ref (account currency): amounts entering it minus amounts leaving it."""
        refs.parse_ref(ref)
        return self._tally(ref).balance

    def balances(self) -> dict[str, Decimal]:
        """Balance of every ref the ledger has touched (account currency); they sum to exactly 0."""
        rows = self._all("SELECT source, dest, amount FROM ledger")
        return refs.balances_of((s, d, from_text(a)) for s, d, a in rows)

    def _position_balances(self) -> dict[str, Decimal]:
        rows = self._all(
            "SELECT source, dest, amount FROM ledger WHERE source LIKE 'position:%' OR dest LIKE 'position:%'"
        )
        return refs.balances_of((s, d, from_text(a)) for s, d, a in rows)

    def ledger(
        self, *, account_id: int | None = None, position_id: int | None = None, request_id: str | None = None
    ) -> list[LedgerEntry]:
        """Ledger entries in the order written, optionally only those of one account, position or request."""
        clauses, params = [], []
        for column, value in (
            ("account_id", account_id),
            ("position_id", position_id),
            ("request_id", request_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return [
            LedgerEntry(**{**row, "amount": from_text(row["amount"])})
            for row in self._rows(f"SELECT * FROM ledger{where} ORDER BY id", params)
        ]

    def free_balance(self, account_id: int) -> Decimal:
        """The account's free balance (account currency): collateral not allocated to any position."""
        return self.balance(refs.free_ref(account_id))

    def realized_loss(self, account_id: int) -> Decimal:
        """The account's net realized loss (account currency; negative = net profit): its pnl balance."""
        return self.balance(refs.pnl_ref(account_id))

    # -- prices -----------------------------------------------------------------------------------

    def insert_prices(self, rows: Iterable[PriceRow], source: str = "") -> int:
        """Append ``(ts, symbol, price)`` or ``(ts, symbol, price, venue)`` rows (Unix s, quote per coin;
        ``venue`` the isodesk venue whose own mark it is, None or ``""`` for a reference price), one
        transaction; return the count."""
        records = []
        for row in rows:
            venue = row[3] if len(row) > 3 else None
            if venue is not None and not isinstance(venue, str):
                raise ValueError(f"venue: {venue!r} is not a venue name")
            records.append({"ts": float(row[0]), "symbol": str(row[1]), "price": float(row[2]), "source": source,
                            "venue": venue or ""})
        if records:
            with self.transaction():
                self.db.table("prices").insert_all(records, batch_size=PRICE_BATCH)
        return len(records)

    def latest_series_prices(self, now: float | None = None) -> dict[tuple[str, str], tuple[float, float]]:
        """``(venue, symbol)`` → ``(ts, price)`` of each price series' most recent usable row (greatest
        ts; the later row on a tie); venue ``""`` is the reference series of the market.

        Rows that break the stored-price rule (:func:`stored_price_usable`: a price outside
        :func:`~isodesk.margin.bounds.price_in_bounds`, a millisecond timestamp, and, with ``now``
        in Unix s, a ts more than 10 s after ``now``) are skipped: the series' latest good row
        counts. Pass ``now`` where the clock is wall time (the desk, ``isodesk status``); a replay
        passes None. Cost: three index seeks per series, whatever the size of the table (1 ms for
        48 series at 2M rows).
        """
        return {(venue, symbol): (ts, price) for symbol, venue, ts, price, _ in self._latest_rows(now)}

    def latest_prices(self, now: float | None = None) -> dict[str, tuple[float, float]]:
        """symbol → ``(ts, price)`` of its most recent usable row of any series (a venue's own or the
        reference: the latest price of the market, whatever its venue); the rule and the cost of
        :meth:`latest_series_prices`. A mark of a position comes from its own series instead (the
        desk's rule); this is the market's last word, e.g. a start price."""
        out: dict[str, tuple[float, float, int]] = {}
        for symbol, _venue, ts, price, row_id in self._latest_rows(now):
            seen = out.get(symbol)
            if seen is None or (ts, row_id) > (seen[0], seen[2]):
                out[symbol] = (ts, price, row_id)
        return {symbol: (ts, price) for symbol, (ts, price, _) in out.items()}

    def _latest_rows(self, now: float | None) -> list[tuple[str, str, float, float, int]]:
        """``(symbol, venue, ts, price, id)`` of each series' latest usable row (see :meth:`latest_series_prices`)."""
        newest = MAX_PRICE_TS_S
        if now is not None and math.isfinite(now):
            newest = min(newest, float(now) + PRICE_FUTURE_TOLERANCE_S)
        rows = self._all(
            f"{_SERIES_WALK} "
            "SELECT c.symbol, c.venue, p.ts, p.price, p.id FROM series JOIN prices c ON c.id = series.id"
            " JOIN prices p ON p.id = ("
            " SELECT q.id FROM prices q WHERE q.symbol = c.symbol AND q.venue = c.venue AND q.ts <= ? AND q.ts > ?"
            " AND q.price >= ? AND q.price <= ? ORDER BY q.ts DESC, q.id DESC LIMIT 1)",
            [newest, -math.inf, float(MIN_PRICE), float(MAX_PRICE)],
        )
        return [(symbol, venue, ts, price, row_id) for symbol, venue, ts, price, row_id in rows
                if stored_price_usable(ts, price, now)]

    def price_series(self) -> list[tuple[str, str]]:
        """Every ``(venue, symbol)`` series with a row in the table, by symbol then venue (index seeks only)."""
        return [(venue, symbol) for symbol, venue in self._all(
            f"{_SERIES_WALK} SELECT c.symbol, c.venue FROM series JOIN prices c ON c.id = series.id")]

    def compact_prices(self, now: float, retention_s: float | None = None) -> int:
        """Keep every price newer than ``retention_s`` before ``now`` (Unix s); of the older ones keep
        one row per series (venue and symbol) per minute (UTC minutes of the Unix epoch), the last of
        the minute (greatest ts, then id). Returns the rows removed by this call. One transaction.

        ``retention_s`` None reads the setting :data:`PRICE_RETENTION_KEY`, else
        :data:`DEFAULT_PRICE_RETENTION_S` (one day). The cut falls on a whole minute at or before
        ``now - retention_s``. Incremental: a call starts where the previous one stopped (recorded
        in ``prices_compaction``; empty stretches are skipped) and goes over at most about
        :data:`PRICE_COMPACT_ROWS` rows (whole minutes), so it never holds the write lock for long:
        deleting costs ~10 µs a row, so a call is ~0.2 s at most, while a 2M-row backlog in one go
        took 15 s, past the 5 s a price writer waits. The desk calls ``store.compact_prices(now)``
        every minute: each call then handles the minute that just aged out, and a backlog is
        caught up 20,000 rows per call. A row written later with a ts before an earlier cut is
        left as it is. Row ids are kept, so a reader polling :meth:`prices_after` is not disturbed.
        """
        if retention_s is None:
            retention_s = float(self.get_setting(PRICE_RETENTION_KEY, DEFAULT_PRICE_RETENTION_S))
        if not (math.isfinite(now) and math.isfinite(retention_s) and retention_s >= 0):
            raise ValueError(f"now {now!r} and retention_s {retention_s!r} must be finite, retention_s >= 0")
        cut = math.floor((now - retention_s) / PRICE_BUCKET_S) * PRICE_BUCKET_S
        removed = 0
        with self.transaction():
            row = self._one("SELECT through_ts FROM prices_compaction WHERE id = 1")
            mark = -math.inf if row is None else float(row[0])
            if cut <= mark:
                return 0
            series = self.price_series()
            firsts = [r[0] for venue, symbol in series for r in self._all(
                "SELECT min(ts) FROM prices WHERE symbol = ? AND venue = ? AND ts >= ? AND ts > ?",
                [symbol, venue, mark, -math.inf]) if r[0] is not None and r[0] < cut]
            start = end = float(cut)  # nothing older than the cut left to compact: the mark moves to it
            if firsts:
                start = max(mark, math.floor(min(firsts) / PRICE_BUCKET_S) * PRICE_BUCKET_S)
                per_series = max(1, PRICE_COMPACT_ROWS // len(series))
                for venue, symbol in series:  # stop at the minute of each series' per_series-th row
                    far = self._one("SELECT ts FROM prices WHERE symbol = ? AND venue = ? AND ts >= ? AND ts < ? "
                                    "ORDER BY ts LIMIT 1 OFFSET ?", [symbol, venue, start, float(cut), per_series])
                    if far is not None:
                        end = min(end, math.floor(far[0] / PRICE_BUCKET_S) * PRICE_BUCKET_S)
                end = max(end, start + PRICE_BUCKET_S)  # one crowded minute is taken whole
            minute = (f"(CAST(ts / {PRICE_BUCKET_S} AS INTEGER) - "
                      f"(ts < 0 AND CAST(ts / {PRICE_BUCKET_S} AS INTEGER) * {PRICE_BUCKET_S} > ts))")
            for venue, symbol in series if firsts else ():
                removed += self._execute(
                    "DELETE FROM prices WHERE id IN (SELECT id FROM ("
                    f" SELECT id, row_number() OVER (PARTITION BY {minute} ORDER BY ts DESC, id DESC) AS rank"
                    " FROM prices WHERE symbol = ? AND venue = ? AND ts >= ? AND ts < ?) WHERE rank > 1)",
                    [symbol, venue, start, end],
                ).rowcount
            self._execute(
                "INSERT INTO prices_compaction (id, through_ts) VALUES (1, ?) "
                "ON CONFLICT(id) DO UPDATE SET through_ts = excluded.through_ts",
                [end],
            )
        return removed

    def prices_after(self, last_id: int, limit: int = 10000) -> list[tuple[int, float, str, float]]:
        """Up to ``limit`` rows ``(id, ts, symbol, price)`` with id > ``last_id``, by id (the sqlite feed)."""
        return list(self._all("SELECT id, ts, symbol, price FROM prices WHERE id > ? ORDER BY id LIMIT ?",
                              [last_id, limit]))

    def price_history(
        self, symbol: str, since_ts: float | None = None, limit: int | None = None, *, venue: str | None = None
    ) -> list[tuple[float, float]]:
        """``(ts, price)`` of the series ``(venue, symbol)`` in time order (venue None or ``""``: the
        reference series), from ``since_ts`` (inclusive) if given; with ``limit``, only the most
        recent ``limit`` points."""
        sql = "SELECT ts, price, id FROM prices WHERE symbol = ? AND venue = ?"
        params: list[Any] = [symbol, venue or ""]
        if since_ts is not None:
            sql += " AND ts >= ?"
            params.append(float(since_ts))
        sql += " ORDER BY ts DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self._all(sql, params)
        return [(ts, price) for ts, price, _ in reversed(rows)]

    def max_price_id(self) -> int:
        """The greatest price row id, 0 when the table is empty (where a new sqlite feed starts)."""
        return int(self._one("SELECT coalesce(max(id), 0) FROM prices")[0])

    # -- alerts -----------------------------------------------------------------------------------

    def add_alert(self, *, ts: float, position_id: int | None, level: str, kind: str, message: str,
                  previous: str | None = None) -> int:
        """Record an alert at ``ts`` (Unix s); ``previous``: the level before a level change. Its id."""
        require_choice(level, ALERT_LEVELS, "level")
        if previous is not None:
            require_choice(previous, ALERT_LEVELS, "previous")
        if not self.db.conn.in_transaction:
            with self.transaction():
                return self.add_alert(ts=ts, position_id=position_id, level=level, kind=kind, message=message,
                                      previous=previous)
        # one statement inside the caller's transaction (no savepoint needed), plain SQL (_insert): a
        # replay writes thousands of alerts
        return self._insert("alerts", {"ts": float(ts), "position_id": position_id, "level": level, "kind": kind,
                                       "message": message, "previous": previous})

    def latest_alert(self, position_id: int) -> Alert | None:
        """The newest alert (greatest id) of one position, or None. ``odds`` alerts run on their own
        track (:mod:`isodesk.desk.volatility`) and are not counted: they never break a level's collapse."""
        rows = self._rows("SELECT * FROM alerts WHERE position_id = ? AND kind != 'odds' ORDER BY id DESC LIMIT 1",
                          [position_id])
        return _alert(rows[0]) if rows else None

    def latest_alerts(self, position_ids: Iterable[int]) -> dict[int, Alert]:
        """The newest alert (greatest id) of each of ``position_ids`` that has one, in one query (``odds``
        alerts not counted, as in :meth:`latest_alert`)."""
        ids = json.dumps(sorted({int(i) for i in position_ids}))
        rows = self._rows("SELECT * FROM alerts WHERE id IN (SELECT max(id) FROM alerts WHERE position_id IN "
                          "(SELECT value FROM json_each(?)) AND kind != 'odds' GROUP BY position_id)", [ids])
        return {int(row["position_id"]): _alert(row) for row in rows}

    def repeat_alert(self, alert_id: int, *, ts: float, level: str, previous: str | None, message: str) -> int:
        """Count one more change on an alert (flapping collapsed): ``count`` + 1, and ``ts``, ``level``,
        ``previous``, ``message`` become this change's (``first_ts`` keeps when the run began).
        Returns the new count; ``StoreError`` if there is no such alert."""
        require_choice(level, ALERT_LEVELS, "level")
        if previous is not None:
            require_choice(previous, ALERT_LEVELS, "previous")
        if not self.db.conn.in_transaction:
            with self.transaction():
                return self.repeat_alert(alert_id, ts=ts, level=level, previous=previous, message=message)
        cursor = self._execute(  # one write statement inside the caller's transaction: no savepoint needed
            "UPDATE alerts SET count = count + 1, first_ts = coalesce(first_ts, ts), ts = ?, level = ?, "
            "previous = ?, message = ? WHERE id = ? RETURNING count", [float(ts), level, previous, message, alert_id])
        rows = cursor.fetchall()  # (to the end: the statement finishes before the transaction commits)
        if not rows:
            raise StoreError(f"no alert with id {alert_id}")
        return int(rows[0][0])

    def next_alert_id(self) -> int:
        """The id SQLite gives the next alert (one above the greatest id; 1 for an empty table): the
        ids a batch of :meth:`write_alerts` takes, in order, inside the caller's write transaction."""
        return int(self._one("SELECT coalesce(max(id), 0) + 1 FROM alerts")[0])

    def write_alerts(self, added: Sequence[tuple[int, float, int | None, str, str, str, str | None]],
                     repeated: Sequence[tuple[float, str, str | None, str, int]]) -> None:
        """A desk step's alerts in two statements inside the caller's transaction: what
        :meth:`add_alert` and :meth:`repeat_alert` write one by one. ``added``: rows ``(id, ts,
        position_id, level, kind, message, previous)`` with consecutive ids from :meth:`next_alert_id`;
        then ``repeated``: changes ``(ts, level, previous, message, alert_id)`` in order, each counted
        as :meth:`repeat_alert` counts it (an alert of ``added`` may be repeated). ``StoreError`` if a
        repeated alert does not exist."""
        if not self.db.conn.in_transaction:
            raise StoreError("write_alerts: only inside a write transaction")
        # the few distinct levels checked at once; any other value: the rows checked in order, so the
        # error names the first bad one as a row-by-row check does
        if not _alert_levels_known(added, repeated):
            for _id, _ts, _pid, level, _kind, _message, previous in added:
                require_choice(level, ALERT_LEVELS, "level")
                if previous is not None:
                    require_choice(previous, ALERT_LEVELS, "previous")
            for _ts, level, previous, _message, _id in repeated:
                require_choice(level, ALERT_LEVELS, "level")
                if previous is not None:
                    require_choice(previous, ALERT_LEVELS, "previous")
        conn = self.db.conn
        try:
            if added:
                conn.executemany("INSERT INTO alerts (id, ts, position_id, level, kind, message, previous) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)", added)
            if repeated:
                cursor = conn.executemany(
                    "UPDATE alerts SET count = count + 1, first_ts = coalesce(first_ts, ts), ts = ?, level = ?, "
                    "previous = ?, message = ? WHERE id = ?", repeated)
                if cursor.rowcount != len(repeated):
                    raise StoreError(f"write_alerts: {len(repeated) - cursor.rowcount} repeated alert(s) do not exist")
        except sqlite3.Error as exc:
            self._raise_converted(exc, "write")
            raise

    def acknowledge_alerts(self, alert_ids: Iterable[int]) -> int:
        """Acknowledge every alert of ``alert_ids`` in one transaction, or none: ``StoreError`` naming
        the ids that do not exist. Returns how many of them were not acknowledged before."""
        wanted = sorted({int(i) for i in alert_ids})
        ids = json.dumps(wanted)
        with self.transaction():
            found = {int(r[0]) for r in self._all("SELECT id FROM alerts WHERE id IN (SELECT value FROM json_each(?))",
                                                  [ids])}
            missing = [i for i in wanted if i not in found]
            if missing:
                shown = ", ".join(str(i) for i in missing[:5]) + (" …" if len(missing) > 5 else "")
                raise StoreError(f"alert_ids: no alert with id {shown}; nothing acknowledged")
            return int(self._execute("UPDATE alerts SET acknowledged = 1 WHERE acknowledged = 0 AND id IN "
                                     "(SELECT value FROM json_each(?))", [ids]).rowcount)

    def add_journal(self, *, ts: float, position_id: int, account_id: int, ledger_id: int | None, kind: str,
                    amount: Decimal, before: dict[str, Any], after: dict[str, Any], reason: str = "",
                    undoes: int | None = None, realized_pnl: Decimal | None = None,
                    closed_quantity: Decimal | None = None) -> int:
        """Record one collateral movement with the figures before and after it; return its id.

        A close passes ``realized_pnl`` (exact, may be negative) and ``closed_quantity`` (> 0)."""
        if closed_quantity is not None:
            require_positive(closed_quantity, "closed_quantity")
        with self.transaction():
            return self._insert("journal", {
                "ts": float(ts), "position_id": int(position_id), "account_id": int(account_id),
                "ledger_id": ledger_id, "kind": kind, "amount": to_text(amount),
                "before": _to_json(before), "after": _to_json(after), "reason": reason, "undoes": undoes,
                "realized_pnl": optional_to_text(realized_pnl),
                "closed_quantity": optional_to_text(closed_quantity)})

    def journal(self, *, position_id: int | None = None, account_id: int | None = None) -> list[JournalEntry]:
        """Journal entries, oldest first, of one position, one account, or all."""
        sql, params = "SELECT * FROM journal", []
        if position_id is not None:
            sql, params = sql + " WHERE position_id = ?", [position_id]
        elif account_id is not None:
            sql, params = sql + " WHERE account_id = ?", [account_id]
        rows = self._rows(sql + " ORDER BY id", params)
        return [JournalEntry(**{**row, "amount": from_text(row["amount"]), "before": json.loads(row["before"]),
                                "after": json.loads(row["after"]),
                                "realized_pnl": optional_from_text(row.get("realized_pnl")),
                                "closed_quantity": optional_from_text(row.get("closed_quantity"))})
                for row in rows]

    def alerts(self, *, limit: int = 200, unacknowledged_only: bool = False) -> list[Alert]:
        """Up to ``limit`` alerts, newest first (by ts, then id)."""
        where = " WHERE acknowledged = 0" if unacknowledged_only else ""
        rows = self._rows(f"SELECT * FROM alerts{where} ORDER BY ts DESC, id DESC LIMIT ?", [limit])
        return [_alert(row) for row in rows]

    def acknowledge_alert(self, alert_id: int) -> None:
        """Mark an alert acknowledged; ``StoreError`` if there is no such alert."""
        with self.transaction():
            if self._execute("UPDATE alerts SET acknowledged = 1 WHERE id = ?", [alert_id]).rowcount != 1:
                raise StoreError(f"no alert with id {alert_id}")

    # -- settings ---------------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key`` (Decimals come back as their strings), else ``default``."""
        row = self._one("SELECT value FROM settings WHERE key = ?", [key])
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold; a Decimal is stored as its exact string) under ``key``."""
        encoded = _to_json(value)
        with self.transaction():
            self.db.table("settings").upsert({"key": key, "value": encoded}, pk="key")

    # -- scenarios --------------------------------------------------------------------------------

    def save_scenario(self, name: str, body: dict[str, Any], *, ts: float) -> None:
        """Create or replace the scenario ``name`` (a JSON object; Decimals stored as strings) at ``ts``."""
        if not name:
            raise ValueError("scenario name must not be empty")
        if not isinstance(body, dict):
            raise ValueError(f"scenario body must be a dict, got {type(body).__name__}")
        encoded = _to_json(body)
        with self.transaction():
            self._execute(
                "INSERT INTO scenarios (name, body, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                [name, encoded, float(ts), float(ts)],
            )

    def load_scenario(self, name: str) -> dict[str, Any] | None:
        """The body of scenario ``name``, or None."""
        row = self._one("SELECT body FROM scenarios WHERE name = ?", [name])
        return None if row is None else json.loads(row[0])

    def scenario_names(self) -> list[str]:
        """Names of the saved scenarios, alphabetical."""
        return [r[0] for r in self._all("SELECT name FROM scenarios ORDER BY name")]

    def rename_scenario(self, old: str, new: str) -> None:
        """Rename a scenario; ``StoreError`` if ``old`` is missing or ``new`` is taken."""
        if not new:
            raise ValueError("scenario name must not be empty")
        with self.transaction():
            if self.load_scenario(new) is not None:
                raise StoreError(f"a scenario named {new!r} already exists")
            if self._execute("UPDATE scenarios SET name = ? WHERE name = ?", [new, old]).rowcount != 1:
                raise StoreError(f"no scenario named {old!r}")

    def delete_scenario(self, name: str) -> bool:
        """Delete scenario ``name``; True if it existed."""
        with self.transaction():
            return self._execute("DELETE FROM scenarios WHERE name = ?", [name]).rowcount == 1


    # -- venue sync (migration 0003) ----------------------------------------------------------------

    def position_by_venue_id(self, venue: str, venue_position_id: str) -> PositionRecord | None:
        """The open position of ``venue`` with this venue position id, or None."""
        with self._reading():
            rows = self._rows("SELECT * FROM positions WHERE venue = ? AND venue_position_id = ? AND status = 'open' "
                              "ORDER BY id DESC LIMIT 1", [venue, venue_position_id])
            return _position(rows[0], self.balance(refs.position_ref(rows[0]["id"]))) if rows else None

    def update_position_terms(self, position_id: int, *, side: str | None = None, quantity: Decimal | None = None,
                              entry_price: Decimal | None = None, leverage: Decimal | None = None) -> None:
        """Change the terms of an open position in place (a venue re-import); margin moves go through
        :meth:`transfer`. Fields left None keep their value."""
        values: dict[str, Any] = {}
        if side is not None:
            values["side"] = require_choice(side, SIDES, "side")
        for field, value in (("quantity", quantity), ("entry_price", entry_price), ("leverage", leverage)):
            if value is not None:
                require_positive(value, field)
                values[field] = to_text(value)
        if not values:
            return
        with self.transaction():
            rows = self._rows("SELECT status, label FROM positions WHERE id = ?", [position_id])
            if not rows:
                raise StoreError(f"no position with id {position_id}")
            if rows[0]["status"] != "open":
                raise StoreError(f"position {rows[0]['label']!r} is {rows[0]['status']}; its terms cannot change")
            self.db.table("positions").update(position_id, values)

    def add_venue_report(self, *, ts: float, position_id: int, venue: str, venue_liquidation_price: Decimal | None,
                         venue_margin: Decimal | None, changes: dict[str, Any], auto_add_margin: bool | None = None,
                         adl_rank: int | None = None) -> int:
        """Record what an import from ``venue`` said about a position; return the report id.

        ``auto_add_margin`` and ``adl_rank`` (0–5) are None where the venue did not say."""
        if adl_rank is not None and not (isinstance(adl_rank, int) and 0 <= adl_rank <= 5):
            raise StoreError(f"adl_rank: {adl_rank!r} is not a rank from 0 to 5")
        with self.transaction():
            table = self.db.table("venue_reports")
            table.insert({"ts": float(ts), "position_id": int(position_id), "venue": venue,
                          "venue_liquidation_price": optional_to_text(venue_liquidation_price),
                          "venue_margin": optional_to_text(venue_margin), "raw_changes": _to_json(changes),
                          "auto_add_margin": None if auto_add_margin is None else int(bool(auto_add_margin)),
                          "adl_rank": adl_rank})
            return _last_id(table)

    def venue_reports(self, position_id: int | None = None) -> list[VenueReport]:
        """Venue reports, oldest first, of one position or all."""
        sql, params = "SELECT * FROM venue_reports", []
        if position_id is not None:
            sql, params = sql + " WHERE position_id = ?", [position_id]
        return [_venue_report(row) for row in self._rows(sql + " ORDER BY id", params)]

    def latest_venue_reports(self) -> dict[int, VenueReport]:
        """position id → its most recent venue report."""
        rows = self._rows("SELECT * FROM venue_reports r WHERE id = "
                          "(SELECT max(id) FROM venue_reports q WHERE q.position_id = r.position_id)")
        return {row["position_id"]: _venue_report(row) for row in rows}


def _venue_report(row: dict[str, Any]) -> VenueReport:
    return VenueReport(id=row["id"], ts=row["ts"], position_id=row["position_id"], venue=row["venue"],
                       venue_liquidation_price=optional_from_text(row["venue_liquidation_price"]),
                       venue_margin=optional_from_text(row["venue_margin"]), changes=json.loads(row["raw_changes"]),
                       auto_add_margin=None if row.get("auto_add_margin") is None else bool(row["auto_add_margin"]),
                       adl_rank=row.get("adl_rank"))


_POSITION_SELECT = ("id, label, account_id, venue, symbol, contract, side, quantity, contract_size, entry_price, "
                    "leverage, status, opened_at, closed_at, close_price, venue_position_id")


def _position_of(row: tuple[Any, ...], isolated_margin: Decimal) -> PositionRecord:
    """A positions row selected as :data:`_POSITION_SELECT` (a tuple in that order) as a record,
    money converted back from TEXT: what :func:`_position` gives of the same row."""
    (position_id, label, account_id, venue, symbol, contract, side, quantity, contract_size, entry_price, leverage,
     status, opened_at, closed_at, close_price, venue_position_id) = row
    return PositionRecord(
        id=position_id, label=label, account_id=account_id, venue=venue, symbol=symbol, contract=contract, side=side,
        quantity=from_text(quantity),
        contract_size=None if contract_size is None else from_text(contract_size),
        entry_price=from_text(entry_price), leverage=from_text(leverage), isolated_margin=isolated_margin,
        status=status, opened_at=opened_at, closed_at=closed_at,
        close_price=None if close_price is None else from_text(close_price), venue_position_id=venue_position_id)


def _position(row: dict[str, Any], isolated_margin: Decimal) -> PositionRecord:
    """A positions row as a record, money converted back from TEXT."""
    return PositionRecord(
        **{
            **row,
            "quantity": from_text(row["quantity"]),
            "contract_size": optional_from_text(row["contract_size"]),
            "entry_price": from_text(row["entry_price"]),
            "leverage": from_text(row["leverage"]),
            "close_price": optional_from_text(row["close_price"]),
            "isolated_margin": isolated_margin,
        }
    )
