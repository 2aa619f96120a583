"""The demo book of ``resources/demo/book.json``: accounts, free balances, positions and marks."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.margin.catalog import TierCatalog
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref


def demo_document() -> dict[str, Any]:
    """The demo book as shipped."""
    doc: dict[str, Any] = json.loads(resource_path("demo", "book.json").read_text(encoding="utf-8"))
    return doc


def demo_marks() -> dict[str, float]:
    """The demo's starting price per market (``BASEUSDT``)."""
    return {k: float(v) for k, v in demo_document()["marks"].items()}


def seed_demo(store: Store, catalog: TierCatalog, *, ts: float, path: Path | None = None) -> int:
    """Write the demo book into an empty store in one transaction; returns the positions written."""
    doc = json.loads(path.read_text(encoding="utf-8")) if path else demo_document()
    with store.transaction():
        if store.accounts() or store.positions(statuses=None):
            raise ValueError("the demo book goes only into an empty database")
        accounts = {}
        for a in doc["accounts"]:
            account = store.create_account(a["name"], a["venue"], a["currency"], ts=ts)
            accounts[a["venue"], a["currency"]] = account
            store.transfer(Decimal(a["free_balance"]), EXTERNAL, free_ref(account.id), kind="deposit", ts=ts,
                           account_id=account.id, memo="demo book")
        for p in doc["positions"]:
            contract = p.get("contract", "linear")
            account = accounts[p["venue"], catalog.settlement(p["venue"], contract, p["symbol"])]
            pid = store.insert_position(
                label=p["label"], account_id=account.id, venue=p["venue"], symbol=p["symbol"], contract=contract,
                side=p["side"], quantity=Decimal(p["quantity"]),
                contract_size=Decimal(p.get("contract_size", "1")) if contract == "inverse" else None,
                entry_price=Decimal(p["entry_price"]), leverage=Decimal(p["leverage"]), ts=ts)
            store.transfer(Decimal(p["isolated_margin"]), EXTERNAL, position_ref(pid), kind="import", ts=ts,
                           account_id=account.id, memo="demo book")
        store.insert_prices([(ts, symbol, float(price)) for symbol, price in doc["marks"].items()], source="demo")
    return len(doc["positions"])
