"""Storing a venue's tier tables in the book (:class:`~isodesk.desk.commands.StoreTierTables`), with
an alert on every open position whose table in use changed.

Runs inside the desk's transaction of the command: the tables are saved
(:func:`isodesk.store.tier_tables.save_tier_tables`), each open position of the venue is computed
with the catalog before and after, and where the table in use differs an alert names the old and
new maintenance rate (of the tier the position is on at its mark) and liquidation price, e.g.
``bybit changed ETHUSDT tiers: maintenance 1.0 % → 1.5 %, liquidation price 2,701.3 → 2,733.8``.
The desk then reloads its book, so every figure is recomputed with the new tables.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from isodesk.desk.book import engine_position
from isodesk.desk.commands import CommandRejected, StoreTierTables
from isodesk.desk.events import EventKind, PositionEvent
from isodesk.desk.operations import Outcome
from isodesk.margin import PositionError, compute_one
from isodesk.margin.catalog import TierCatalog, UnknownSymbol
from isodesk.margin.tiers import TierTable
from isodesk.store.records import PositionRecord
from isodesk.store.tier_tables import SaveReport, catalog_for, save_tier_tables
from isodesk.venues.tier_bodies import VENUES, TierBodyError, VenueTierTable, table_from_json

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk

SOURCES = ("refresh", "import")
ALERT_KIND = "tiers_changed"


def store_tier_tables(desk: Desk, cmd: StoreTierTables, ts: float) -> Outcome:
    """Validate and store the command's tables (one transaction, the caller's), alert on the open
    positions whose table changed; the outcome's message is the summary of what changed."""
    if cmd.venue not in VENUES:
        raise CommandRejected(f"venue: {cmd.venue!r} has no tier tables to store; use one of {', '.join(VENUES)}")
    if cmd.source not in SOURCES:
        raise CommandRejected(f"source: {cmd.source!r} is not one of {', '.join(SOURCES)}")
    if not (isinstance(cmd.fetched_at, (int, float)) and math.isfinite(cmd.fetched_at)):
        raise CommandRejected(f"fetched_at: {cmd.fetched_at!r} is not a time")
    tables = _tables(cmd)
    before = desk.catalog
    with desk.store.transaction():
        report = save_tier_tables(desk.store, tables, cmd.source, float(cmd.fetched_at),
                                  complete_venue=cmd.venue if cmd.complete else None)
        after = catalog_for(desk.store, before)
        alerts = [_alert(desk, record, before, after, ts) for record in desk.store.positions(("open",))
                  if record.venue == cmd.venue]
    said = [a for a in alerts if a]
    message = f"{cmd.venue}: {report.summary()}"
    if said:
        message += "\n" + "\n".join(said)
    return Outcome(message, book_changed=True)


def _tables(cmd: StoreTierTables) -> list[VenueTierTable]:
    if not isinstance(cmd.tables, (list, tuple)):
        raise CommandRejected("tables: expected a list of tier tables")
    try:
        tables = [table_from_json(doc) for doc in cmd.tables]
    except TierBodyError as exc:
        raise CommandRejected(f"nothing stored: {exc}") from None
    wrong = [t.symbol for t in tables if t.venue != cmd.venue]
    if wrong:
        raise CommandRejected(f"nothing stored: {', '.join(wrong[:5])} not of {cmd.venue}")
    return tables


def _alert(desk: Desk, record: PositionRecord, before: TierCatalog, after: TierCatalog, ts: float) -> str:
    """Record the alert of one position if its table in use changed; its message, or ``""``."""
    old_table = _table_or_none(before, record)
    new_table = _table_or_none(after, record)
    if new_table is None or (old_table is not None and old_table.same_rows(new_table)):
        return ""
    mark = desk.market_price(record.venue, record.symbol)
    mark = float(record.entry_price) if mark is None or not math.isfinite(mark) else mark
    try:
        new_risk = compute_one(engine_position(record, after, record.isolated_margin), mark)
        old_risk = compute_one(engine_position(record, before, record.isolated_margin), mark) if old_table else None
    except (PositionError, UnknownSymbol, ValueError):
        return ""
    new_rate = float(new_table.mmr[new_risk.tier])
    old_rate = float(old_table.mmr[old_risk.tier]) if old_table is not None and old_risk is not None else None
    old_liq = old_risk.liquidation_price if old_risk is not None else None
    new_liq = new_risk.liquidation_price
    message = (f"{record.venue} changed {record.symbol} tiers: maintenance {_pct(old_rate)} → {_pct(new_rate)}, "
               f"liquidation price {_price(old_liq)} → {_price(new_liq)}")
    closer = (new_liq is not None and (old_liq is None or abs(mark - new_liq) < abs(mark - old_liq)))
    level = "warning" if closer else "safe"
    alert_id = desk.store.add_alert(ts=ts, position_id=record.id, level=level, kind=ALERT_KIND, message=message)
    desk.note_event(PositionEvent(kind=EventKind.TIERS, position_id=record.id, label=record.label,
                                  symbol=record.symbol, level=level, previous="", ts=ts, price=mark,
                                  message=message, alert_id=alert_id))
    return f"{record.label}: {message}"


def _table_or_none(catalog: TierCatalog, record: PositionRecord) -> TierTable | None:
    try:
        return catalog.table(record.venue, record.contract, record.symbol, position_id=record.id)
    except UnknownSymbol:
        return None


def _pct(rate: float | None) -> str:
    """A rate as a percentage with at least one decimal: 0.01 → ``1.0 %``, 0.0056 → ``0.56 %``."""
    if rate is None:
        return "none"
    text = f"{rate * 100:.4f}".rstrip("0")
    return (text + "0" if text.endswith(".") else text) + " %"


def _price(price: float | None) -> str:
    """A liquidation price with six significant digits and thousands separators (``2,701.3``)."""
    if price is None or not math.isfinite(price):
        return "none"
    return f"{price:,.0f}" if abs(price) >= 1e6 else f"{price:,.6g}"


__all__ = ["ALERT_KIND", "SaveReport", "store_tier_tables"]
