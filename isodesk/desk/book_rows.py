"""The desk's book with a few rows re-read from the store, instead of the whole book.

After a liquidation (whole or partial) or any event that changes some positions and no others,
re-reading every position (:func:`~isodesk.desk.book.read_book`) costs what the book costs: about
0.1 s at 1,000 positions and over 1 s at 10,000, once per liquidation step of a replay. The rows
the desk changed are re-read by id here; every other row is kept as it is. The result is exactly
the :class:`~isodesk.desk.book.LoadedBook` that :func:`read_book` would give (the tests hold the
two together), or ``None`` where a row cannot be refreshed in place (a position the book does not
hold, or one that became closed and so moves to the book's closed part): then read the whole book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from isodesk.desk.book import LoadedBook, engine_position, liquidated_margins
from isodesk.desk.snapshot import frozen
from isodesk.margin import Position, PositionBatch
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import price_levels

if TYPE_CHECKING:
    from isodesk.store import PositionRecord, Store

_IN_PLACE = ("open", "liquidated")  # statuses whose rows keep their place (open and liquidated come by id)


def refreshed_book(book: LoadedBook, store: Store, catalog: TierCatalog, position_ids: Iterable[int], *,
                   known: Mapping[int, tuple[PositionRecord, Decimal]] | None = None) -> LoadedBook | None:
    """``book`` with the positions ``position_ids`` re-read from ``store`` (status, quantity, margin,
    leverage: everything :func:`read_book` reads of a position; money exact, prices quote per coin);
    None when one of them cannot be refreshed in place (read the whole book instead).

    ``known``: positions whose record and book margin the caller has just written in this
    process (the desk's whole liquidations, :func:`isodesk.desk.desk._liquidated_record`), taken
    as given instead of read back; the others of ``position_ids`` are read."""
    wanted = sorted({int(p) for p in position_ids})
    if not wanted:
        return book
    records = list(book.records)
    positions = list(book.positions)
    margins = list(book.margins)
    rows: list[int] = []
    given = known or {}
    unknown = [p for p in wanted if p not in given]
    # one pass for all of them (a step may liquidate thousands)
    fresh = store.positions_by_id(unknown) if unknown else {}
    liquidated = {p for p, r in fresh.items() if r.status == "liquidated"}
    moved = liquidated_margins(store.position_ledgers(liquidated), liquidated) if liquidated else {}
    for position_id, (written, held) in given.items():  # never among the ones read
        fresh[position_id] = written
        moved[position_id] = held
    for position_id in wanted:
        row = book.row_of(position_id)
        record = fresh.get(position_id)
        if row is None or record is None or record.status not in _IN_PLACE \
                or records[row].status not in _IN_PLACE:
            return None
        # the margin read_book gives a row: an open position's ledger balance; a liquidated one's, the
        # sum of its liquidation movements (the balance if it has none)
        margin = moved.get(record.id, record.isolated_margin) if record.status == "liquidated" \
            else record.isolated_margin  # (a known one: its margin as given, in moved)
        old = records[row]
        records[row] = record
        if not (position_id in given and margin == margins[row] and _same_engine_inputs(old, record)):
            positions[row] = engine_position(record, catalog, margin if margin > 0 else Decimal("1e-12"))
        # (else the engine's view is the one it had: a whole liquidation moves status and margin only)
        margins[row] = margin
        rows.append(row)
    batch = _spliced(book, positions, rows)
    status_list = list(book.info.statuses)
    gone = ~book.open_rows  # (open_rows is ~(status != "open") of the statuses it was built with)
    for row in rows:
        status = records[row].status
        status_list[row] = status
        gone[row] = status != "open"
    statuses = tuple(status_list)
    info = book.info if statuses == book.info.statuses else replace(book.info, statuses=statuses)
    frozen_mark = book.frozen_mark.copy()
    frozen_ts = book.frozen_ts.copy()
    margin_values = np.array(book.margin_values, dtype=np.float64)
    quantities = np.array(book.quantities, dtype=np.float64)
    for row in rows:
        r = records[row]
        frozen_mark[row] = float(r.close_price) if r.status != "open" and r.close_price else np.nan
        frozen_ts[row] = r.closed_at if r.status != "open" and r.closed_at else np.nan
        margin_values[row] = float(margins[row])
        quantities[row] = float(r.quantity)
    names = np.array(info.accounts, dtype=object)
    account_rows = {name: frozen(np.flatnonzero((names == name) & ~gone)) for name in book.account_rows}
    return replace(book, records=tuple(records), positions=tuple(positions), batch=batch,
                   levels=book.levels if batch is book.batch else price_levels(batch), info=info, open_rows=~gone,
                   frozen_mark=frozen_mark, frozen_ts=frozen_ts, margins=tuple(margins),
                   margin_values=frozen(margin_values), quantities=frozen(quantities), account_rows=account_rows)


def _same_engine_inputs(old: PositionRecord, new: PositionRecord) -> bool:
    """Whether :func:`~isodesk.desk.book.engine_position` reads the same of ``new`` as of ``old``
    (besides the margin, which the caller compares): venue, market, side, size, prices, leverage."""
    return (old.id, old.venue, old.symbol, old.contract, old.side, old.quantity, old.contract_size, old.entry_price,
            old.leverage, old.label) == (new.id, new.venue, new.symbol, new.contract, new.side, new.quantity,
                                         new.contract_size, new.entry_price, new.leverage, new.label)


def _spliced(book: LoadedBook, positions: list[Position], rows: list[int]) -> PositionBatch:
    """The engine batch of ``positions``: the old one when the changed rows' engine inputs did not
    change (a whole liquidation freezes the row as it was), the old one with those rows replaced
    when their tier tables are the same objects, else built anew."""
    if any(positions[row].tiers is not book.positions[row].tiers for row in rows):
        return PositionBatch.from_positions(positions, validate=False)  # (tables compare by identity)
    changed = [row for row in rows if positions[row] != book.positions[row]]
    if not changed:
        return book.batch
    one = PositionBatch.from_positions([positions[row] for row in changed], validate=False)
    at = np.array(changed, dtype=np.intp)
    arrays: dict[str, np.ndarray] = {}
    for name in ("side", "inverse", "size", "entry", "margin", "leverage", "fee_rate", "bust_fee_rate", "contracts",
                 "requirement", "removable"):
        column = np.array(getattr(book.batch, name), copy=True)
        column[at] = getattr(one, name)
        arrays[name] = column
    return book.batch.replace(**arrays)
