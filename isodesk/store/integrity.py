"""The full check of a book (``isodesk check``): SQLite's own checks, then the ledger's invariants.

Read-only: the file is opened with ``mode=ro``, never created, migrated or repaired, and a damaged
file is checked as far as it can be read (the integrity check at open, which would refuse it, is
skipped: it is this check's job to say what is wrong).

What is checked, each problem a :class:`Finding`:

- ``integrity``: ``PRAGMA integrity_check`` (every page, every index, every table, prices included);
- ``foreign key``: ``PRAGMA foreign_key_check``;
- ``ledger``: every entry moves a positive exact amount between two different valid refs of its own
  account (a ``position:`` ref naming a position of that account, matching ``position_id``). That
  is what makes the balances of every account, hence of every currency, sum to exactly 0: one row
  takes ``a`` from one ref and gives it to another of the same account, so an entry that reads as
  such cannot break the sum, and one that does not is reported here and left out of the balances.
  Then: no free balance and no position's margin is below 0; no closed or liquidated position
  holds margin; a reversal moves the same amount back between the same refs, and no entry is
  reversed twice;
- ``checkpoint``: every balance checkpoint equals the balance recomputed from the entries;
- ``journal``: every journal entry's ledger entry exists, belongs to the same position and
  account, and (add, remove, undo) moved the journal's amount.

The cost is one pass over the ledger and the journal plus SQLite's checks (about 7 s for a book
with 2M price rows, 1.6 s for 200,000 ledger entries; prices dominate until they are compacted).
"""

from __future__ import annotations

import contextlib
import decimal
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.store import ledger as refs
from isodesk.store import migrations
from isodesk.store.db import connect, describe
from isodesk.store.errors import StoreError, StoreIOError
from isodesk.store.money import from_text

