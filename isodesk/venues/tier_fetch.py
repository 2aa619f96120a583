"""The venues' own tier tables, fetched through ccxt as the raw bodies the venues answer.

Only fetching lives here: every request goes through the real ccxt client's implicit endpoint
methods (ccxt signs, throttles with ``enableRateLimit`` at the venue's published weight, and maps
HTTP and venue errors), and each answer is kept exactly as ccxt decoded it, one body per request.
Parsing the bodies into tier tables is the tier parser's job: the same parser ``isodesk tiers
import`` runs on bodies saved to files.

What is asked of each venue (checked 2026-12-02 against stored copies of the Bybit and Hyperliquid
API pages named below, and for OKX and Binance against the pages ccxt 4.5.90 cites for the same
methods; the method names are ccxt 4.5.90's ``abstract/<venue>.py``):

- **Bybit** ``GET /v5/market/risk-limit`` (``publicGetV5MarketRiskLimit``), public, for
  ``category=linear`` and ``category=inverse`` with no symbol: every symbol, a page of 15–30
  symbols at a time, following ``result.nextPageCursor`` (sent back as ``cursor``) until it is
  empty (bybit-exchange.github.io/docs/v5/market/risk-limit).
- **OKX** ``GET /api/v5/public/instruments?instType=SWAP`` (``publicGetPublicInstruments``: each
  swap's ``instFamily``, ``ctType`` and contract value ``ctVal``), then
  ``GET /api/v5/public/position-tiers?instType=SWAP&tdMode=isolated&instFamily=…``
  (``publicGetPublicPositionTiers``), one request per instrument family, linear and inverse: OKX
  requires ``instFamily`` or ``uly`` for SWAP (okx.com/docs-v5/en/#public-data-rest-api-get-position-tiers).
- **Hyperliquid** ``POST /info`` (``publicPostInfo``), public: ``{"type": "meta"}`` (``universe``
  with each asset's ``marginTableId``, and ``marginTables``), then ``{"type": "perpDexs"}`` (index
  0 is ``null``, the first perp dex) and ``{"type": "meta", "dex": NAME}`` for every HIP-3 dex
  (hyperliquid.gitbook.io/hyperliquid-docs/for-developers/api/info-endpoint/perpetuals).
- **Binance USDⓈ-M** ``GET /fapi/v1/leverageBracket`` (``fapiPrivateGetLeverageBracket``) and
  **COIN-M** ``GET /dapi/v2/leverageBracket`` (``dapiPrivateV2GetLeverageBracket``): USER_DATA
  endpoints, signed with the read-only keys kept in the keyring (developers.binance.com, USDⓈ-M
  and COIN-M futures "Notional and Leverage Brackets"). One Binance API key serves both; COIN-M
  uses its own keyring entry when there is one, the ``binance-usdm`` entry otherwise.

A failed request raises one :class:`~isodesk.venues.errors.VenueError` line naming the venue and
the request (network failure, HTTP status, the venue's error code: Bybit ``retCode`` ≠ 0, OKX
``code`` ≠ ``"0"``, Binance ``code``); an answer of the wrong shape raises
:class:`~isodesk.venues.errors.MalformedResponse`. Every message is scrubbed of the keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from isodesk.margin.bounds import BoundsError, check_text
from isodesk.venues.client import VenueClient, make_client
from isodesk.venues.errors import MalformedResponse, MissingKeys, VenueError
from isodesk.venues.keys import Credentials, load_credentials
from isodesk.venues.registry import SPECS, VenueSpec

VENUES = ("bybit", "okx", "hyperliquid", "binance-usdm", "binance-coinm")

BYBIT_CATEGORIES = ("linear", "inverse")
BYBIT_MAX_PAGES = 200  # 15–30 symbols a page: 200 pages is far beyond every category Bybit lists
OKX_CONTRACT_TYPES = ("linear", "inverse")
MAX_CURSOR = 500
BINANCE_KEYS = ("apiKey", "secret")

# COIN-M is not a live venue of the registry (no positions or marks are read from it yet):
# its ccxt class for the signed bracket request only, unless the registry learns it.
_COINM = VenueSpec("binance-coinm", "binancecoinm", BINANCE_KEYS, "fetch_mark_prices", 1.0,
                   options={"fetchCurrencies": False})


@dataclass(frozen=True)
class FetchedBodies:
    """The raw answers of one venue's tier endpoints, as the venue sent them.

    ``tiers``: one body per request, in request order (Bybit pages of each category, OKX
    families, Hyperliquid's first perp dex then each HIP-3 dex, Binance's one list).
    ``instruments``: OKX's ``/api/v5/public/instruments`` bodies (``ctVal``); empty elsewhere.
    ``fetched_at``: Unix seconds when the last answer arrived. ``requests``: what each ``tiers``
    body answered (``"GET /v5/market/risk-limit category=linear page 2"``), same order.
    """

    venue: str
    tiers: list[Any]
    instruments: list[Any]
    fetched_at: float
    requests: list[str] = field(default_factory=list)


def fetch_tier_bodies(venue: str, *, base_url: str | None = None, timeout_s: float = 20.0,
                      credentials: Mapping[str, str] | None = None, rate_limit: bool = True) -> FetchedBodies:
    """Fetch every current tier table of ``venue`` (one of :data:`VENUES`) through ccxt.

    ``base_url`` points every endpoint of the venue at another host (a test server, a proxy);
    ``timeout_s`` is the limit of each HTTP request in seconds. Binance's endpoints are signed:
    ``credentials`` (``apiKey``, ``secret``) or, by default, the keys in the keyring;
    :class:`~isodesk.venues.errors.MissingKeys` saying how to set them when there are none.
    ``rate_limit`` keeps ccxt's throttle at the venue's published limit (leave it on).
    """
    name = str(venue).strip().lower()
    if name not in VENUES:
        raise VenueError(f"venue {venue!r} has no tier tables to fetch; use one of {', '.join(VENUES)}")
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not 0 < timeout_s <= 600:
        raise VenueError(f"{name}: timeout {timeout_s!r} must be a number of seconds above 0 and at most 600")
    spec = SPECS.get(name, _COINM)  # every venue but COIN-M is in the registry
    creds: Mapping[str, str] | None = None
    if name.startswith("binance-"):
        creds = _binance_credentials(name, credentials)
    client = make_client(spec, credentials=creds, base_url=base_url, timeout_ms=max(1, round(timeout_s * 1000)),
                         rate_limit=rate_limit)
    try:
        fetched = _FETCHERS[name](_Fetch(client))
    finally:
        client.close()
    tiers, instruments, requests = fetched
    return FetchedBodies(name, tiers, instruments, time.time(), requests)


class _Fetch:
    """One venue's requests: each goes through :meth:`VenueClient.call` (scrubbed errors) and its
    failure becomes one line naming the venue, the request and the HTTP status when there was one."""

    def __init__(self, client: VenueClient):
        self.client = client
        self.venue = client.venue
        self.exchange = client.exchange
        self.status: tuple[int, str] | None = None
        rest = self.exchange.on_rest_response

        def on_rest_response(code: int, reason: str, *args: Any) -> Any:
            self.status = (int(code), str(reason or ""))
            return rest(code, reason, *args)

        self.exchange.on_rest_response = on_rest_response  # sees every HTTP answer, before ccxt's checks

    def get(self, what: str, method: str, params: Mapping[str, Any]) -> Any:
        """The decoded body of ``exchange.<method>(params)``; a one-line VenueError naming ``what``."""
        self.status = None
        fn: Callable[[dict[str, Any]], Any] = getattr(self.exchange, method)
        error: VenueError
        try:
            return self.client.call(what, fn, dict(params))
        except MalformedResponse:
            raise
        except VenueError as exc:
            text = " ".join(str(exc).split())
            status = self.last_status()
            if status is not None and status[0] >= 400:
                head = f"HTTP {status[0]}{' ' + status[1] if status[1] else ''}"
                prefix = f"{self.venue}: {what} failed: "
                text = f"{prefix}{head}; {text.removeprefix(prefix)}"
            error = type(exc)(self.client.scrub(text))
        raise error  # outside the handler: no __context__ holding the unscrubbed original

    def last_status(self) -> tuple[int, str] | None:
        """The HTTP status and reason of the last answer (set by ccxt's ``on_rest_response`` hook)."""
        return self.status

    def bad(self, what: str, field_name: str, problem: str) -> MalformedResponse:
        return MalformedResponse(self.venue, what, field_name, problem)

    def refused(self, what: str, code: object, message: object) -> VenueError:
        """The venue answered with its own error code in a 200 response."""
        detail = " ".join(str(message or "").split())
        if len(detail) > 300:
            detail = detail[:300] + "…"
        return VenueError(self.client.scrub(
            f"{self.venue}: {what} failed: the venue answered with error code {code!r}"
            + (f": {detail}" if detail else "")))


def _text(f: _Fetch, what: str, field_name: str, value: object, max_length: int) -> str:
    try:
        return check_text(value, field_name, max_length=max_length)
    except BoundsError as exc:
        raise f.bad(what, field_name, str(exc).removeprefix(f"{field_name}: ")) from None


def _object(f: _Fetch, what: str, body: object) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise f.bad(what, "(body)", f"must be a JSON object, got {_kind(body)}")
    return body


def _list(f: _Fetch, what: str, field_name: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise f.bad(what, field_name, f"must be a list, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"text {shown!r}"
    return "null" if value is None else type(value).__name__


Fetched = tuple[list[Any], list[Any], list[str]]


def _bybit(f: _Fetch) -> Fetched:
    """Every page of ``/v5/market/risk-limit`` for each category (Bybit's envelope: ``retCode`` 0,
    ``result.list``, ``result.nextPageCursor`` empty on the last page)."""
    bodies: list[Any] = []
    requests: list[str] = []
    for category in BYBIT_CATEGORIES:
        cursor: str | None = None
        seen: set[str] = set()
        for page in range(1, BYBIT_MAX_PAGES + 1):
            what = f"GET /v5/market/risk-limit category={category} page {page}"
            params = {"category": category, **({"cursor": cursor} if cursor else {})}
            body = _object(f, what, f.get(what, "publicGetV5MarketRiskLimit", params))
            code = body.get("retCode")
            if str(code) != "0":
                raise f.refused(what, code, body.get("retMsg"))
            result = _object(f, what, body.get("result"))  # "result" must be an object
            records = _list(f, what, "result.list", result.get("list"))
            bodies.append(body)
            requests.append(what)
            following = result.get("nextPageCursor")
            if following is None or following == "" or not records:
                break
            cursor = _text(f, what, "result.nextPageCursor", following, MAX_CURSOR)
            if cursor in seen:
                raise f.bad(what, "result.nextPageCursor", f"repeats an earlier page's cursor {cursor!r}")
            seen.add(cursor)
        else:
            raise VenueError(f"bybit: GET /v5/market/risk-limit category={category}: still more pages after "
                             f"{BYBIT_MAX_PAGES}; stopped")
    return bodies, [], requests


def _okx_body(f: _Fetch, what: str, body: object) -> Mapping[str, Any]:
    """OKX's envelope: ``code`` "0" and a ``data`` list."""
    answer = _object(f, what, body)
    code = answer.get("code")
    if str(code) != "0":
        raise f.refused(what, code, answer.get("msg"))
    _list(f, what, "data", answer.get("data"))
    return answer


def _okx(f: _Fetch) -> Fetched:
    """The SWAP instruments, then the isolated position tiers of every linear and inverse family."""
    what = "GET /api/v5/public/instruments instType=SWAP"
    instruments = _okx_body(f, what, f.get(what, "publicGetPublicInstruments", {"instType": "SWAP"}))
    families: dict[str, None] = {}
    for index, item in enumerate(instruments["data"]):
        where = f"{what} data[{index}]"
        item = _object(f, where, item)
        if item.get("ctType") not in OKX_CONTRACT_TYPES:
            continue  # not a linear or inverse swap: no tiers asked
        inst = item.get("instId")
        where = f"{what} {inst}" if isinstance(inst, str) and inst.strip() else where
        families[_text(f, where, "instFamily", item.get("instFamily"), 64)] = None
    bodies: list[Any] = []
    requests: list[str] = []
    for family in families:
        what = f"GET /api/v5/public/position-tiers instType=SWAP tdMode=isolated instFamily={family}"
        params = {"instType": "SWAP", "tdMode": "isolated", "instFamily": family}
        bodies.append(_okx_body(f, what, f.get(what, "publicGetPublicPositionTiers", params)))
        requests.append(what)
    return bodies, [instruments], requests


def _hyperliquid(f: _Fetch) -> Fetched:
    """``meta`` of the first perp dex, then ``meta`` of every HIP-3 dex ``perpDexs`` lists."""
    what = 'POST /info {"type": "meta"}'
    meta = _object(f, what, f.get(what, "publicPostInfo", {"type": "meta"}))
    _list(f, what, "universe", meta.get("universe"))
    bodies: list[Any] = [meta]
    requests = [what]
    listing = 'POST /info {"type": "perpDexs"}'
    dexes = _list(f, listing, "(body)", f.get(listing, "publicPostInfo", {"type": "perpDexs"}))
    names: dict[str, None] = {}
    for index, dex in enumerate(dexes):
        if dex is None:
            continue  # the first perp dex (asked above)
        dex = _object(f, f"{listing} [{index}]", dex)
        if dex.get("name") == "":
            continue  # the first perp dex by its name
        names[_text(f, f"{listing} [{index}]", "name", dex.get("name"), 64)] = None
    for name in names:
        what = f'POST /info {{"type": "meta", "dex": "{name}"}}'
        body = _object(f, what, f.get(what, "publicPostInfo", {"type": "meta", "dex": name}))
        _list(f, what, "universe", body.get("universe"))
        bodies.append(body)
        requests.append(what)
    return bodies, [], requests


def _binance(f: _Fetch, what: str, method: str) -> Fetched:
    body = f.get(what, method, {})
    if isinstance(body, Mapping) and "code" in body:
        raise f.refused(what, body.get("code"), body.get("msg"))
    return [_list(f, what, "(body)", body)], [], [what]


def _binance_usdm(f: _Fetch) -> Fetched:
    return _binance(f, "GET /fapi/v1/leverageBracket", "fapiPrivateGetLeverageBracket")


def _binance_coinm(f: _Fetch) -> Fetched:
    return _binance(f, "GET /dapi/v2/leverageBracket", "dapiPrivateV2GetLeverageBracket")


_FETCHERS: dict[str, Callable[[_Fetch], Fetched]] = {
    "bybit": _bybit, "okx": _okx, "hyperliquid": _hyperliquid,
    "binance-usdm": _binance_usdm, "binance-coinm": _binance_coinm,
}

_BINANCE_ENDPOINT = {"binance-usdm": "GET /fapi/v1/leverageBracket", "binance-coinm": "GET /dapi/v2/leverageBracket"}


def _binance_credentials(venue: str, given: Mapping[str, str] | None) -> Credentials:
    """The keys that sign Binance's bracket request: ``given``, else the keyring (COIN-M: its own
    entry, else the ``binance-usdm`` one); MissingKeys naming the request and how to set them."""
    need = f"{venue}: {_BINANCE_ENDPOINT[venue]} is signed and needs read-only Binance API keys"
    if given is not None:
        missing = [k for k in BINANCE_KEYS if not (isinstance(given.get(k), str) and given.get(k))]
        if missing:
            raise MissingKeys(f"{need}; the keys given lack {', '.join(missing)}")
        return Credentials({k: given[k] for k in BINANCE_KEYS})
    entries = ([SPECS.get("binance-coinm") or _COINM] if venue == "binance-coinm" else []) + [SPECS["binance-usdm"]]
    problem = ""
    for spec in entries:
        try:
            return load_credentials(spec)
        except MissingKeys as exc:
            problem = problem or str(exc).removeprefix(f"{spec.venue}: ")
    hint = "set them with `isodesk keys set binance-usdm`"
    reason = problem.split("; set them with")[0] if problem else "no API keys in the keyring"
    shared = " (one Binance key serves USDⓈ-M and COIN-M)" if venue == "binance-coinm" else ""
    raise MissingKeys(f"{need}: {reason}; {hint}{shared}")


__all__ = ["VENUES", "FetchedBodies", "fetch_tier_bodies"]
