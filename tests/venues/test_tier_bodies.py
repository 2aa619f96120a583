"""Parsing the venues' tier answers: real records in each venue's envelope, numbers as strings and as
numbers, a malformed body refused naming the field."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from isodesk.venues.tier_bodies import TierBodyError, parse_tier_bodies, parse_tier_body, table_from_json
from tests.venues.tier_envelopes import (
    as_numbers,
    binance_coinm_body,
    binance_usdm_body,
    bybit_body,
    bybit_records,
    hyperliquid_docs_meta,
    hyperliquid_meta,
    okx_body,
    okx_instruments,
    okx_records,
)


def by_symbol(tables):
    return {t.symbol: t for t in tables}


# -- Bybit ----------------------------------------------------------------------------------------------


def _bybit_all():
    records = bybit_records()
    return bybit_body([r for name in records for r in records[name]])


@pytest.mark.parametrize("numbers", [False, True], ids=["strings", "numbers"])
def test_bybit_linear_every_symbol_in_list_order(numbers):
    body = as_numbers(_bybit_all()) if numbers else _bybit_all()
    tables = by_symbol(parse_tier_body("bybit", body))
    assert sorted(tables) == ["BTCPERP", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
    eth = tables["ETHUSDT"]
    assert (eth.venue, eth.contract, eth.basis, eth.settlement, eth.contract_size) == (
        "bybit", "linear", "notional", "USDT", None)
    assert len(eth.rows) == 35  # ids 11–45: the tier is the list position, not the id
    # the venue's own numbers: riskLimitValue 900000 / 1200000 / …, maintenanceMargin, mmDeduction ("" first)
    assert eth.rows[0] == ("0", "900000", "0.005", "0", "100")
    assert eth.rows[1] == ("900000", "1200000", "0.0056", "540", "90")
    assert eth.rows[-1] == ("600000000", "1000000000", "0.6", "138018220", "1")
    assert tables["BTCPERP"].settlement == "USDC" and tables["BTCPERP"].rows[0] == ("0", "100000", "0.004", "0", "125")
    assert len(tables["XRPUSDT"].rows) == 30  # its last record carries a stray "info": ignored


def test_bybit_deductions_follow_the_recurrence_the_venue_publishes():
    for table in parse_tier_body("bybit", _bybit_all()):
        rows = table.rows
        for k in range(1, len(rows)):
            expected = Decimal(rows[k - 1][3]) + Decimal(rows[k][0]) * (Decimal(rows[k][2]) - Decimal(rows[k - 1][2]))
            assert Decimal(rows[k][3]) == expected, (table.symbol, k)


def test_a_symbol_split_over_two_pages_is_one_table():
    eth = bybit_records()["ETHUSDT"]
    pages = [bybit_body(eth[:20], cursor="ETHUSDT%2C2"), bybit_body(eth[20:])]
    (table,) = parse_tier_bodies("bybit", pages)
    assert len(table.rows) == 35 and table.rows[20][0] == eth[19]["riskLimitValue"]


def test_bybit_inverse_documentation_example_in_percent():
    # Bybit's v5 docs example (category inverse, BTCUSD): maintenanceMargin "0.5" with initialMargin "1"
    # at 100x, i.e. percents; no mmDeduction at all (derived by the recurrence).
    body = bybit_body([{"id": 1, "symbol": "BTCUSD", "riskLimitValue": "150", "maintenanceMargin": "0.5",
                        "initialMargin": "1", "isLowestRisk": 1, "maxLeverage": "100.00"}], category="inverse")
    (table,) = parse_tier_body("bybit", body)
    assert (table.contract, table.symbol, table.settlement, table.contract_size) == ("inverse", "BTCUSD", "BTC",
                                                                                      Decimal(1))
    assert table.rows == (("0", "150", "0.005", None, "100"),)
    assert float(table.table.mmr[0]) == 0.005


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: b["result"]["list"][3].__setitem__("maintenanceMargin", "x"),
     "bybit risk-limit: result.list[3].maintenanceMargin: 'x' is not a number"),
    (lambda b: b["result"]["list"][3].__setitem__("maintenanceMargin", True),
     "bybit risk-limit: result.list[3].maintenanceMargin: True is not a number"),
    (lambda b: b["result"]["list"][2].pop("riskLimitValue"),
     "bybit risk-limit: result.list[2].riskLimitValue: missing"),
    (lambda b: b["result"]["list"][2].__setitem__("riskLimitValue", "100"),
     "bybit risk-limit: result.list[2].riskLimitValue: '100' is not above the previous tier's 2600000"),
    (lambda b: b["result"]["list"][1].__setitem__("mmDeduction", ""),
     "bybit risk-limit: result.list[1].mmDeduction: '' is empty on tier 2"),
    (lambda b: b.__setitem__("retCode", 10001), "bybit risk-limit: retCode: 10001 is not 0"),
    (lambda b: b["result"].pop("list"), "bybit risk-limit: result.list: missing"),
    (lambda b: b["result"].__setitem__("category", "spot"),
     "bybit risk-limit: result.category: 'spot' is neither linear nor inverse"),
    (lambda b: b["result"]["list"].__setitem__(0, "BTCUSDT"), "bybit risk-limit: result.list[0]: expected an object"),
])
def test_a_malformed_bybit_body_is_refused_naming_the_field(edit, message):
    body = bybit_body(bybit_records()["BTCUSDT"])
    edit(body)
    with pytest.raises(TierBodyError) as caught:
        parse_tier_body("bybit", body)
    assert str(caught.value).startswith(message)


def test_a_page_of_several_names_its_body():
    pages = [bybit_body(bybit_records()["BTCUSDT"]), bybit_body(bybit_records()["ETHUSDT"])]
    pages[1]["result"]["list"][0]["maxLeverage"] = "abc"
    with pytest.raises(TierBodyError, match=r"^bybit risk-limit body 2: result.list\[0\].maxLeverage: 'abc'"):
        parse_tier_bodies("bybit", pages)


# -- OKX ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", [False, True], ids=["strings", "numbers"])
def test_okx_linear_swaps_by_contracts_with_ctval(numbers):
    records = okx_records()
    body = okx_body(records["BTC-USDT"] + records["ETH-USDT"])
    if numbers:
        body = as_numbers(body)
    tables = by_symbol(parse_tier_body("okx", body, instruments=[okx_instruments()]))
    btc, eth = tables["BTC-USDT-SWAP"], tables["ETH-USDT-SWAP"]
    assert (btc.contract, btc.basis, btc.settlement, btc.contract_value) == ("linear", "contracts", "USDT",
                                                                              Decimal("0.01"))
    assert eth.contract_value == Decimal("0.1") and len(eth.rows) == 99
    # OKX: minSz 0 / maxSz 1000 at 0.4 %, then 1000.01–5000 at 0.5 %, 5000.01–20000 at 0.75 %; no deduction
    assert btc.rows[:3] == (("0", "1000", "0.004", "0", "100"), ("1000", "5000", "0.005", "0", "66.66"),
                            ("5000", "20000", "0.0075", "0", "50"))
    assert all(r[3] == "0" for r in btc.rows)


def test_okx_size_tiers_at_their_edges_in_contracts():
    records = okx_records()
    (btc,) = parse_tier_body("okx", okx_body(records["BTC-USDT"]), instruments=[okx_instruments()])
    table = btc.table
    # tier 1 is 0 – 1,000 contracts (maxSz inclusive), tier 2 starts one lot above at minSz 1,000.01
    assert [table.bracket(n) for n in (0.01, 1000, 1000.01, 5000, 5000.01, 20000, 20000.01)] == [0, 0, 1, 1, 2, 2, 3]
    # in base units: 10 BTC is 1,000 contracts of 0.01 BTC (tier 1), 10.0001 BTC is 1,000.01 (tier 2)
    assert table.bracket(table.contracts_of(10.0, inverse=False)) == 0
    assert table.bracket(table.contracts_of(10.0001, inverse=False)) == 1


def test_okx_inverse_family_takes_the_instrument_contract_value_in_usd():
    records = [dict(r, instFamily="BTC-USD", uly="BTC-USD") for r in okx_records()["BTC-USDT"][:3]]
    (table,) = parse_tier_body("okx", okx_body(records), instruments=[okx_instruments()])
    assert (table.symbol, table.contract, table.settlement, table.contract_size, table.contract_value) == (
        "BTC-USD-SWAP", "inverse", "BTC", Decimal(100), Decimal(1))


def test_okx_without_instruments_or_with_an_unknown_family_is_refused():
    body = okx_body(okx_records()["ETH-USDT"])
    with pytest.raises(TierBodyError, match="--instruments"):
        parse_tier_body("okx", body)
    only_btc = okx_instruments()
    only_btc["data"] = [i for i in only_btc["data"] if i["instFamily"] != "ETH-USDT"]
    with pytest.raises(TierBodyError, match=r"data\[0\].instFamily: 'ETH-USDT' has no SWAP instrument"):
        parse_tier_body("okx", body, instruments=[only_btc])


@pytest.mark.parametrize(("edit", "message"), [
    (lambda b: b["data"][2].__setitem__("mmr", "abc"), r"okx position-tiers: data\[2\].mmr: 'abc' is not a number"),
    (lambda b: b["data"][2].__setitem__("mmr", "1.5"), r"data\[2\].mmr: '1.5' is not a rate below 1"),
    (lambda b: b.__setitem__("code", "51000"), r"okx position-tiers: code: '51000' is not 0"),
    (lambda b: b["data"][1].__setitem__("maxSz", "500"), r"data\[1\].maxSz: the tier 1000.01–500"),
    (lambda b: b["data"][0].__setitem__("minSz", "5"), r"data\[0\].minSz: 5 is not 0 on the first tier"),
])
def test_a_malformed_okx_body_is_refused_naming_the_field(edit, message):
    body = okx_body(okx_records()["BTC-USDT"])
    edit(body)
    with pytest.raises(TierBodyError, match=message):
        parse_tier_body("okx", body, instruments=[okx_instruments()])


# -- Hyperliquid ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", [False, True], ids=["strings", "numbers"])
def test_hyperliquid_margin_tables_rates_and_strict_isolated(numbers):
    meta = as_numbers(hyperliquid_meta()) if numbers else hyperliquid_meta()
    tables = by_symbol(parse_tier_body("hyperliquid", meta))
    btc = tables["BTC"]
    assert (btc.contract, btc.settlement, btc.basis) == ("linear", "USDC", "notional")
    # rate = 1/(2 × max leverage): 40x → 1.25 %, 20x → 2.5 %; deduction at 150M: 150M × (2.5 % − 1.25 %)
    assert [float(r) for r in btc.table.mmr] == [0.0125, 0.025]
    assert [float(a) for a in btc.table.amounts] == [0.0, 1_875_000.0]
    assert btc.rows[0][:2] == ("0", "150000000") and btc.rows[1][1] is None
    assert [float(r) for r in tables["DOGE"].table.mmr] == [0.05, 0.1]
    tsla = tables["xyz:TSLA"]  # a HIP-3 dex asset keeps its dex:COIN name; id 10 < 50: one tier at 10x
    assert tsla.strict_isolated and len(tsla.rows) == 1 and float(tsla.table.mmr[0]) == 0.05
    assert not tables["HYPE"].strict_isolated and float(tables["HYPE"].table.mmr[0]) == 0.1  # noCross, id 5


def test_hyperliquid_documentation_example_and_meta_and_asset_contexts():
    meta = hyperliquid_docs_meta()
    tables = by_symbol(parse_tier_body("hyperliquid", [meta, [{"markPx": "1"}] * 4]))
    assert sorted(tables) == ["BTC", "ETH", "HPOS", "LOOM"]
    assert float(tables["BTC"].table.mmr[0]) == 0.01  # maxLeverage 50, no marginTableId: one tier at 50x
    assert tables["HPOS"].strict_isolated and not tables["BTC"].strict_isolated  # the older onlyIsolated flag


def test_a_malformed_hyperliquid_meta_is_refused_naming_the_field():
    meta = hyperliquid_meta()
    meta["universe"][0]["marginTableId"] = 57
    with pytest.raises(TierBodyError, match=r"^hyperliquid meta: universe\[0\].marginTableId: 57 is not in "
                                            r"marginTables"):
        parse_tier_body("hyperliquid", meta)
    meta = hyperliquid_meta()
    meta["marginTables"][0][1]["marginTiers"][1]["lowerBound"] = "-5"
    with pytest.raises(TierBodyError, match=r"marginTables\[0\]\[1\].marginTiers\[1\].lowerBound: '-5' is negative"):
        parse_tier_body("hyperliquid", meta)


# -- Binance --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", [False, True], ids=["strings", "numbers"])
def test_binance_usdm_brackets(numbers):
    body = as_numbers(binance_usdm_body()) if numbers else binance_usdm_body()
    tables = by_symbol(parse_tier_body("binance-usdm", body))
    btc = tables["BTCUSDT"]
    assert (btc.contract, btc.settlement, btc.basis) == ("linear", "USDT", "notional")
    assert btc.rows[:2] == (("0", "50000", "0.004", "0", "125"), ("50000", "600000", "0.005", "50", "100"))


def test_binance_usdm_one_symbol_answer_is_an_object():
    (table,) = parse_tier_body("binance-usdm", binance_usdm_body()[1])
    assert table.symbol == "ETHUSDT"


@pytest.mark.parametrize("numbers", [True, False], ids=["numbers", "strings"])
def test_binance_coinm_brackets_in_coin_with_an_unbounded_last_cap(numbers):
    body = binance_coinm_body()
    if not numbers:  # the same answer with every value a string, the last cap too
        body = [{"symbol": b["symbol"], "brackets": [{k: str(v) for k, v in x.items()} for x in b["brackets"]]}
                for b in body]
    assert isinstance(binance_coinm_body()[0]["brackets"][-1]["qtyCap"], int)
    (fil,) = parse_tier_body("binance-coinm", body)
    assert (fil.contract, fil.settlement, fil.basis, fil.contract_size) == ("inverse", "FIL", "notional", Decimal(10))
    assert fil.rows[1] == ("10000", "20000", "0.049", "270", "10")  # cum 270 = 10,000 × (4.9 % − 2.2 %)
    assert fil.rows[-1] == ("200000", None, "0.25", "29040", "2")  # qtyCap 2^63 − 1: unbounded
    assert fil.table.caps[-1] == float("inf")


def test_binance_coinm_contract_size_from_exchange_info_and_v1_refused():
    info = {"symbols": [{"symbol": "FILUSD_210625", "contractSize": 10},
                        {"symbol": "BTCUSD_PERP", "contractSize": 100}]}
    body = binance_coinm_body()
    body.append({"symbol": "BTCUSD_PERP", "brackets": copy.deepcopy(body[0]["brackets"])})
    tables = by_symbol(parse_tier_body("binance-coinm", body, instruments=[info]))
    assert tables["BTCUSD_PERP"].contract_size == Decimal(100) and tables["BTCUSD_PERP"].settlement == "BTC"
    v1 = [{"pair": "BTCUSD", "brackets": body[0]["brackets"]}]
    with pytest.raises(TierBodyError, match=r"\[0\].pair: this is /dapi/v1/leverageBracket"):
        parse_tier_body("binance-coinm", v1)


def test_a_malformed_binance_body_is_refused_naming_the_field():
    body = binance_usdm_body()
    body[0]["brackets"][2]["notionalFloor"] = "123"
    with pytest.raises(TierBodyError, match=r"^binance-usdm leverageBracket: \[0\].brackets\[2\].notionalFloor: '123' "
                                            r"does not continue the previous bracket's cap 600000"):
        parse_tier_body("binance-usdm", body)
    body = binance_usdm_body()
    body[1]["brackets"][0]["maintMarginRatio"] = None
    with pytest.raises(TierBodyError, match=r"\[1\].brackets\[0\].maintMarginRatio: None is not a number"):
        parse_tier_body("binance-usdm", body)
    with pytest.raises(TierBodyError, match=r"binance-usdm leverageBracket: expected a list, got str"):
        parse_tier_body("binance-usdm", "oops")


# -- the JSON a queued command carries ------------------------------------------------------------------


def test_a_table_survives_its_json_exactly_and_a_bad_one_is_refused():
    for table in parse_tier_body("bybit", _bybit_all()) + parse_tier_body("binance-coinm", binance_coinm_body()):
        again = table_from_json(table.to_json())
        assert again == table and again.table.same_rows(table.table)
    doc = parse_tier_body("bybit", _bybit_all())[0].to_json()
    doc["rows"][0][2] = "zero"
    with pytest.raises(TierBodyError, match=r"rows\[0\]\[2\]: 'zero' is not a number"):
        table_from_json(doc)