#: Journal kinds whose amount is the amount of their one ledger entry.
_ONE_TO_ONE = ("add", "remove", "undo", "increase")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which check found it (``integrity``, ``foreign key``, ``ledger``, ``checkpoint``,
    ``journal``) and what it is, naming the row, ref or value."""

    check: str
    message: str


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_book` found in one file; ``ok`` when it found nothing."""

    path: str
    findings: tuple[Finding, ...]
    counts: dict[str, int] = field(default_factory=dict)
    pending_migrations: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check found a problem."""
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        """The report as a JSON object."""
        return {"path": self.path, "ok": self.ok,
                "problems": [{"check": f.check, "message": f.message} for f in self.findings],
                "counts": dict(self.counts), "pending_migrations": list(self.pending_migrations)}


def check_book(path: str | Path) -> CheckReport:
    """Check the book at ``path`` as the module docstring says.

    Raises :class:`StoreError` (one line naming the file) when it cannot be checked at all: missing,
    empty, not SQLite, another program's database, written by a newer isodesk, unreadable.
    """
    name = str(path)
    try:
        opened = connect(path, create=False, read_only=True, verify=False, require_current=False)
    except StoreIOError as exc:
        cause = exc.__cause__
        detail = describe(cause) if isinstance(cause, sqlite3.Error) else str(exc)
        raise StoreError(f"{name}: cannot read the book at all: {detail}") from exc
    conn = opened.db.conn
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    try:
        pending = tuple(m.name for m in migrations.migrations.pending(opened.db))
        findings += _sqlite_checks(conn)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("accounts", "positions", "ledger", "journal", "prices"):
            if table in tables:
                with contextlib.suppress(sqlite3.Error):  # a damaged table is reported below
                    counts[table] = int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        findings += _guarded("ledger", lambda: _ledger_checks(conn, tables))
        if "journal" in tables:
            findings += _guarded("journal", lambda: _journal_checks(conn))
    finally:
        conn.close()
    return CheckReport(name, tuple(findings), counts, pending)


def _guarded(check: str, run: Callable[[], list[Finding]]) -> list[Finding]:
    """The findings of ``run()``, or one finding saying it could not read the tables it needs."""
    try:
        return run()
    except sqlite3.Error as exc:
        return [Finding(check, f"could not be read: {describe(exc)}")]


def _sqlite_checks(conn: sqlite3.Connection) -> list[Finding]:
    findings: list[Finding] = []
    try:
        findings += [Finding("integrity", r[0]) for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
    except sqlite3.Error as exc:
        findings.append(Finding("integrity", f"the check stopped: {describe(exc)}"))
    try:
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            findings.append(Finding("foreign key", f"{table} row {rowid} refers to a {parent} row that does not exist"))
    except sqlite3.Error as exc:
        findings.append(Finding("foreign key", f"the check stopped: {describe(exc)}"))
    return findings


def _ledger_checks(conn: sqlite3.Connection, tables: set[str]) -> list[Finding]:
    findings: list[Finding] = []
    accounts = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, name, currency FROM accounts")}
    positions = {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, account_id, status, label FROM positions")}
    checkpoints: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if "balance_checkpoints" in tables:
        for ref, through_id, balance in conn.execute("SELECT ref, through_id, balance FROM balance_checkpoints"):
            checkpoints[int(through_id)].append((ref, balance))
    balances: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    running: dict[str, Decimal] = defaultdict(Decimal)
    entries: dict[int, tuple[Decimal, str, str]] = {}
    reversed_by: dict[int, int] = {}
    rows = conn.execute("SELECT id, amount, source, dest, account_id, position_id, reverses FROM ledger ORDER BY id")
    with decimal.localcontext(refs.EXACT):
        for entry_id, text, source, dest, account_id, position_id, reverses in rows:
            problem = _entry_problem(text, source, dest, account_id, position_id, accounts, positions)
            if problem:
                findings.append(Finding("ledger", f"entry {entry_id}: {problem}"))
            else:
                amount = from_text(text)
                entries[entry_id] = (amount, source, dest)
                balances[account_id][source] -= amount
                balances[account_id][dest] += amount
                running[source] -= amount
                running[dest] += amount
                if reverses is not None:
                    findings += _reversal_problems(entry_id, reverses, amount, source, dest, entries, reversed_by)
            for ref, stored in checkpoints.pop(entry_id, ()):
                if _decimal_or_none(stored) != running[ref]:
                    findings.append(Finding("checkpoint", f"{ref} through entry {entry_id} is checkpointed at "
                                                          f"{stored} but the entries sum to {running[ref]}"))
    for through_id, items in checkpoints.items():
        for ref, _ in items:
            findings.append(Finding("checkpoint", f"{ref} is checkpointed through entry {through_id}, "
                                                  "which does not exist"))
    findings += _balance_problems(balances, accounts, positions)
    return findings


def _decimal_or_none(text: object) -> Decimal | None:
    try:
        return from_text(text)  # type: ignore[arg-type]
    except ValueError:
        return None


def _entry_problem(text: object, source: str, dest: str, account_id: int, position_id: int | None,
                   accounts: dict[int, tuple[str, str]], positions: dict[int, tuple[int, str, str]]) -> str:
    """What is wrong with one entry ("" when nothing)."""
    amount = _decimal_or_none(text)
    if amount is None or not amount.is_finite() or amount <= 0:
        return f"amount {text!r} is not a positive decimal"
    if account_id not in accounts:
        return f"account {account_id} does not exist"
    if source == dest:
        return f"moves {amount} from {source} to itself"
    for role, ref in (("source", source), ("dest", dest)):
        try:
            kind, number = refs.parse_ref(ref)
        except ValueError:
            return f"{role} {ref!r} is not a ledger ref"
        if kind in ("free", "pnl") and number != account_id:
            return f"{role} {ref} belongs to another account than the entry's ({account_id})"
        if kind == "position":
            assert number is not None
            if number not in positions:
                return f"{role} {ref}: no such position"
            if positions[number][0] != account_id:
                return f"{role} {ref} is a position of account {positions[number][0]}, not of {account_id}"
            if position_id != number:
                return f"{role} {ref} but position_id {position_id}"
    return ""


def _reversal_problems(entry_id: int, reverses: int, amount: Decimal, source: str, dest: str,
                       entries: dict[int, tuple[Decimal, str, str]], reversed_by: dict[int, int]) -> list[Finding]:
    findings = []
    original = entries.get(reverses)
    if original is None:
        findings.append(Finding("ledger", f"entry {entry_id} reverses entry {reverses}, which is not an earlier "
                                          "valid entry"))
    elif original != (amount, dest, source):
        findings.append(Finding("ledger", f"entry {entry_id} reverses entry {reverses} ({original[0]} "
                                          f"{original[1]}→{original[2]}) but moves {amount} {source}→{dest}"))
    if reverses in reversed_by:
        findings.append(Finding("ledger", f"entry {reverses} is reversed twice (by {reversed_by[reverses]} and "
                                          f"{entry_id})"))
    reversed_by.setdefault(reverses, entry_id)
    return findings


def _balance_problems(balances: dict[int, dict[str, Decimal]], accounts: dict[int, tuple[str, str]],
                      positions: dict[int, tuple[int, str, str]]) -> list[Finding]:
    findings = []
    with decimal.localcontext(refs.EXACT):
        for account_id, of_account in sorted(balances.items()):
            currency = accounts[account_id][1]
            for ref, balance in sorted(of_account.items()):
                kind, number = refs.parse_ref(ref)
                if kind in ("free", "position") and balance < 0:
                    label = f" ({positions[number][2]})" if kind == "position" and number is not None else ""
                    findings.append(Finding("ledger", f"{ref}{label} is {balance} {currency}; "
                                                      f"{'a free balance' if kind == 'free' else 'margin'} "
                                                      "never goes below 0"))
                if kind == "position" and number is not None and positions[number][1] != "open" and balance != 0:
                    findings.append(Finding("ledger", f"{ref} ({positions[number][2]}) is {positions[number][1]} "
                                                      f"but still holds {balance} {currency} of margin"))
    return findings


def _journal_checks(conn: sqlite3.Connection) -> list[Finding]:
    findings = []
    rows = conn.execute(
        "SELECT j.id, j.kind, j.amount, j.position_id, j.account_id, j.ledger_id, l.id, l.amount, l.position_id, "
        "l.account_id FROM journal j LEFT JOIN ledger l ON l.id = j.ledger_id WHERE j.ledger_id IS NOT NULL "
        "ORDER BY j.id"
    )
    for jid, kind, amount, position_id, account_id, ledger_id, lid, lamount, lposition, laccount in rows:
        if lid is None:
            findings.append(Finding("journal", f"entry {jid} names ledger entry {ledger_id}, which does not exist"))
            continue
        if (lposition, laccount) != (position_id, account_id):
            findings.append(Finding("journal", f"entry {jid} is about position {position_id} of account {account_id} "
                                               f"but ledger entry {lid} about position {lposition} of account "
                                               f"{laccount}"))
        if kind in _ONE_TO_ONE and _decimal_or_none(amount) != _decimal_or_none(lamount):
            findings.append(Finding("journal", f"entry {jid} ({kind}) records {amount} but ledger entry {lid} "
                                               f"moved {lamount}"))
    return findings
