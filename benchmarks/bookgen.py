"""A synthetic book for the benchmarks: N Binance positions over ten markets."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from isodesk.margin.catalog import TierCatalog
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref

SYMBOLS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15,
           "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LINKUSDT": 14.0, "AVAXUSDT": 30.0, "LTCUSDT": 80.0}


def make_book(path: Path, n: int) -> None:
    """A database with ``n`` Binance positions spread over a few markets, 3–30 % from liquidation."""
    cat = TierCatalog(resource_path("tiers"))
    store = Store.open(path)
    now = time.time()
    with store.transaction():
        account = store.create_account("binance-usdm:USDT", "binance-usdm", "USDT", ts=now)
        store.transfer(Decimal("1000000"), EXTERNAL, free_ref(account.id), kind="deposit", ts=now,
                       account_id=account.id)
        symbols = list(SYMBOLS)
        for i in range(n):
            symbol = symbols[i % len(symbols)]
            cat.table("binance-usdm", "linear", symbol)
            price = Decimal(repr(SYMBOLS[symbol]))
            qty = (Decimal(1000 + 37 * (i % 50)) / price).quantize(Decimal("0.001"))
            lev = 3 + i % 25
            margin = (qty * price / lev).quantize(Decimal("0.01"))
            pid = store.insert_position(label=f"p{i:05d}", account_id=account.id, venue="binance-usdm",
                                        symbol=symbol, contract="linear", side="long" if i % 2 else "short",
                                        quantity=qty, contract_size=None, entry_price=price, leverage=Decimal(lev),
                                        ts=now)
            store.transfer(margin, EXTERNAL, position_ref(pid), kind="import", ts=now, account_id=account.id)
        store.insert_prices([(now, s, p) for s, p in SYMBOLS.items()], source="bench")
    store.close()
