"""Local venues on 127.0.0.1 that answer the tier endpoints in each venue's documented envelope,
from the real records in ``tests/venues/tier_recorded`` (copied from ``../shared/reference/venue-tiers``).

Each builder returns a started :class:`~tests.venues.server.VenueServer` whose ``state`` dict holds
what it serves (so a test compares what came back with what was served, independently of the code
under test) and lets a test break one answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from tests.venues.server import Request, VenueServer

TIER_RECORDED = Path(__file__).resolve().parent / "tier_recorded"


def tier_recorded(name: str) -> Any:
    """A file of ``tests/venues/tier_recorded`` (parsed JSON; big integers kept exact)."""
    return json.loads((TIER_RECORDED / name).read_text(encoding="utf-8"))


def bybit_linear_records() -> dict[str, list[dict[str, Any]]]:
    """Bybit's linear risk-limit records by symbol: the four USDT perpetuals and BTCPERP (USDC)."""
    symbols = dict(tier_recorded("bybit-linear-risk-limit-2025-12-29.json")["symbols"])
    symbols["BTCPERP"] = tier_recorded("bybit_v5_risk-limit_linear_BTCPERP_USDC_2025-12-29_list.json")
    return symbols


def bybit_pages(symbols_per_page: int = 2) -> list[dict[str, Any]]:
    """Bybit's linear answer split by symbol over pages (``symbols_per_page`` symbols each), in the
    documented envelope; each page but the last carries a ``nextPageCursor`` in Bybit's form
    (URL-encoded, as Bybit sends it: ``SYMBOL%2CPAGE``)."""
    records = bybit_linear_records()
    names = list(records)
    chunks = [names[i:i + symbols_per_page] for i in range(0, len(names), symbols_per_page)]
    pages = []
    for index, chunk in enumerate(chunks):
        cursor = f"{chunk[-1]}%2C{index + 2}" if index + 1 < len(chunks) else ""
        pages.append({"retCode": 0, "retMsg": "OK",
                      "result": {"category": "linear", "list": [r for s in chunk for r in records[s]],
                                 "nextPageCursor": cursor},
                      "retExtInfo": {}, "time": 1767000000000 + index})
    return pages


BYBIT_INVERSE_EMPTY = {"retCode": 0, "retMsg": "OK",
                       "result": {"category": "inverse", "list": [], "nextPageCursor": ""},
                       "retExtInfo": {}, "time": 1767000000100}


