"""Venue tier answers in each venue's documented envelope, built from the real records kept in
``tests/venues/tier_recorded`` (copies of ``../shared/reference/venue-tiers``), for the parser,
store and command-line tests. Every builder returns fresh objects a test may edit.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parent / "tier_recorded"


def recorded(name: str) -> Any:
    """One file of ``tier_recorded``, parsed (numbers as the file writes them)."""
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))


def bybit_records() -> dict[str, list[dict[str, Any]]]:
    """Bybit's linear risk-limit records by symbol (BTC/ETH/SOL/XRP USDT and BTCPERP), 2025-12-29."""
    symbols = dict(recorded("bybit-linear-risk-limit-2025-12-29.json")["symbols"])
    symbols["BTCPERP"] = recorded("bybit_v5_risk-limit_linear_BTCPERP_USDC_2025-12-29_list.json")
    return copy.deepcopy(symbols)


def bybit_body(records: list[dict[str, Any]], category: str = "linear", cursor: str = "") -> dict[str, Any]:
    """Bybit V5's envelope around risk-limit records."""
    return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": records, "nextPageCursor": cursor},
            "retExtInfo": {}, "time": 1767000000000}


def okx_records() -> dict[str, list[dict[str, Any]]]:
    """OKX's SWAP position-tier records by instrument family (BTC/ETH/SOL/XRP-USDT), 2025-12-29."""
    return copy.deepcopy(recorded("okx-swap-position-tiers-2025-12-29.json")["symbols"])


def okx_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    """OKX's envelope around position-tier records."""
    return {"code": "0", "msg": "", "data": records}


def okx_instruments() -> dict[str, Any]:
    """OKX's real instruments answer: BTC-USD-SWAP (inverse, 100 USD), ETH-USDT-SWAP (0.1 ETH),
    BTC-USDT-SWAP (0.01 BTC)."""
    return recorded("okx_public_instruments_SWAP_BTC-USD_ETH-USDT_BTC-USDT_nautilus.json")


def binance_usdm_body() -> list[dict[str, Any]]:
    """Binance USDⓈ-M ``/fapi/v1/leverageBracket``: BTCUSDT, ETHUSDT, SOLUSDT (values as strings),
    freqtrade's 2024-10 cache keyed by ccxt symbol turned into Binance's own list."""
    cache = recorded("binance_fapi_leverageBracket_BTC-ETH-SOL-USDT_2024-10_freqtrade-info.json")
    return [{"symbol": key.split(":")[0].replace("/", ""), "brackets": copy.deepcopy(brackets)}
            for key, brackets in cache.items()]


def binance_coinm_body() -> list[dict[str, Any]]:
    """Binance COIN-M ``/dapi/v2/leverageBracket``: the real FILUSD_210625 answer (JSON numbers,
    last ``qtyCap`` 2^63−1 as an integer)."""
    return [recorded("binance_dapi_v2_leverageBracket_FILUSD_210625_2021_ISSUE-FRAGMENT.json")]


def hyperliquid_docs_meta() -> dict[str, Any]:
    """Hyperliquid's ``meta`` documentation example (no ``marginTableId``; ``onlyIsolated``)."""
    return recorded("hl_info_meta_DOCS-EXAMPLE_marginTables.json")


#: Hyperliquid's published mainnet tiers (docs "Margin tiers"): BTC, and the shared 10×/5× table.
HL_BTC_TIERS = [{"lowerBound": "0", "maxLeverage": 40}, {"lowerBound": "150000000", "maxLeverage": 20}]
HL_SHARED_TIERS = [{"lowerBound": "0", "maxLeverage": 10}, {"lowerBound": "20000000", "maxLeverage": 5}]


def hyperliquid_meta() -> dict[str, Any]:
    """A ``meta`` in the current shape (``marginTableId``, ``marginMode``) with the published tiers:
    BTC on table 56, DOGE on table 52, a HIP-3 ``xyz:TSLA`` strict-isolated on the single-tier id
    10, HYPE ``noCross`` on id 5."""
    return {"universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 40, "marginTableId": 56},
        {"name": "DOGE", "szDecimals": 0, "maxLeverage": 10, "marginTableId": 52},
        {"name": "xyz:TSLA", "szDecimals": 3, "maxLeverage": 10, "marginTableId": 10, "marginMode": "strictIsolated"},
        {"name": "HYPE", "szDecimals": 2, "maxLeverage": 5, "marginTableId": 5, "marginMode": "noCross"},
    ], "marginTables": [[56, {"description": "BTC", "marginTiers": copy.deepcopy(HL_BTC_TIERS)}],
                        [52, {"description": "shared", "marginTiers": copy.deepcopy(HL_SHARED_TIERS)}]]}


def as_numbers(value: Any) -> Any:
    """The same answer with every numeric string a JSON number (int where whole), recursively —
    the way the live venues send some of them."""
    if isinstance(value, dict):
        return {k: as_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_numbers(v) for v in value]
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            return value
        if not number.is_finite():
            return value
        return int(number) if number == number.to_integral_value() and "." not in value else float(value)
    return value
