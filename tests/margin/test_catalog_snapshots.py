"""The shipped snapshots of ``resources/tiers`` are the venues' own records, passed through the same
parser as ``isodesk tiers import``; every file says its source and date, and every table builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isodesk.margin.catalog import TierCatalog
from isodesk.paths import resource_path
from isodesk.venues.tier_bodies import parse_tier_body
from tests.venues.tier_envelopes import (
    HL_BTC_TIERS,
    HL_SHARED_TIERS,
    bybit_body,
    bybit_records,
    okx_body,
    okx_instruments,
    okx_records,
)

TIERS = resource_path("tiers")
#: The team's shared reference, when this checkout sits beside it (not part of the repository).
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "venue-tiers"


def shipped(name):
    return json.loads((TIERS / name).read_text(encoding="utf-8"))


def floats(rows):
    return [[None if v is None else float(v) for v in row] for row in rows]


def test_every_shipped_file_says_its_source_and_date_and_every_table_builds():
    catalog = TierCatalog(TIERS)
    for path in sorted(TIERS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc.get("source") and doc.get("as_of"), path.name
        venue, contract = doc["venue"], doc["contract"]
        for symbol in doc["symbols"]:
            table = catalog.table(venue, contract, symbol)
            assert table.basis == doc.get("basis", "notional"), (path.name, symbol)
    assert not (TIERS / "binance-coinm.json").exists()  # nothing current to ship: see the README


def test_bybit_linear_is_the_venues_records_of_2025_12_29():
    records = bybit_records()
    tables = parse_tier_body("bybit", bybit_body([r for s in records.values() for r in s]))
    doc = shipped("bybit-linear.json")
    assert doc["as_of"] == "2025-12-29" and sorted(doc["symbols"]) == sorted(t.symbol for t in tables)
    for t in tables:
        assert doc["symbols"][t.symbol] == floats(t.rows), t.symbol
        assert doc["settlement"][t.symbol] == t.settlement
    # first tiers as Bybit published them: ETHUSDT 0.5 % up to 900,000 USDT, BTCPERP settled in USDC
    assert doc["symbols"]["ETHUSDT"][0] == [0, 900000, 0.005, 0, 100]
    assert doc["settlement"]["BTCPERP"] == "USDC"


def test_okx_linear_is_the_venues_records_in_contracts_with_ctval():
    records = okx_records()
    body = okx_body(records["BTC-USDT"] + records["ETH-USDT"])
    tables = parse_tier_body("okx", body, instruments=[okx_instruments()])
    doc = shipped("okx-linear.json")
    assert doc["basis"] == "contracts"
    for t in tables:
        assert doc["symbols"][t.symbol] == floats(t.rows), t.symbol
    assert doc["contract_value"] == {"BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1,
                                     "XRP-USDT-SWAP": 100}
    for symbol in ("SOL-USDT-SWAP", "XRP-USDT-SWAP"):  # their ctVal is not from an OKX answer: the file says so
        assert "NOT in the shared instruments answer" in doc["symbol_sources"][symbol]


@pytest.mark.skipif(not SHARED.is_dir(), reason="the team's shared reference is not beside this checkout")
def test_okx_sol_and_xrp_rows_are_the_venues_records():
    cache = json.loads((SHARED / "okx-swap-position-tiers-2025-12-29.json").read_text(encoding="utf-8"))
    doc = shipped("okx-linear.json")
    for family in ("SOL-USDT", "XRP-USDT"):
        records = sorted(cache["symbols"][family], key=lambda r: int(r["tier"]))
        floors = [0.0] + [float(r["maxSz"]) for r in records[:-1]]
        expected = [[f, float(r["maxSz"]), float(r["mmr"]), 0.0, float(r["maxLever"])] for f, r in zip(
            floors, records, strict=True)]
        assert doc["symbols"][f"{family}-SWAP"] == expected, family


def test_hyperliquid_is_the_published_table():
    doc = shipped("hyperliquid.json")
    btc = doc["symbols"]["BTC"]
    assert btc == [[0, float(HL_BTC_TIERS[1]["lowerBound"]), 1 / (2 * 40), None, 40],
                   [float(HL_BTC_TIERS[1]["lowerBound"]), None, 1 / (2 * 20), None, 20]]
    shared = [[0, 20_000_000, 1 / 20, None, 10], [20_000_000, None, 1 / 10, None, 5]]
    assert HL_SHARED_TIERS[1] == {"lowerBound": "20000000", "maxLeverage": 5}
    for coin in ("DOGE", "kPEPE", "SUI", "HYPE", "FARTCOIN"):
        assert doc["symbols"][coin] == shared, coin
    if SHARED.is_dir():
        published = json.loads((SHARED / "hl_margin_tiers_mainnet_PUBLISHED-TABLE_docs.json").read_text())
        names = {n.strip() for key in published if not key.startswith("_") for n in key.split(",")}
        assert set(doc["symbols"]) == names
