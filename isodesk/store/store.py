"""The ``Store``: the book (accounts, positions), the ledger, prices, alerts, settings and scenarios
over one SQLite file.

One command = one transaction: every writing method runs in :meth:`Store.transaction`, which is
``BEGIN IMMEDIATE`` … ``COMMIT`` when called alone and a savepoint inside an outer transaction.
Taking the write lock up front means a command never loses a read→write upgrade race with another
process appending prices. Money crosses the boundary only through :mod:`isodesk.store.money`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from isodesk.store import ledger as refs
from isodesk.store.db import open_database
from isodesk.store.errors import StoreError
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

PRICE_BATCH = 1000


def _json_default(value: object) -> object:
    """JSON encoding of the values ``json`` does not know: a Decimal becomes its exact string."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} {value!r} as JSON")


def _to_json(value: object) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True, allow_nan=False)


class Store:
    """The isodesk database. Open with :meth:`Store.open`; use from the thread that opened it."""

    def __init__(self, db: sqlite_utils.Database, path: str | Path):
        self.db = db
        self.path = Path(path)

    # -- life cycle -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating and migrating if needed) the database at ``path``; ``StoreError`` if refused."""
        return cls(open_database(path), path)

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
        any exception. Inside an open transaction it becomes a savepoint of that transaction."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.db.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            self.db.rollback()
            raise

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A consistent snapshot for reads made of several queries (a deferred read transaction)."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN")
        try:
            yield
        finally:
            conn.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

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
            account_id = int(table.last_pk)
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
            return int(table.last_pk)

    def positions(self, statuses: Iterable[str] | None = ("open",)) -> list[PositionRecord]:
        """Positions whose status is in ``statuses`` (None: all), by id, each with its isolated margin
        (the ledger balance of its ref, account currency)."""
        sql = "SELECT * FROM positions"
        params: list[Any] = []
        if statuses is not None:
            wanted = [require_choice(s, POSITION_STATUSES, "status") for s in statuses]
            sql += f" WHERE status IN ({', '.join(['?'] * len(wanted))})"
            params = wanted
        with self._reading():
            rows = self._rows(sql + " ORDER BY id", params)
            margins = self._position_balances()
        return [_position(row, margins.get(refs.position_ref(row["id"]), Decimal(0))) for row in rows]

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

    def set_position_status(
        self, position_id: int, status: str, *, ts: float, close_price: Decimal | None = None
    ) -> None:
        """Close or liquidate an open position at ``ts`` (Unix s), at ``close_price`` (quote per coin).

        Only ``open`` → ``closed``/``liquidated`` is allowed; anything else raises ``StoreError``.
        Moving the remaining margin is the caller's job (:meth:`transfer`, same transaction).
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
            self.db.table("positions").update(
                position_id,
                {"status": status, "closed_at": float(ts), "close_price": optional_to_text(close_price)},
            )

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
    ) -> int:
        """Move ``amount`` (> 0, account currency) from ref ``source`` to ref ``dest``; return the entry id.

        ``free:``/``pnl:`` refs must name ``account_id``; a ``position:`` ref must name a position of
        that account (``position_id`` is taken from it when not given). Funds can only enter an open
        position. ``reverses`` names an entry this one undoes: same amount, source and dest swapped.
        """
        require_positive(amount, "amount")
        if not kind:
            raise ValueError("kind must not be empty")
        if source == dest:
            raise ValueError(f"source and dest are the same ref {source!r}")
        with self.transaction():
            position_id = self._check_refs(source, dest, account_id, position_id)
            if reverses is not None:
                self._check_reversal(reverses, amount, source, dest)
            table = self.db.table("ledger")
            table.insert(
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
                }
            )
            return int(table.last_pk)

    def _check_refs(self, source: str, dest: str, account_id: int, position_id: int | None) -> int | None:
        """Validate both refs against the account and position; return the position id to record."""
        if self.account_by_id(account_id) is None:
            raise StoreError(f"no account with id {account_id}")
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
            if rows[0]["account_id"] != account_id:
                raise ValueError(f"{role} {ref!r} belongs to another account than {account_id}")
            if role == "dest" and rows[0]["status"] != "open":
                raise StoreError(f"position {rows[0]['label']!r} is {rows[0]['status']}; it takes no more margin")
        return position_id

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
        rows = self.db.conn.execute(
            "SELECT source, dest, amount FROM ledger WHERE source = ? OR dest = ?", [ref, ref]
        ).fetchall()
        return refs.balances_of((s, d, from_text(a)) for s, d, a in rows).get(ref, Decimal(0))

    def balances(self) -> dict[str, Decimal]:
        """Balance of every ref the ledger has touched (account currency); they sum to exactly 0."""
        rows = self.db.conn.execute("SELECT source, dest, amount FROM ledger").fetchall()
        return refs.balances_of((s, d, from_text(a)) for s, d, a in rows)

    def _position_balances(self) -> dict[str, Decimal]:
        rows = self.db.conn.execute(
            "SELECT source, dest, amount FROM ledger WHERE source LIKE 'position:%' OR dest LIKE 'position:%'"
        ).fetchall()
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

    def insert_prices(self, rows: Iterable[tuple[float, str, float]], source: str = "") -> int:
        """Append ``(ts, symbol, price)`` rows (Unix s, quote per coin), one transaction; return the count."""
        records = [
            {"ts": float(ts), "symbol": str(symbol), "price": float(price), "source": source}
            for ts, symbol, price in rows
        ]
        if records:
            with self.transaction():
                self.db.table("prices").insert_all(records, batch_size=PRICE_BATCH)
        return len(records)

    def latest_prices(self) -> dict[str, tuple[float, float]]:
        """symbol → ``(ts, price)`` of its most recent row (greatest ts; the later row on a tie)."""
        rows = self.db.conn.execute(
            "SELECT symbol, ts, price FROM prices p WHERE id = "
            "(SELECT id FROM prices q WHERE q.symbol = p.symbol ORDER BY ts DESC, id DESC LIMIT 1)"
        ).fetchall()
        return {symbol: (ts, price) for symbol, ts, price in rows}

    def prices_after(self, last_id: int, limit: int = 10000) -> list[tuple[int, float, str, float]]:
        """Up to ``limit`` rows ``(id, ts, symbol, price)`` with id > ``last_id``, by id (the sqlite feed)."""
        return list(
            self.db.conn.execute(
                "SELECT id, ts, symbol, price FROM prices WHERE id > ? ORDER BY id LIMIT ?", [last_id, limit]
            ).fetchall()
        )

    def price_history(
        self, symbol: str, since_ts: float | None = None, limit: int | None = None
    ) -> list[tuple[float, float]]:
        """``(ts, price)`` of ``symbol`` in time order, from ``since_ts`` (inclusive) if given; with
        ``limit``, only the most recent ``limit`` points."""
        sql = "SELECT ts, price, id FROM prices WHERE symbol = ?"
        params: list[Any] = [symbol]
        if since_ts is not None:
            sql += " AND ts >= ?"
            params.append(float(since_ts))
        sql += " ORDER BY ts DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        rows = self.db.conn.execute(sql, params).fetchall()
        return [(ts, price) for ts, price, _ in reversed(rows)]

    def max_price_id(self) -> int:
        """The greatest price row id, 0 when the table is empty (where a new sqlite feed starts)."""
        return int(self.db.conn.execute("SELECT coalesce(max(id), 0) FROM prices").fetchone()[0])

    # -- alerts -----------------------------------------------------------------------------------

    def add_alert(self, *, ts: float, position_id: int | None, level: str, kind: str, message: str) -> int:
        """Record an alert at ``ts`` (Unix s); return its id."""
        require_choice(level, ALERT_LEVELS, "level")
        with self.transaction():
            table = self.db.table("alerts")
            table.insert(
                {
                    "ts": float(ts),
                    "position_id": position_id,
                    "level": level,
                    "kind": kind,
                    "message": message,
                }
            )
            return int(table.last_pk)

    def add_journal(self, *, ts: float, position_id: int, account_id: int, ledger_id: int | None, kind: str,
                    amount: Decimal, before: dict[str, Any], after: dict[str, Any], reason: str = "",
                    undoes: int | None = None) -> int:
        """Record one collateral movement with the figures before and after it; return its id."""
        with self.transaction():
            table = self.db.table("journal")
            table.insert({"ts": float(ts), "position_id": int(position_id), "account_id": int(account_id),
                          "ledger_id": ledger_id, "kind": kind, "amount": to_text(amount),
                          "before": _to_json(before), "after": _to_json(after), "reason": reason,
                          "undoes": undoes})
            return int(table.last_pk)

    def journal(self, *, position_id: int | None = None, account_id: int | None = None) -> list[JournalEntry]:
        """Journal entries, oldest first, of one position, one account, or all."""
        sql, params = "SELECT * FROM journal", []
        if position_id is not None:
            sql, params = sql + " WHERE position_id = ?", [position_id]
        elif account_id is not None:
            sql, params = sql + " WHERE account_id = ?", [account_id]
        rows = self._rows(sql + " ORDER BY id", params)
        return [JournalEntry(**{**row, "amount": from_text(row["amount"]), "before": json.loads(row["before"]),
                                "after": json.loads(row["after"])}) for row in rows]

    def alerts(self, *, limit: int = 200, unacknowledged_only: bool = False) -> list[Alert]:
        """Up to ``limit`` alerts, newest first (by ts, then id)."""
        where = " WHERE acknowledged = 0" if unacknowledged_only else ""
        rows = self._rows(f"SELECT * FROM alerts{where} ORDER BY ts DESC, id DESC LIMIT ?", [limit])
        return [Alert(**{**row, "acknowledged": bool(row["acknowledged"])}) for row in rows]

    def acknowledge_alert(self, alert_id: int) -> None:
        """Mark an alert acknowledged; ``StoreError`` if there is no such alert."""
        with self.transaction():
            if self.db.conn.execute("UPDATE alerts SET acknowledged = 1 WHERE id = ?", [alert_id]).rowcount != 1:
                raise StoreError(f"no alert with id {alert_id}")

    # -- settings ---------------------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key`` (Decimals come back as their strings), else ``default``."""
        row = self.db.conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
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
            self.db.conn.execute(
                "INSERT INTO scenarios (name, body, created_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                [name, encoded, float(ts), float(ts)],
            )

    def load_scenario(self, name: str) -> dict[str, Any] | None:
        """The body of scenario ``name``, or None."""
        row = self.db.conn.execute("SELECT body FROM scenarios WHERE name = ?", [name]).fetchone()
        return None if row is None else json.loads(row[0])

    def scenario_names(self) -> list[str]:
        """Names of the saved scenarios, alphabetical."""
        return [r[0] for r in self.db.conn.execute("SELECT name FROM scenarios ORDER BY name").fetchall()]

    def rename_scenario(self, old: str, new: str) -> None:
        """Rename a scenario; ``StoreError`` if ``old`` is missing or ``new`` is taken."""
        if not new:
            raise ValueError("scenario name must not be empty")
        with self.transaction():
            if self.load_scenario(new) is not None:
                raise StoreError(f"a scenario named {new!r} already exists")
            if self.db.conn.execute("UPDATE scenarios SET name = ? WHERE name = ?", [new, old]).rowcount != 1:
                raise StoreError(f"no scenario named {old!r}")

    def delete_scenario(self, name: str) -> bool:
        """Delete scenario ``name``; True if it existed."""
        with self.transaction():
            return self.db.conn.execute("DELETE FROM scenarios WHERE name = ?", [name]).rowcount == 1


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
                         venue_margin: Decimal | None, changes: dict[str, Any]) -> int:
        """Record what an import from ``venue`` said about a position; return the report id."""
        with self.transaction():
            table = self.db.table("venue_reports")
            table.insert({"ts": float(ts), "position_id": int(position_id), "venue": venue,
                          "venue_liquidation_price": optional_to_text(venue_liquidation_price),
                          "venue_margin": optional_to_text(venue_margin), "raw_changes": _to_json(changes)})
            return int(table.last_pk)

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
                       venue_margin=optional_from_text(row["venue_margin"]), changes=json.loads(row["raw_changes"]))


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
