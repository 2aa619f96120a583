"""Importing a position file into the book: the file's own checks plus the engine's.

Rows are checked by ``isodesk.store.portfolio_io`` (columns, and every number and text within
``isodesk.margin.bounds``) and here against the venue: a symbol with a tier table (the book's, from
``isodesk tiers refresh``/``import``, else the shipped snapshot) or a row ``mmr`` (the trader's own
maintenance rate, then the position's single-tier table), a leverage its bracket allows, a position
the engine can compute, and one not already past its liquidation price at the mark (the latest
price of its market stored in the book, else its entry price; the desk would liquidate it on its
first tick). A row without an account goes to the venue wallet of its settlement currency
(``binance-usdm:USDT``); inverse rows without a contract size get the venue's (a row with its own
``mmr`` on a symbol without a table must give its ``contract_size``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from isodesk.desk.operations import account_name, decimal_of
from isodesk.margin import Position, compute_one, problems
from isodesk.margin.bounds import price_in_bounds
from isodesk.margin.catalog import TierCatalog, UnknownSymbol
from isodesk.margin.markets import market_of
from isodesk.margin.tiers import TierTable
from isodesk.store import Store
from isodesk.store.portfolio_io import PositionSpec, import_positions, read_positions

FIELD_TO_COLUMN = {"entry_price": "entry_price", "quantity": "quantity", "isolated_margin": "isolated_margin",
                   "leverage": "leverage", "venue": "venue", "contract": "contract", "side": "side"}


def venue_validator(catalog: TierCatalog, marks: Mapping[str, float] | None = None
                    ) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    """A row check for ``read_positions``: symbol, tiers, bracket leverage, engine validity, and not
    already past its liquidation price at the mark (``marks``: market → latest stored price; a
    market without a usable one is marked at the row's entry price)."""

    def validate(row: dict[str, Any]) -> list[tuple[str, str]]:
        venue, contract, symbol = row["venue"], row["contract"], row["symbol"]
        if venue == "custom":
            return [("venue", "custom venues need tiers typed in the app; they cannot be imported from a file")]
        known = catalog.has_table(venue, contract, symbol)
        if row.get("mmr") is not None:
            tiers = TierTable.single(float(row["mmr"]))
            if contract == "inverse" and not known and row.get("contract_size") is None:
                return [("contract_size", f"give the USD value of one contract: {venue} has no table for {symbol!r} "
                                          "to take it from")]
        else:
            try:
                tiers = catalog.table(venue, contract, symbol)
            except UnknownSymbol as exc:
                return [("symbol", str(exc).removeprefix("symbol: ") + "; or give the row an mmr column with "
                                   "your own maintenance rate (0.01 = 1 %)")]
        size = row.get("contract_size") or decimal_of(catalog.contract_size(venue, contract, symbol))
        position = Position(venue=venue, side=row["side"], contract=contract, entry_price=float(row["entry_price"]),
                            quantity=float(row["quantity"]), contract_size=float(size),
                            isolated_margin=float(row["isolated_margin"]), leverage=float(row["leverage"]),
                            taker_fee_rate=catalog.taker_fee(venue, contract), tiers=tiers, symbol=symbol,
                            label=row["label"])
        found = [(FIELD_TO_COLUMN.get(f, f), m) for f, m in problems(position)]
        market = market_of(venue, symbol)
        return found or _past_liquidation(position, market, (marks or {}).get(market))

    return validate


def _past_liquidation(position: Position, market: str, stored: float | None) -> list[tuple[str, str]]:
    """The row's problem if the engine puts it at or past its liquidation price at the mark (the
    desk's own test: distance to liquidation <= 0), naming both prices; none otherwise."""
    if stored is not None and price_in_bounds(stored):
        mark, whose = stored, f"the latest stored {market} price"
    else:
        mark, whose = position.entry_price, f"its entry price; no {market} price is stored"
    risk = compute_one(position, mark)
    if risk.distance_price is None or risk.distance_price > 0:
        return []
    liq = "—" if risk.liquidation_price is None else f"{risk.liquidation_price:,.8g}"
    return [("isolated_margin", f"the {position.side} is already past its liquidation price {liq} at the mark "
                                f"{mark:,.8g} ({whose}); the desk would liquidate it at once")]


def read_book_file(path: str | Path, catalog: TierCatalog,
                   marks: Mapping[str, float] | None = None) -> list[PositionSpec]:
    """Every position of a CSV/JSON file, checked, with accounts and contract sizes filled in
    (``marks``: market → latest price, for the liquidation check).

    Raises :class:`~isodesk.store.portfolio_io.ImportProblems` listing every bad row and column.
    """
    specs = read_positions(path, venue_validator(catalog, marks))
    filled = []
    for spec in specs:
        size = spec.contract_size
        if spec.contract == "inverse" and size is None:
            size = decimal_of(catalog.contract_size(spec.venue, spec.contract, spec.symbol))
        account = spec.account or account_name(spec.venue, catalog.settlement(spec.venue, spec.contract, spec.symbol))
        filled.append(dataclasses.replace(spec, contract_size=size, account=account))
    return filled


def import_book_file(store: Store, path: str | Path, catalog: TierCatalog, *, ts: float) -> list[int]:
    """Read, check and import a position file in one transaction; returns the new position ids.

    Each row is marked by the latest price of its market stored in ``store`` (else its entry price)."""
    marks = {market: price for market, (_ts, price) in store.latest_prices().items()}
    specs = read_book_file(path, catalog, marks)
    return import_positions(store, specs, ts=ts, default_account=(specs[0].account or "") if specs else "",
                            currency_of=lambda spec: catalog.settlement(spec.venue, spec.contract, spec.symbol))
