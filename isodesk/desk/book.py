"""The book as the engine sees it: store records turned into one PositionBatch plus row metadata.

Rebuilt only when positions are added, removed, re-margined or change status; a price tick never
rebuilds it. Liquidated positions stay in the book (shown stamped) with the margin they held
when liquidated and the mark they were liquidated at. The :data:`RECENT_CLOSED` most recently
closed positions stay too, frozen the same way (the margin they held when closed, their close
price as mark), so the views can find them (the live view's "closed" filter); they are never
marked, levelled, alerted or liquidated: like a liquidated row, a closed row is not open.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from isodesk.desk.snapshot import BookInfo, frozen
from isodesk.margin import Position, PositionBatch, PriceLevels, TierTable
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import price_levels
from isodesk.margin.markets import PriceKey, market_of
from isodesk.store.records import Account, LedgerEntry, PositionRecord

if TYPE_CHECKING:
    from isodesk.store import Store

RECENT_CLOSED = 100
"""How many closed positions (the most recently closed) the book keeps for the views to find."""


@dataclass(frozen=True, slots=True)
class LoadedBook:
    """Engine inputs and row metadata for the open, liquidated and recently closed positions, in one
    row order (``open_rows`` marks the open ones)."""

    records: tuple[PositionRecord, ...]
    positions: tuple[Position, ...]
    batch: PositionBatch
    levels: PriceLevels
    info: BookInfo
    markets: tuple[str, ...]
    market_index: np.ndarray      # intp per row, into ``markets``
    series: tuple[PriceKey, ...]  # the positions' own price series (venue, market), sorted
    series_index: np.ndarray      # intp per row, into ``series``
    open_rows: np.ndarray          # bool per row
    frozen_mark: np.ndarray        # float per row: liquidation mark or close price of a row not open, NaN otherwise
    frozen_ts: np.ndarray          # float per row
    margins: tuple[Decimal, ...]   # exact isolated margin per row (when it left: at liquidation or close)
    margin_values: np.ndarray      # the same as float64, for display
    quantities: np.ndarray         # float64 per row (contracts for inverse)
    account_rows: dict[str, np.ndarray]  # account name → its open rows
    venue_liquidation: np.ndarray  # float64 per row: the venue's liquidation price at the last import, NaN if none

    def __len__(self) -> int:
        return len(self.records)

    def row_of(self, position_id: int) -> int | None:
        """Row index of a position id, or None."""
        return self.info.row_of(position_id)


def engine_position(record: PositionRecord, catalog: TierCatalog, margin: Decimal) -> Position:
    """The engine's view of a stored position, with the venue's tiers (or its own rate) and fee."""
    return _engine_position(record, margin, catalog.table(record.venue, record.contract, record.symbol,
                                                          position_id=record.id),
                            catalog.taker_fee(record.venue, record.contract))


def _engine_position(record: PositionRecord, margin: Decimal, tiers: TierTable, fee: float) -> Position:
    """The engine's view of ``record`` holding ``margin`` (account currency), valued on ``tiers`` with
    the taker fee rate ``fee``."""
    return Position(
        venue=record.venue, side=record.side, contract=record.contract, entry_price=float(record.entry_price),
        quantity=float(record.quantity),
        contract_size=float(record.contract_size) if record.contract_size is not None else 1.0,
        isolated_margin=float(margin), leverage=float(record.leverage), taker_fee_rate=fee, tiers=tiers,
        symbol=record.symbol, label=record.label)


def engine_positions(records: Sequence[PositionRecord], catalog: TierCatalog, margins: Sequence[Decimal]
                     ) -> tuple[Position, ...]:
    """What :func:`engine_position` gives for each of ``records`` with its margin (account currency)
    in ``margins``, the venue's tier table and taker fee looked up once per market and per venue
    (the catalog's answers are the same objects each time; a position with its own rate asks it
    each time)."""
    tables: dict[tuple[str, str, str], TierTable] = {}
    fees: dict[tuple[str, str], float] = {}
    own_rates = catalog.position_rates
    out = []
    for record, margin in zip(records, margins, strict=True):
        venue, contract, symbol = record.venue, record.contract, record.symbol
        if record.id in own_rates:
            tiers = catalog.table(venue, contract, symbol, position_id=record.id)
        else:
            key = (venue, contract, symbol)
            found = tables.get(key)
            if found is None:
                found = tables[key] = catalog.table(venue, contract, symbol, position_id=record.id)
            tiers = found
        fee = fees.get((venue, contract))
        if fee is None:
            fee = fees[(venue, contract)] = catalog.taker_fee(venue, contract)
        out.append(_engine_position(record, margin, tiers, fee))
    return tuple(out)


def load_book(records: Sequence[PositionRecord], accounts: Sequence[Account], catalog: TierCatalog,
              liquidated_margins: dict[int, Decimal],
              venue_liquidation: dict[int, float] | None = None,
              auto_add_margin: dict[int, bool] | None = None,
              adl_rank: dict[int, int] | None = None) -> LoadedBook:
    """Build the book from open, liquidated and closed records (``liquidated_margins``: the margin each
    position that is not open held when it left, by id; ``venue_liquidation``: the venue's reported
    liquidation price per position id, if imported; ``auto_add_margin``: the venue's auto-add-margin
    flag per position id, where an import reported one; ``adl_rank``: the venue's auto-deleveraging
    rank per position id, 0–5, where an import reported one)."""
    by_account = {a.id: a for a in accounts}
    margins = tuple(liquidated_margins.get(r.id, r.isolated_margin) if r.status != "open"
                    else r.isolated_margin for r in records)
    # A position with no margin left (only possible when liquidated with nothing held) still needs
    # a positive engine margin; its figures are frozen anyway.
    positions = engine_positions(records, catalog, [m if m > 0 else Decimal("1e-12") for m in margins])
    batch = PositionBatch.from_positions(positions, validate=False)
    market_names: dict[tuple[str, str], str] = {}  # market_of once per (venue, symbol)
    markets_of_rows = []
    for r in records:
        name = market_names.get((r.venue, r.symbol))
        if name is None:
            name = market_names[(r.venue, r.symbol)] = market_of(r.venue, r.symbol)
        markets_of_rows.append(name)
    markets = tuple(sorted(set(markets_of_rows)))
    lookup = {m: i for i, m in enumerate(markets)}
    series_of_rows = [(r.venue, m) for r, m in zip(records, markets_of_rows, strict=True)]
    series = tuple(sorted(set(series_of_rows)))
    series_lookup = {k: i for i, k in enumerate(series)}
    gone = [r.status != "open" for r in records]
    flags = auto_add_margin or {}
    info = BookInfo(
        position_ids=frozen(np.array([r.id for r in records], dtype=np.int64)),
        labels=tuple(r.label for r in records), symbols=tuple(r.symbol for r in records),
        venues=tuple(r.venue for r in records), sides=tuple(r.side for r in records),
        contracts=tuple(r.contract for r in records),
        accounts=tuple(by_account[r.account_id].name for r in records),
        currencies=tuple(by_account[r.account_id].currency for r in records),
        statuses=tuple(r.status for r in records),
        auto_add_margin=tuple(flags.get(r.id) for r in records),
        adl_rank=tuple((adl_rank or {}).get(r.id) for r in records),
    )
    return LoadedBook(
        records=tuple(records), positions=positions, batch=batch, levels=price_levels(batch), info=info,
        markets=markets, market_index=np.array([lookup[m] for m in markets_of_rows], dtype=np.intp),
        series=series, series_index=np.array([series_lookup[k] for k in series_of_rows], dtype=np.intp),
        open_rows=~np.array(gone, dtype=bool),
        frozen_mark=np.array([float(r.close_price) if r.status != "open" and r.close_price else math.nan
                              for r in records]),
        frozen_ts=np.array([r.closed_at if r.status != "open" and r.closed_at else math.nan
                            for r in records]),
        margins=margins,
        margin_values=frozen(np.array([float(m) for m in margins], dtype=np.float64)),
        quantities=frozen(np.array([float(r.quantity) for r in records], dtype=np.float64)),
        account_rows={a.name: frozen(np.flatnonzero(
            np.array([by_account[r.account_id].name == a.name and r.status == "open" for r in records], dtype=bool)))
            for a in accounts},
        venue_liquidation=frozen(np.array([(venue_liquidation or {}).get(r.id, math.nan) for r in records],
                                          dtype=np.float64)),
    )


def liquidated_margins(entries: Iterable[LedgerEntry], liquidated: Container[int]) -> dict[int, Decimal]:
    """The margin each position of ``liquidated`` held when it was liquidated: the sum of its
    ``liquidation`` ledger movements among ``entries`` (settlement currency, exact); a position
    with none is absent."""
    margins: dict[int, Decimal] = {}
    for entry in entries:
        position_id = entry.position_id
        if entry.kind == "liquidation" and position_id is not None and position_id in liquidated:
            margins[position_id] = margins.get(position_id, Decimal(0)) + entry.amount
    return margins


def read_book(store: Store, catalog: TierCatalog, *, recent_closed: int = RECENT_CLOSED) -> LoadedBook:
    """The desk's book read from ``store``: the open and liquidated positions, then the
    ``recent_closed`` most recently closed ones (oldest id first), each position that is not open
    with the margin it held when it left (a liquidation's ledger movement; a close's last journal
    entry), and what the latest venue import said (its liquidation price, its auto-add-margin flag)."""
    records = store.positions(statuses=("open", "liquidated"))
    liquidated = {r.id for r in records if r.status == "liquidated"}
    margins = liquidated_margins(store.ledger(), liquidated) if liquidated else {}
    closed = store.recently_closed(recent_closed) if recent_closed > 0 else []
    for record, held in closed:
        margins[record.id] = held
    reports = store.latest_venue_reports()
    venue_liq = {pid: float(r.venue_liquidation_price) for pid, r in reports.items()
                 if r.venue_liquidation_price is not None}
    auto_add = {pid: r.auto_add_margin for pid, r in reports.items() if r.auto_add_margin is not None}
    adl = {pid: r.adl_rank for pid, r in reports.items() if r.adl_rank is not None}
    return load_book([*records, *(r for r, _ in closed)], store.accounts(), catalog, margins, venue_liq, auto_add,
                     adl)
