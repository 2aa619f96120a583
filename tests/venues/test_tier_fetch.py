"""Fetching the venues' tier tables through the real ccxt client, against local venues on 127.0.0.1
serving the real records of ``tier_recorded/`` in each venue's documented envelope."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from urllib.parse import unquote

import pytest

import isodesk.venues.tier_fetch as tier_fetch
from isodesk.venues import MalformedResponse, MissingKeys, VenueError
from isodesk.venues.tier_fetch import FetchedBodies, fetch_tier_bodies
from tests.venues.conftest import API_KEY, API_SECRET
from tests.venues.tier_servers import (
    BYBIT_INVERSE_EMPTY,
    HL_DEXES,
    binance_coinm_brackets,
    binance_server,
    binance_usdm_brackets,
    bybit_linear_records,
    bybit_pages,
    bybit_server,
    hl_dex_meta,
    hyperliquid_server,
    okx_server,
    okx_tier_records,
    tier_recorded,
)

FAST = {"rate_limit": False}  # ccxt's throttle is exercised in its own test below


@pytest.fixture
def bybit():
    server = bybit_server()
    yield server
    server.stop()


@pytest.fixture
def okx():
    server = okx_server()
    yield server
    server.stop()


@pytest.fixture
def hyperliquid_tiers():
    server = hyperliquid_server()
    yield server
    server.stop()


@pytest.fixture
def binance_tiers():
    server = binance_server(API_KEY, API_SECRET)
    yield server
    server.stop()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "\r" not in text
    return text


# --- Bybit -------------------------------------------------------------------------------------

def test_bybit_follows_every_page_of_each_category_and_every_symbol_arrives_once(bybit):
    start = time.time()
    got = fetch_tier_bodies("bybit", base_url=bybit.url, **FAST)
    assert isinstance(got, FetchedBodies) and got.venue == "bybit" and got.instruments == []
    assert start <= got.fetched_at <= time.time()
    served = bybit_pages()
    assert len(served) == 3  # the five linear symbols over three pages
    assert got.tiers == [*served, BYBIT_INVERSE_EMPTY]  # the bodies exactly as served, in request order
    pages_of: dict[str, set[int]] = defaultdict(set)
    records_of: dict[str, list[dict]] = defaultdict(list)
    for page, body in enumerate(got.tiers[:3]):
        for record in body["result"]["list"]:
            pages_of[record["symbol"]].add(page)
            records_of[record["symbol"]].append(record)
    reference = bybit_linear_records()
    assert set(pages_of) == set(reference) == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BTCPERP"}
    assert all(len(pages) == 1 for pages in pages_of.values())  # each symbol on one page only
    assert records_of == reference  # every tier of every symbol, once, in the venue's order
    # the real ccxt client sent each cursor back as Bybit gave it (Bybit's cursors come URL-encoded)
    sent = [(r.query["category"][0], r.query.get("cursor", [None])[0]) for r in bybit.requests]
    assert sent == [("linear", None), ("linear", unquote(served[0]["result"]["nextPageCursor"])),
                    ("linear", unquote(served[1]["result"]["nextPageCursor"])), ("inverse", None)]
    assert sent[1][1] == "ETHUSDT,2" and sent[2][1] == "XRPUSDT,3"
    assert got.requests == ["GET /v5/market/risk-limit category=linear page 1",
                            "GET /v5/market/risk-limit category=linear page 2",
                            "GET /v5/market/risk-limit category=linear page 3",
                            "GET /v5/market/risk-limit category=inverse page 1"]
    assert all("X-BAPI-API-KEY" not in r.headers for r in bybit.requests)  # public: no key sent


def test_bybit_error_code_on_a_later_page_is_one_line_naming_venue_request_and_code(bybit):
    bybit.state["fail_page"] = (2, (200, {"retCode": 10001, "retMsg": "params error", "result": {},
                                           "retExtInfo": {}, "time": 1767000000000}))
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("bybit", base_url=bybit.url, **FAST)
    text = _one_line(info.value)
    assert text.startswith("bybit: GET /v5/market/risk-limit category=linear page 2 failed: ")
    assert "10001" in text and "params error" in text
    assert bybit.hits("/v5/market/risk-limit") == 2  # stopped at the failing page; inverse never asked


def test_bybit_http_500_is_one_line_with_the_status(bybit):
    bybit.mode = "error"
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("bybit", base_url=bybit.url, **FAST)
    text = _one_line(info.value)
    assert text.startswith("bybit: GET /v5/market/risk-limit category=linear page 1 failed: HTTP 500")


def test_bybit_repeated_cursor_stops_instead_of_looping(bybit):
    first = bybit_pages()[0]
    again = json.loads(json.dumps(first))  # page 2 answers page 1's cursor again
    bybit.state["fail_page"] = (2, (200, again))
    with pytest.raises(MalformedResponse) as info:
        fetch_tier_bodies("bybit", base_url=bybit.url, **FAST)
    assert "nextPageCursor" in _one_line(info.value) and "repeats" in str(info.value)
    assert bybit.hits("/v5/market/risk-limit") == 2


def test_bybit_body_of_the_wrong_shape_is_refused_naming_the_field(bybit):
    bybit.state["inverse"] = {"retCode": 0, "retMsg": "OK", "result": {"category": "inverse", "list": None}}
    with pytest.raises(MalformedResponse) as info:
        fetch_tier_bodies("bybit", base_url=bybit.url, **FAST)
    assert info.value.field == "result.list" and "category=inverse" in info.value.where


def test_network_failure_is_one_line_naming_venue_and_request(bybit):
    bybit.mode = "drop"
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("bybit", base_url=bybit.url, timeout_s=2, **FAST)
    text = _one_line(info.value)
    assert text.startswith("bybit: GET /v5/market/risk-limit category=linear page 1 failed: network error")


# --- OKX ---------------------------------------------------------------------------------------

def test_okx_lists_swaps_then_asks_isolated_tiers_for_every_family(okx):
    got = fetch_tier_bodies("okx", base_url=okx.url, **FAST)
    instruments = tier_recorded("okx_public_instruments_SWAP_BTC-USD_ETH-USDT_BTC-USDT_nautilus.json")
    assert got.venue == "okx" and got.instruments == [instruments]  # ctVal travels with the tiers
    assert [i["ctVal"] for i in got.instruments[0]["data"]] == ["100", "0.1", "0.01"]
    families = [i["instFamily"] for i in instruments["data"]]
    assert families == ["BTC-USD", "ETH-USDT", "BTC-USDT"]  # one inverse, two linear
    asked = [r.query for r in okx.requests if r.path == "/api/v5/public/position-tiers"]
    assert [q["instFamily"] for q in asked] == [[f] for f in families]
    assert all(q["instType"] == ["SWAP"] and q["tdMode"] == ["isolated"] for q in asked)
    assert [r.query for r in okx.requests if r.path == "/api/v5/public/instruments"] == [{"instType": ["SWAP"]}]
    records = okx_tier_records()
    assert [body["data"] for body in got.tiers] == [[], records["ETH-USDT"], records["BTC-USDT"]]
    assert all(body["code"] == "0" for body in got.tiers)
    assert len(got.tiers[2]["data"]) == 99 and got.tiers[2]["data"][0]["maxSz"] == "1000"


def test_okx_error_code_is_one_line_naming_the_family(okx):
    okx.state["tiers_error"] = ("ETH-USDT", {"code": "51001", "msg": "Instrument ID does not exist", "data": []})
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("okx", base_url=okx.url, **FAST)
    text = _one_line(info.value)
    assert text.startswith("okx: GET /api/v5/public/position-tiers instType=SWAP tdMode=isolated "
                           "instFamily=ETH-USDT failed: ")
    assert "51001" in text


def test_okx_instrument_without_a_family_is_refused_naming_it(okx):
    body = json.loads(json.dumps(okx.state["instruments"]))
    del body["data"][1]["instFamily"]
    okx.state["instruments"] = body
    with pytest.raises(MalformedResponse) as info:
        fetch_tier_bodies("okx", base_url=okx.url, **FAST)
    assert info.value.field == "instFamily" and "ETH-USDT-SWAP" in info.value.where
    assert okx.hits("/api/v5/public/position-tiers") == 0  # nothing asked on a broken list


# --- Hyperliquid -------------------------------------------------------------------------------

def test_hyperliquid_fetches_meta_then_every_hip3_dex(hyperliquid_tiers):
    got = fetch_tier_bodies("hyperliquid", base_url=hyperliquid_tiers.url, **FAST)
    meta = tier_recorded("hl_info_meta_DOCS-EXAMPLE_marginTables.json")
    assert got.venue == "hyperliquid" and got.instruments == []
    assert got.tiers == [meta, hl_dex_meta("test")]
    assert [t[0] for t in got.tiers[0]["marginTables"]] == [50, 51]
    assert got.tiers[1]["universe"][0]["name"] == "test:BTC"
    posted = [json.loads(r.body) for r in hyperliquid_tiers.requests]
    assert posted == [{"type": "meta"}, {"type": "perpDexs"}, {"type": "meta", "dex": "test"}]
    assert all(r.headers.get("Content-Type") == "application/json" for r in hyperliquid_tiers.requests)
    assert got.requests == ['POST /info {"type": "meta"}', 'POST /info {"type": "meta", "dex": "test"}']


def test_hyperliquid_unknown_dex_answering_null_is_refused(hyperliquid_tiers):
    hyperliquid_tiers.state["perpDexs"] = [*HL_DEXES, {"name": "gone", "fullName": "gone dex"}]
    with pytest.raises(MalformedResponse) as info:
        fetch_tier_bodies("hyperliquid", base_url=hyperliquid_tiers.url, **FAST)
    assert info.value.where == 'POST /info {"type": "meta", "dex": "gone"}' and "null" in str(info.value)


# --- Binance -----------------------------------------------------------------------------------

def _signed(request) -> bool:
    return request.headers.get("X-MBX-APIKEY") == API_KEY and "signature" in request.query \
        and "timestamp" in request.query


def test_binance_usdm_brackets_signed_with_the_keyring_keys(binance_tiers, binance_keys):
    got = fetch_tier_bodies("binance-usdm", base_url=binance_tiers.url, **FAST)
    assert got.venue == "binance-usdm" and got.instruments == []
    assert got.tiers == [binance_usdm_brackets()]  # the server answers only a correct HMAC signature
    assert [b["symbol"] for b in got.tiers[0]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    [request] = binance_tiers.requests
    assert request.path == "/fapi/v1/leverageBracket" and _signed(request)


def test_binance_coinm_uses_the_binance_key_and_keeps_the_unbounded_cap_exact(binance_tiers, binance_keys):
    got = fetch_tier_bodies("binance-coinm", base_url=binance_tiers.url, **FAST)
    assert got.tiers == [binance_coinm_brackets()]
    last = got.tiers[0][0]["brackets"][-1]
    assert last["qtyCap"] == 2**63 - 1 and isinstance(last["qtyCap"], int)
    [request] = binance_tiers.requests
    assert request.path == "/dapi/v2/leverageBracket" and _signed(request)


@pytest.mark.parametrize("venue", ["binance-usdm", "binance-coinm"])
def test_binance_without_keys_says_how_to_set_them_and_sends_nothing(binance_tiers, venue):
    with pytest.raises(MissingKeys) as info:
        fetch_tier_bodies(venue, base_url=binance_tiers.url, **FAST)
    text = _one_line(info.value)
    assert text.startswith(f"{venue}: GET /") and "leverageBracket is signed" in text
    assert "no API keys in the keyring" in text and "`isodesk keys set binance-usdm`" in text
    assert binance_tiers.requests == []


def test_binance_wrong_key_is_refused_in_one_line_without_a_secret(binance_tiers):
    def echo(request):  # a venue that quotes what it was sent
        return 401, {"code": -2015, "msg": f"Invalid API-key {request.headers.get('X-MBX-APIKEY')} "
                                           f"for {request.raw_query}"}

    echo.wants_request = True
    binance_tiers.route("GET", "/fapi/v1/leverageBracket", echo)
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("binance-usdm", base_url=binance_tiers.url,
                          credentials={"apiKey": API_KEY, "secret": API_SECRET}, **FAST)
    text = _one_line(info.value)
    assert text.startswith("binance-usdm: GET /fapi/v1/leverageBracket failed: HTTP 401")
    assert "-2015" in text
    for secret in (API_KEY, API_SECRET):
        assert secret not in text and secret[:8] not in text and secret[-8:] not in text
    assert "signature=" not in text or "signature=***" in text


def test_binance_http_500_is_one_line(binance_tiers):
    binance_tiers.mode = "error"
    with pytest.raises(VenueError) as info:
        fetch_tier_bodies("binance-coinm", base_url=binance_tiers.url,
                          credentials={"apiKey": API_KEY, "secret": API_SECRET}, **FAST)
    assert _one_line(info.value).startswith("binance-coinm: GET /dapi/v2/leverageBracket failed: HTTP 500")


def test_given_keys_must_be_complete(binance_tiers):
    with pytest.raises(MissingKeys, match="lack secret"):
        fetch_tier_bodies("binance-usdm", base_url=binance_tiers.url, credentials={"apiKey": API_KEY}, **FAST)


# --- every venue -------------------------------------------------------------------------------

def test_ccxt_throttle_is_on_by_default_at_the_endpoints_weights(okx, monkeypatch):
    made, costs = [], []
    real = tier_fetch.make_client

    def spy(*args, **kwargs):
        client = real(*args, **kwargs)
        made.append(client)
        throttle = client.exchange.throttle

        def counted(cost=None):
            costs.append(cost)
            return throttle(cost)

        client.exchange.throttle = counted
        return client

    monkeypatch.setattr(tier_fetch, "make_client", spy)
    fetch_tier_bodies("okx", base_url=okx.url)
    [client] = made
    assert client.exchange.enableRateLimit is True
    # ccxt's weights for OKX (abstract/okx.py): public/instruments 1, public/position-tiers 2
    assert costs == [1, 2, 2, 2]


def test_unknown_venue_and_bad_timeout_are_refused():
    with pytest.raises(VenueError, match="has no tier tables to fetch; use one of bybit, okx, hyperliquid"):
        fetch_tier_bodies("kraken")
    with pytest.raises(VenueError, match="timeout"):
        fetch_tier_bodies("bybit", timeout_s=0)
