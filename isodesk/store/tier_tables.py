"""The venues' tier tables kept in the book (migration ``0006_tier_tables``), and the catalog built
from them.

Schema (STRICT tables):

- ``tier_tables``: one row per ``(venue, contract, symbol)``: ``basis`` (``notional`` or
  ``contracts``), ``rows`` (JSON list of ``[floor, cap|null, rate, deduction|null,
  max_leverage|null]``, each an exact decimal text as the venue sent it), ``settlement``,
  ``contract_value`` and ``contract_size`` (exact texts; size only for inverse contracts),
  ``strict_isolated``, ``source`` (``refresh``, ``import``, ``shipped``), ``fetched_at`` (when the
  venue answered or the file was imported), ``changed_at`` (when the rows last changed),
  ``removed_at`` (when a full refresh stopped listing the symbol; the row is kept, a position may
  still hold the symbol).
- ``position_rates``: a position's own maintenance rate (the ``mmr`` column of an imported
  position file), used as a single-tier table for that position alone, for as long as the book
  keeps the position (so it survives every reload).
- ``tier_clock``: a counter every change of either table moves (``book_clock`` moves too, so a
  running desk in another process reloads).

Every write runs in one :meth:`~isodesk.store.Store.transaction`; money-like numbers never pass
through a float on their way in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from isodesk.margin.catalog import BookTable, TierCatalog
from isodesk.paths import resource_path
from isodesk.store.errors import StoreError
from isodesk.store.store import Store
from isodesk.venues.tier_bodies import ExactRow, VenueTierTable, canonical

SOURCES = ("refresh", "import", "shipped")
CHANGE_KINDS = ("added", "changed", "unchanged", "removed")


@dataclass(frozen=True, slots=True)
class TierChange:
    """What saving did to one symbol's table.

    ``kind``: ``added`` (new in the book), ``changed`` (rows, basis, contract value or size,
    settlement or strict flag differ), ``unchanged`` (only its source and time were renewed), or
    ``removed`` (a full refresh no longer lists it; the row is kept). ``rows_changed``: rows that
    differ, counting added and dropped ones. ``before``/``after``: the exact rows (None when absent).
    """

    venue: str
    contract: str
    symbol: str
    kind: str
    rows_changed: int = 0
    before: tuple[ExactRow, ...] | None = None
    after: tuple[ExactRow, ...] | None = None


@dataclass(frozen=True, slots=True)
class SaveReport:
    """Every :class:`TierChange` of one :func:`save_tier_tables`, in the order of the tables given
    (removals last)."""

    source: str
    at: float
    changes: tuple[TierChange, ...]

    def of(self, kind: str) -> list[TierChange]:
        """The changes of one kind."""
        return [c for c in self.changes if c.kind == kind]

    @property
    def stored(self) -> int:
        """How many tables were given and stored (added, changed or unchanged)."""
        return sum(1 for c in self.changes if c.kind != "removed")

    def summary(self, limit: int = 8) -> str:
        """One line: ``12 symbols stored (1 added: X; 2 changed: ETHUSDT (3 rows), …; 9 unchanged;
        1 no longer listed, kept: Y)``."""
        parts = []
        for kind, label in (("added", "added"), ("changed", "changed"), ("unchanged", "unchanged"),
                            ("removed", "no longer listed, kept")):
            found = self.of(kind)
            if not found:
                continue
            text = f"{len(found)} {label}"
            if kind != "unchanged":
                names = [c.symbol + (f" ({c.rows_changed} row{'s' if c.rows_changed != 1 else ''})"
                                     if kind == "changed" else "") for c in found[:limit]]
                text += ": " + ", ".join(names) + (", …" if len(found) > limit else "")
            parts.append(text)
        n = self.stored
        return f"{n} symbol{'s' if n != 1 else ''} stored ({'; '.join(parts) or 'nothing given'})"


def _rows_json(rows: Sequence[ExactRow]) -> str:
    return json.dumps([list(r) for r in rows], separators=(",", ":"))


def _rows_from_json(text: str) -> tuple[ExactRow, ...]:
    return tuple((r[0], r[1], r[2], r[3], r[4]) for r in json.loads(text))


def _record(table: VenueTierTable) -> dict[str, Any]:
    """The columns of one table that make its content (what a change is measured on)."""
    return {"basis": table.basis, "rows": _rows_json(table.rows), "settlement": table.settlement,
            "contract_value": canonical(table.contract_value),
            "contract_size": None if table.contract_size is None else canonical(table.contract_size),
            "strict_isolated": int(table.strict_isolated)}


def _rows_changed(before: Sequence[ExactRow], after: Sequence[ExactRow]) -> int:
    differing = sum(1 for a, b in zip(before, after, strict=False) if a != b)
    return differing + abs(len(before) - len(after))


def save_tier_tables(store: Store, tables: Sequence[VenueTierTable], source: str, at: float, *,
                     complete_venue: str | None = None) -> SaveReport:
    """Store ``tables`` (from a ``refresh`` or an ``import`` at ``at``, Unix s) in one transaction;
    return what changed per symbol.

    A table equal to the stored one keeps its rows and ``changed_at`` and gets the new source and
    time (``unchanged``). With ``complete_venue`` (the tables are everything that venue lists, a
    full refresh), that venue's stored tables missing from ``tables`` are marked ``removed_at`` and
    reported ``removed``; they are not deleted. ``ValueError`` for an unknown source or a
    ``complete_venue`` other than the tables' venue.
    """
    if source not in SOURCES:
        raise ValueError(f"source: {source!r} is not one of {', '.join(SOURCES)}")
    if complete_venue is not None and any(t.venue != complete_venue for t in tables):
        raise ValueError(f"complete_venue: every table must be of {complete_venue}")
    seen: set[tuple[str, str, str]] = set()
    for t in tables:
        if not isinstance(t, VenueTierTable):
            raise ValueError(f"tables: {t!r} is not a VenueTierTable")
        key = (t.venue, t.contract, t.symbol)
        if key in seen:
            raise ValueError(f"tables: {t.venue} {t.contract} {t.symbol} is given twice")
        seen.add(key)
    at = float(at)
    changes: list[TierChange] = []
    with store.transaction():
        for t in tables:
            new = _record(t)
            row = store.db.execute(
                "SELECT basis, rows, settlement, contract_value, contract_size, strict_isolated, removed_at "
                "FROM tier_tables WHERE venue = ? AND contract = ? AND symbol = ?",
                [t.venue, t.contract, t.symbol]).fetchone()
            if row is None:
                store.db.execute(
                    "INSERT INTO tier_tables (venue, contract, symbol, basis, rows, settlement, contract_value, "
                    "contract_size, strict_isolated, source, fetched_at, changed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [t.venue, t.contract, t.symbol, new["basis"], new["rows"], new["settlement"],
                     new["contract_value"], new["contract_size"], new["strict_isolated"], source, at, at])
                changes.append(TierChange(t.venue, t.contract, t.symbol, "added", len(t.rows), None, t.rows))
                continue
            old = dict(zip(("basis", "rows", "settlement", "contract_value", "contract_size", "strict_isolated"),
                           row[:6], strict=True))
            before = _rows_from_json(str(old["rows"]))
            if old == new:
                store.db.execute("UPDATE tier_tables SET source = ?, fetched_at = ?, removed_at = NULL "
                                 "WHERE venue = ? AND contract = ? AND symbol = ?",
                                 [source, at, t.venue, t.contract, t.symbol])
                changes.append(TierChange(t.venue, t.contract, t.symbol, "unchanged", 0, before, t.rows))
                continue
            store.db.execute(
                "UPDATE tier_tables SET basis = ?, rows = ?, settlement = ?, contract_value = ?, contract_size = ?, "
                "strict_isolated = ?, source = ?, fetched_at = ?, changed_at = ?, removed_at = NULL "
                "WHERE venue = ? AND contract = ? AND symbol = ?",
                [new["basis"], new["rows"], new["settlement"], new["contract_value"], new["contract_size"],
                 new["strict_isolated"], source, at, at, t.venue, t.contract, t.symbol])
            changes.append(TierChange(t.venue, t.contract, t.symbol, "changed",
                                      max(1, _rows_changed(before, t.rows)), before, t.rows))
        if complete_venue is not None:
            listed = store.db.execute("SELECT contract, symbol, rows FROM tier_tables WHERE venue = ? "
                                      "AND removed_at IS NULL ORDER BY contract, symbol", [complete_venue]).fetchall()
            for contract, symbol, rows in listed:
                if (complete_venue, contract, symbol) in seen:
                    continue
                store.db.execute("UPDATE tier_tables SET removed_at = ? WHERE venue = ? AND contract = ? "
                                 "AND symbol = ?", [at, complete_venue, contract, symbol])
                changes.append(TierChange(complete_venue, contract, symbol, "removed", 0, _rows_from_json(rows), None))
    return SaveReport(source, at, tuple(changes))


def book_tables(store: Store) -> list[BookTable]:
    """Every tier table stored in the book, by venue, contract and symbol."""
    rows = store.db.execute(
        "SELECT venue, contract, symbol, rows, basis, settlement, contract_value, contract_size, strict_isolated, "
        "source, fetched_at, changed_at, removed_at FROM tier_tables ORDER BY venue, contract, symbol").fetchall()
    return [BookTable(venue=r[0], contract=r[1], symbol=r[2], rows=_rows_from_json(r[3]), basis=r[4], settlement=r[5],
                      contract_value=r[6], contract_size=r[7], strict_isolated=bool(r[8]), source=r[9],
                      fetched_at=float(r[10]), changed_at=float(r[11]),
                      removed_at=None if r[12] is None else float(r[12])) for r in rows]


def tier_version(store: Store) -> int:
    """The counter every change of ``tier_tables`` or ``position_rates`` moves."""
    row = store.db.execute("SELECT version FROM tier_clock WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def set_position_rate(store: Store, position_id: int, mmr: Decimal, *, at: float, source: str = "import") -> None:
    """Keep ``mmr`` (a fraction in (0, 1), exact) as the position's own maintenance rate: one tier at
    that rate for that position alone (replacing any earlier one)."""
    if not isinstance(mmr, Decimal) or not mmr.is_finite() or not 0 < mmr < 1:
        raise ValueError(f"mmr: {mmr!r} must be an exact rate between 0 and 1 (0.01 = 1 %)")
    with store.transaction():
        if store.db.execute("SELECT 1 FROM positions WHERE id = ?", [position_id]).fetchone() is None:
            raise StoreError(f"no position with id {position_id}")
        store.db.execute("INSERT INTO position_rates (position_id, mmr, source, set_at) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(position_id) DO UPDATE SET mmr = excluded.mmr, source = excluded.source, "
                         "set_at = excluded.set_at", [int(position_id), canonical(mmr), source, float(at)])


def position_rates(store: Store) -> dict[int, Decimal]:
    """Position id → its own maintenance rate (exact), for every position that has one."""
    return {int(pid): Decimal(mmr) for pid, mmr in store.db.execute("SELECT position_id, mmr FROM position_rates")}


@functools.lru_cache(maxsize=1)
def shipped_catalog() -> TierCatalog:
    """The catalog of the shipped ``resources/tiers`` (one per process: the files never change while
    isodesk runs)."""
    return TierCatalog(resource_path("tiers"))


def catalog_for(store: Store, base: TierCatalog | None = None) -> TierCatalog:
    """The catalog every computation on ``store``'s book uses: the book's tables first, then the
    shipped snapshot of ``base`` (default: :func:`shipped_catalog`), and each position's own rate.

    Returns ``base`` itself when it was built from this book and nothing changed since (the
    ``tier_clock`` counter), so calling it on every reload costs one query.
    """
    base = base if base is not None else shipped_catalog()
    key = (str(store.path), id(store), tier_version(store))
    if base.book_key == key:
        return base
    return base.with_book(book_tables(store), {pid: float(r) for pid, r in position_rates(store).items()}, key=key)


def tables_of(store: Store, venue: str) -> Iterable[BookTable]:
    """The book's tables of one venue."""
    return [t for t in book_tables(store) if t.venue == venue]


__all__ = ["CHANGE_KINDS", "SOURCES", "SaveReport", "TierChange", "book_tables", "catalog_for", "position_rates",
           "save_tier_tables", "set_position_rate", "shipped_catalog", "tables_of", "tier_version"]
