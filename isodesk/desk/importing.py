"""Importing a position file into the book: the file's own checks plus the engine's.

Rows are checked by ``isodesk.store.portfolio_io`` (columns, numbers, labels) and here against
the venue: a known symbol with shipped tiers, a leverage its bracket allows, a position the engine
can compute. A row without an account goes to the venue wallet of its settlement currency
(``binance-usdm:USDT``); inverse rows without a contract size get the venue's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from isodesk.desk.operations import account_name, decimal_of
from isodesk.margin import Position, problems
from isodesk.margin.catalog import TierCatalog, UnknownSymbol
from isodesk.store import Store
from isodesk.store.portfolio_io import PositionSpec, import_positions, read_positions

FIELD_TO_COLUMN = {"entry_price": "entry_price", "quantity": "quantity", "isolated_margin": "isolated_margin",
                   "leverage": "leverage", "venue": "venue", "contract": "contract", "side": "side"}


def venue_validator(catalog: TierCatalog) -> Callable[[dict[str, Any]], list[tuple[str, str]]]:
    """A row check for ``read_positions``: symbol, tiers, bracket leverage, engine validity."""

    def validate(row: dict[str, Any]) -> list[tuple[str, str]]:
        venue, contract, symbol = row["venue"], row["contract"], row["symbol"]
        if venue == "custom":
            return [("venue", "custom venues need tiers typed in the app; they cannot be imported from a file")]
        try:
            tiers = catalog.table(venue, contract, symbol)
        except UnknownSymbol as exc:
            return [("symbol", str(exc).removeprefix("symbol: "))]
        size = row.get("contract_size") or decimal_of(catalog.contract_size(venue, contract, symbol))
        position = Position(venue=venue, side=row["side"], contract=contract, entry_price=float(row["entry_price"]),
                            quantity=float(row["quantity"]), contract_size=float(size),
                            isolated_margin=float(row["isolated_margin"]), leverage=float(row["leverage"]),
                            tiers=tiers, symbol=symbol, label=row["label"])
        return [(FIELD_TO_COLUMN.get(f, f), m) for f, m in problems(position)]

    return validate


def read_book_file(path: str | Path, catalog: TierCatalog) -> list[PositionSpec]:
    """Every position of a CSV/JSON file, checked, with accounts and contract sizes filled in.

    Raises :class:`~isodesk.store.portfolio_io.ImportProblems` listing every bad row and column.
    """
    specs = read_positions(path, venue_validator(catalog))
    filled = []
    for spec in specs:
        size = spec.contract_size
        if spec.contract == "inverse" and size is None:
            size = decimal_of(catalog.contract_size(spec.venue, spec.contract, spec.symbol))
        account = spec.account or account_name(spec.venue, catalog.settlement(spec.venue, spec.contract, spec.symbol))
        filled.append(dataclasses.replace(spec, contract_size=size, account=account))
    return filled


def import_book_file(store: Store, path: str | Path, catalog: TierCatalog, *, ts: float) -> list[int]:
    """Read, check and import a position file in one transaction; returns the new position ids."""
    specs = read_book_file(path, catalog)
    return import_positions(store, specs, ts=ts, default_account=specs[0].account if specs else "",
                            currency_of=lambda spec: catalog.settlement(spec.venue, spec.contract, spec.symbol))
