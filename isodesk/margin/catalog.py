"""Where a position's tier table comes from: the book's own tables first, the shipped snapshot second.

A :class:`TierCatalog` answers, for a venue, contract kind and symbol, the tier table in use, the
settlement currency, the contract value and size, whether the venue lets margin be removed
(``strict_isolated``) and where the table came from (:meth:`TierCatalog.source`: a refresh from the
venue, an import of its answer, or the snapshot shipped in ``resources/tiers``, with the date).

- **Shipped** tables are the JSON files of ``resources/tiers`` (see its README), read lazily, once
  each; a symbol's rows become a :class:`TierTable` only when asked for.
- **Book** tables (:class:`BookTable`) are plain data the store reads from the book's
  ``tier_tables`` (``isodesk.store.tier_tables.catalog_for`` builds the catalog; this module knows
  no database, so the folder and the tables are passed in). :meth:`TierCatalog.with_book` makes the
  catalog of one book over the same shipped files.
- **A position's own rate** (the ``mmr`` column of an imported file) is one tier at that rate for
  that position alone: ``table(..., position_id=id)``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from isodesk.margin.tiers import TierError, TierTable
from isodesk.margin.venues import venue_rule

SOURCE_KINDS = ("refresh", "import", "shipped", "position")


class UnknownSymbol(ValueError):
    """A symbol for which neither the book nor the shipped snapshot has a tier table."""


@dataclass(frozen=True, slots=True)
class TableSource:
    """Where a table in use came from.

    ``kind``: ``refresh`` (fetched from the venue), ``import`` (a saved venue answer), ``shipped``
    (``resources/tiers``) or ``position`` (the position's own rate). ``at``: Unix seconds of the
    refresh or import (None for shipped); ``as_of``: the shipped file's date, else the UTC date of
    ``at``; ``detail``: the shipped file's source text. ``changed_at``: when the book's rows last
    changed; ``removed_at``: when a full refresh stopped listing the symbol (the table is kept).
    """

    kind: str
    at: float | None
    as_of: str
    detail: str = ""
    changed_at: float | None = None
    removed_at: float | None = None

    def describe(self) -> str:
        """One line: ``refresh of 2026-12-01 14:03 UTC``, ``shipped snapshot of 2025-12-29 (…)``."""
        if self.kind == "shipped":
            text = f"shipped snapshot of {self.as_of}"
            return f"{text} ({self.detail})" if self.detail else text
        if self.kind == "position":
            return "the position's own maintenance rate (from its import file)"
        text = f"{self.kind} of {utc_text(self.at)}"
        if self.removed_at is not None:
            text += f"; no longer listed by the venue since {utc_text(self.removed_at)}"
        return text


def utc_text(ts: float | None) -> str:
    """``2026-12-01 14:03 UTC`` for Unix seconds (``—`` for None)."""
    if ts is None or not math.isfinite(ts):
        return "—"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class BookTable:
    """One tier table stored in a book (see ``isodesk.store.tier_tables``), as plain data.

    ``rows``: ``(floor, cap|None, rate, deduction|None, max_leverage|None)`` as the exact decimal
    texts stored; ``basis``, ``contract_value``, ``contract_size`` as in :class:`TierTable` and
    the store; times in Unix seconds.
    """

    venue: str
    contract: str
    symbol: str
    rows: tuple[tuple[str | None, ...], ...]
    basis: str
    settlement: str
    contract_value: str
    contract_size: str | None
    strict_isolated: bool
    source: str
    fetched_at: float
    changed_at: float
    removed_at: float | None = None

    def tier_table(self) -> TierTable:
        """The rows as a :class:`TierTable` (floats)."""
        rows = [[None if v is None else float(v) for v in row] for row in self.rows]
        return TierTable.from_rows(rows, name=f"{self.venue} {self.contract} {self.symbol} (book)", basis=self.basis,
                                   contract_value=float(self.contract_value))


class _ShippedFile:
    """One file of ``resources/tiers``: its document, its symbols' rows, tables built on demand."""

    def __init__(self, path: Path):
        self.name = path.name
        self.doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        symbols = self.doc.get("symbols")
        if not isinstance(symbols, dict) or not symbols:
            raise TierError(f"{self.name}: no 'symbols' object")
        self.rows: dict[str, Any] = symbols
        self.basis = str(self.doc.get("basis", "notional"))
        self._tables: dict[str, TierTable] = {}

    def table(self, symbol: str) -> TierTable:
        if symbol not in self._tables:
            value = float(self.doc.get("contract_value", {}).get(symbol, 1.0))
            self._tables[symbol] = TierTable.from_rows(self.rows[symbol], name=f"{self.name} {symbol}",
                                                       basis=self.basis, contract_value=value)
        return self._tables[symbol]


class TierCatalog:
    """Tier tables, settlement currencies, contract values and sizes, fees, by venue and symbol:
    the book's tables first (when built with :meth:`with_book`), the shipped files second.

    Not thread-safe for writing, but every answer is an immutable value; the caches only fill.
    """

    def __init__(self, folder: str | Path, *, book: Iterable[BookTable] = (),
                 position_rates: Mapping[int, float] | None = None, book_key: object = None,
                 _files: dict[str, _ShippedFile | None] | None = None):
        self.folder = Path(folder)
        self._files: dict[str, _ShippedFile | None] = {} if _files is None else _files
        self._book = {(t.venue, t.contract, t.symbol): t for t in book}
        self._book_tables: dict[tuple[str, str, str], TierTable] = {}
        self.position_rates: Mapping[int, float] = MappingProxyType(dict(position_rates or {}))
        self._rate_tables: dict[float, TierTable] = {}
        self.book_key = book_key

    # -- building ---------------------------------------------------------------------------------

    def with_book(self, tables: Iterable[BookTable], position_rates: Mapping[int, float] | None = None, *,
                  key: object = None) -> TierCatalog:
        """A catalog of the same shipped files with a book's tables (and positions' own rates) first;
        ``key`` identifies the book state it was built from (see ``catalog_for``)."""
        return TierCatalog(self.folder, book=tables, position_rates=position_rates, book_key=key, _files=self._files)

    @property
    def shipped(self) -> TierCatalog:
        """The same catalog without the book's tables."""
        if not self._book and not self.position_rates:
            return self
        return TierCatalog(self.folder, _files=self._files)

    def book_table(self, venue: str, contract: str, symbol: str) -> BookTable | None:
        """The book's own table of the symbol (exact rows, source, times), or None."""
        return self._book.get((venue, contract, symbol))

    def book_tables(self) -> list[BookTable]:
        """The book's tables this catalog holds, by venue, contract and symbol."""
        return [self._book[k] for k in sorted(self._book)]

    # -- lookups ----------------------------------------------------------------------------------

    def _file(self, venue: str, contract: str) -> _ShippedFile | None:
        name = venue_rule(venue).tier_file(contract)
        if name not in self._files:
            path = self.folder / name
            self._files[name] = _ShippedFile(path) if path.is_file() else None
        shipped = self._files[name]
        if shipped is not None and shipped.doc.get("contract", contract) != contract:
            return None
        return shipped

    def contracts(self, venue: str) -> list[str]:
        """The contract kinds of ``venue`` with at least one table (book or shipped)."""
        return [c for c in sorted(venue_rule(venue).contracts) if self.symbols(venue, c)]

    def symbols(self, venue: str, contract: str) -> list[str]:
        """Every symbol of a venue and contract kind with a table, in the book or shipped."""
        shipped = self._file(venue, contract)
        names = set(shipped.rows) if shipped else set()
        names.update(s for (v, c, s) in self._book if v == venue and c == contract)
        return sorted(names)

    def has_table(self, venue: str, contract: str, symbol: str) -> bool:
        """True when the book or the shipped snapshot has a table for the symbol."""
        if (venue, contract, symbol) in self._book:
            return True
        shipped = self._file(venue, contract)
        return shipped is not None and symbol in shipped.rows

    def contract_of(self, venue: str, symbol: str) -> str:
        """The contract kind under which ``venue`` lists ``symbol`` (linear first)."""
        for contract in ("linear", "inverse"):
            if contract in venue_rule(venue).contracts and self.has_table(venue, contract, symbol):
                return contract
        kinds = venue_rule(venue).contracts
        raise self._unknown(venue, "linear" if "linear" in kinds else min(kinds), symbol)

    def table(self, venue: str, contract: str, symbol: str, *, position_id: int | None = None) -> TierTable:
        """The tier table in use: the position's own rate (one tier) when it has one, else the
        book's table, else the shipped one; :class:`UnknownSymbol` naming the way out otherwise."""
        if position_id is not None and position_id in self.position_rates:
            rate = float(self.position_rates[position_id])
            if rate not in self._rate_tables:
                self._rate_tables[rate] = TierTable.single(rate)
            return self._rate_tables[rate]
        key = (venue, contract, symbol)
        stored = self._book.get(key)
        if stored is not None:
            if key not in self._book_tables:
                self._book_tables[key] = stored.tier_table()
            return self._book_tables[key]
        shipped = self._file(venue, contract)
        if shipped is None or symbol not in shipped.rows:
            raise self._unknown(venue, contract, symbol)
        return shipped.table(symbol)

    def position_rate(self, position_id: int) -> float | None:
        """The position's own maintenance rate (fraction), or None."""
        rate = self.position_rates.get(position_id)
        return None if rate is None else float(rate)

    def settlement(self, venue: str, contract: str, symbol: str) -> str:
        """Settlement currency of the symbol (USDT, USDC, BTC…)."""
        stored = self._book.get((venue, contract, symbol))
        if stored is not None:
            return stored.settlement
        shipped = self._file(venue, contract)
        doc = shipped.doc if shipped else {}
        explicit = doc.get("settlement", {}).get(symbol)
        if explicit:
            return str(explicit)
        if doc.get("settlement_default"):
            return str(doc["settlement_default"])
        if contract == "inverse":
            return symbol.split("USD")[0] or symbol
        for quote in ("USDT", "USDC"):
            if symbol.upper().replace("-", "").replace("_", "").removesuffix("SWAP").endswith(quote):
                return quote
        return "USDC" if venue == "hyperliquid" else "USDT"

    def contract_size(self, venue: str, contract: str, symbol: str) -> float:
        """USD face value of one inverse contract (1.0 for linear contracts)."""
        if contract != "inverse":
            return 1.0
        stored = self._book.get((venue, contract, symbol))
        if stored is not None and stored.contract_size is not None:
            return float(stored.contract_size)
        shipped = self._file(venue, contract)
        return float((shipped.doc if shipped else {}).get("contract_size", {}).get(symbol, 1.0))

    def contract_value(self, venue: str, contract: str, symbol: str) -> float:
        """Base units per contract of a table counted in contracts (OKX ``ctVal``), else 1.0."""
        if not self.has_table(venue, contract, symbol):
            return 1.0
        return float(self.table(venue, contract, symbol).contract_value)

    def strict_isolated(self, venue: str, symbol: str) -> bool:
        """True when the venue lets no margin be removed from an isolated position of ``symbol``
        (Hyperliquid ``marginMode`` ``strictIsolated``, older ``onlyIsolated``)."""
        for contract in ("linear", "inverse"):
            stored = self._book.get((venue, contract, symbol))
            if stored is not None:
                return stored.strict_isolated
        for contract in sorted(venue_rule(venue).contracts):
            shipped = self._file(venue, contract)
            if shipped is not None and symbol in shipped.rows:
                return symbol in shipped.doc.get("strict_isolated", ())
        return False

    def taker_fee(self, venue: str, contract: str) -> float:
        """Default taker fee rate (fraction) the venue counts in its requirement; 0 where none."""
        if not venue_rule(venue).fee_in_requirement:
            return 0.0
        shipped = self._file(venue, contract)
        return float((shipped.doc if shipped else {}).get("taker_fee_rate", venue_rule(venue).taker_fee_rate))

    def source(self, venue: str, contract: str, symbol: str, *, position_id: int | None = None) -> TableSource:
        """Where the table :meth:`table` answers comes from, and when (UnknownSymbol if none)."""
        if position_id is not None and position_id in self.position_rates:
            return TableSource("position", None, "")
        stored = self._book.get((venue, contract, symbol))
        if stored is not None:
            return TableSource(stored.source, stored.fetched_at, utc_text(stored.fetched_at)[:10],
                               changed_at=stored.changed_at, removed_at=stored.removed_at)
        shipped = self._file(venue, contract)
        if shipped is None or symbol not in shipped.rows:
            raise self._unknown(venue, contract, symbol)
        detail = str(shipped.doc.get("symbol_sources", {}).get(symbol) or shipped.doc.get("source", ""))
        return TableSource("shipped", None, str(shipped.doc.get("as_of", "?")), detail)

    def venue_ages(self) -> dict[str, float]:
        """Venue → the oldest refresh or import time (Unix s) among the book's listed tables of it."""
        ages: dict[str, float] = {}
        for t in self._book.values():
            if t.removed_at is None:
                ages[t.venue] = min(ages.get(t.venue, math.inf), t.fetched_at)
        return ages

    def _unknown(self, venue: str, contract: str, symbol: str) -> UnknownSymbol:
        way_out = f"`isodesk tiers refresh {venue}` (or `isodesk tiers import {venue} FILE`) stores the venue's tables"
        known = self.symbols(venue, contract)
        if not known:
            return UnknownSymbol(f"symbol: {venue} {contract} has no tier table in this book or shipped; {way_out}")
        near = difflib.get_close_matches(symbol.upper(), known, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        return UnknownSymbol(f"symbol: {symbol!r} is not a {venue} {contract} symbol{hint}; "
                             f"if the venue lists it, {way_out}")