def bybit_server() -> VenueServer:
    """``GET /v5/market/risk-limit``: the linear pages of :func:`bybit_pages`, each reached by the
    cursor the page before gave (an unknown cursor is Bybit's ``retCode`` 10001); inverse: one empty
    page (no inverse records are kept in the reference data). ``state["fail_page"]`` = (n, body)
    answers page n (linear) with ``body`` instead."""
    server = VenueServer()
    pages = bybit_pages()
    state: dict[str, Any] = {"pages": pages, "inverse": BYBIT_INVERSE_EMPTY, "fail_page": None}
    by_cursor = {unquote(p["result"]["nextPageCursor"]): i + 1 for i, p in enumerate(pages[:-1])}

    def risk_limit(query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        category = query.get("category", [""])[0]
        if category == "inverse":
            return 200, state["inverse"]
        if category != "linear":
            return 200, {"retCode": 10001, "retMsg": "params error: category", "result": {}}
        cursor = query.get("cursor", [None])[0]
        index = 0 if cursor is None else by_cursor.get(cursor)
        if index is None:
            return 200, {"retCode": 10001, "retMsg": f"params error: cursor {cursor}", "result": {}}
        if state["fail_page"] and state["fail_page"][0] == index + 1:
            return state["fail_page"][1]
        return 200, state["pages"][index]

    server.route("GET", "/v5/market/risk-limit", risk_limit)
    server.state = state  # type: ignore[attr-defined]
    return server.start()


def okx_tier_records() -> dict[str, list[dict[str, Any]]]:
    """OKX's SWAP position-tier records by instrument family."""
    return tier_recorded("okx-swap-position-tiers-2025-12-29.json")["symbols"]


def okx_server() -> VenueServer:
    """``GET /api/v5/public/instruments`` (the recorded three swaps) and ``GET
    /api/v5/public/position-tiers``: ``{"code":"0","data":[…]}`` with the records of the family
    asked (empty for a family without records, as BTC-USD here); a request without ``instFamily``
    or ``uly`` is OKX's error 51000. ``state["tiers_error"]`` = (family, body) breaks one family."""
    server = VenueServer()
    records = okx_tier_records()
    state: dict[str, Any] = {"instruments": tier_recorded(
        "okx_public_instruments_SWAP_BTC-USD_ETH-USDT_BTC-USDT_nautilus.json"), "tiers_error": None}

    def instruments(query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        if query.get("instType") != ["SWAP"]:
            return 200, {"code": "51000", "msg": "Parameter instType error", "data": []}
        return 200, state["instruments"]

    def tiers(query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        family = query.get("instFamily", [None])[0]
        if family is None and "uly" not in query:
            return 200, {"code": "51000", "msg": "Parameter instFamily error", "data": []}
        if state["tiers_error"] and state["tiers_error"][0] == family:
            return 200, state["tiers_error"][1]
        return 200, {"code": "0", "msg": "", "data": records.get(family, [])}

    server.route("GET", "/api/v5/public/instruments", instruments)
    server.route("GET", "/api/v5/public/position-tiers", tiers)
    server.state = state  # type: ignore[attr-defined]
    return server.start()


HL_DEXES = [None, {"name": "test", "fullName": "test dex", "deployer": "0x5e89b26d8d66da9888c835c9bfcc2aa51813e152",
                   "oracleUpdater": None, "feeRecipient": None,
                   "assetToStreamingOiCap": [["COIN1", "100000.0"], ["COIN2", "200000.0"]],
                   "assetToFundingMultiplier": [["COIN1", "1.0"], ["COIN2", "2.0"]]}]
"""``perpDexs`` as the Hyperliquid docs show it (info endpoint, "Retrieve all perpetual dexs")."""


def hl_dex_meta(dex: str) -> dict[str, Any]:
    """The docs' ``meta`` example as a HIP-3 dex would answer it: asset names carry the ``dex:`` prefix."""
    meta = tier_recorded("hl_info_meta_DOCS-EXAMPLE_marginTables.json")
    meta["universe"] = [{**asset, "name": f"{dex}:{asset['name']}"} for asset in meta["universe"]]
    return meta


def hyperliquid_server() -> VenueServer:
    """``POST /info``: ``meta`` (the docs example), ``perpDexs`` (the docs example) and ``meta`` of
    each listed dex; an unknown dex answers ``null`` as Hyperliquid does. ``state`` holds them."""
    server = VenueServer()
    state: dict[str, Any] = {"meta": tier_recorded("hl_info_meta_DOCS-EXAMPLE_marginTables.json"),
                             "perpDexs": HL_DEXES, "dex_meta": {"test": hl_dex_meta("test")}}

    def info(query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        request = json.loads(body or b"{}")
        if request.get("type") == "perpDexs":
            return 200, state["perpDexs"]
        if request.get("type") == "meta":
            dex = request.get("dex", "")
            return 200, state["meta"] if dex == "" else state["dex_meta"].get(dex)
        return 422, "Failed to deserialize the JSON body into the target type"

    server.route("POST", "/info", info)
    server.state = state  # type: ignore[attr-defined]
    return server.start()


def binance_usdm_brackets() -> list[dict[str, Any]]:
    """``/fapi/v1/leverageBracket`` as Binance answers it (a list of ``{symbol, brackets}``), from
    freqtrade's records keyed by ccxt symbol (``BTC/USDT:USDT`` → ``BTCUSDT``; values as recorded)."""
    records = tier_recorded("binance_fapi_leverageBracket_BTC-ETH-SOL-USDT_2024-10_freqtrade-info.json")
    return [{"symbol": symbol.split(":")[0].replace("/", ""), "brackets": brackets}
            for symbol, brackets in records.items()]


def binance_coinm_brackets() -> list[dict[str, Any]]:
    """``/dapi/v2/leverageBracket``: the one recorded COIN-M symbol, as Binance answered it."""
    return [tier_recorded("binance_dapi_v2_leverageBracket_FILUSD_210625_2021_ISSUE-FRAGMENT.json")]


def binance_signed(api_key: str, secret: str, answer: Any) -> Any:
    """A handler that answers ``answer`` only to a request signed as Binance's USER_DATA endpoints
    require: ``X-MBX-APIKEY`` header, a ``timestamp``, and ``signature`` = HMAC-SHA256 of the query
    before it, keyed by the secret; otherwise Binance's 401 ``{"code": -2015, …}``."""

    def handler(request: Request) -> tuple[int, Any]:
        raw = request.raw_query
        head, _, signature = raw.rpartition("&signature=")
        expected = hmac.new(secret.encode(), head.encode(), hashlib.sha256).hexdigest()
        fields = parse_qs(head)
        if (request.headers.get("X-MBX-APIKEY") != api_key or not signature or "timestamp" not in fields
                or not hmac.compare_digest(signature, expected)):
            return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        return 200, answer

    handler.wants_request = True  # type: ignore[attr-defined]
    return handler


def binance_server(api_key: str, secret: str) -> VenueServer:
    """Binance USDⓈ-M ``/fapi/v1/leverageBracket`` and COIN-M ``/dapi/v2/leverageBracket``, each
    answering only requests signed with ``api_key``/``secret``. ``state`` holds the two lists."""
    server = VenueServer()
    state = {"usdm": binance_usdm_brackets(), "coinm": binance_coinm_brackets()}
    server.route("GET", "/fapi/v1/leverageBracket", binance_signed(api_key, secret, state["usdm"]))
    server.route("GET", "/dapi/v2/leverageBracket", binance_signed(api_key, secret, state["coinm"]))
    server.state = state  # type: ignore[attr-defined]
    return server.start()
