"""The isolated positions of an account, read from the venue and checked field by field.

Positions are read through ccxt's raw endpoint methods (ccxt signs, throttles and maps HTTP
errors) and every figure is taken from the venue's own answer as exact text, so nothing is
rounded through a float or silently dropped by a lenient parser; ccxt's unified position fields
are never used (several mean something else: Binance ``isolatedMargin`` and Hyperliquid
``marginUsed`` include unrealized PnL, ccxt's Bybit ``collateral`` adds it to ``positionBalance``).
The loaded markets say whether a symbol is a perpetual and, from the venue's own instrument
record, its contract size. A field that is missing or not a number raises
:class:`MalformedResponse` naming the venue, the position and the field, and nothing is returned:
an import is all or nothing. Cross-margin, portfolio-margin and empty positions are skipped
(counted in :attr:`PositionRead.skipped`).

A venue's answer passes the bounds every other input passes (:mod:`isodesk.margin.bounds`): the
quantity, the prices (entry, liquidation, mark), the leverage and the isolated margin must be
finite and within isodesk's bounds, and the symbol and the other names that become part of the
stored position (Binance ``positionSide``, Bybit ``positionIdx``, OKX ``posId``) printable text;
anything else is refused as malformed, with the field named. The refusal, like every error here,
is scrubbed of the account's keys (it may quote the answer).

The raw fields read, per venue (each reader below cites the venue's documentation):

- binance-usdm: margin ``isolatedWallet``; liquidation ``liquidationPrice``; entry ``entryPrice``;
  leverage ``leverage``; auto-add ``isAutoAddMargin``; ADL from a second, signed call
  ``GET /fapi/v1/adlQuantile`` (:func:`binance_adl`): its failure leaves the ranks unknown, logged.
- hyperliquid: margin ``marginUsed − unrealizedPnl``; liquidation ``liquidationPx``; entry
  ``entryPx``; leverage ``leverage.value``; no auto-add, no ADL rank.
- bybit: margin ``positionBalance`` (``positionIM``, its documented replacement, when it is empty);
  liquidation ``liqPrice``; entry ``avgPrice``; leverage ``leverage``; auto-add ``autoAddMargin``;
  ADL ``adlRankIndicator``; isolated: the account's ``marginMode`` (unified account) or the
  position's ``tradeMode`` (classic account, unified 1.0 inverse).
- okx: margin ``margin``; liquidation ``liqPx``; entry ``avgPx``; leverage ``lever``; side
  ``posSide`` with the sign of ``pos``; ADL ``adl``; quantity ``pos`` × the instrument's ``ctVal``
  (linear) or ``pos`` contracts of ``ctVal`` USD (inverse); no auto-add setting in the API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from isodesk.margin.bounds import (
    BoundsError,
    check_amount,
    check_leverage,
    check_price,
    check_quantity,
    check_text,
    printable,
)
from isodesk.venues.client import VenueClient
from isodesk.venues.errors import MalformedResponse, VenueError
from isodesk.venues.marks import native_symbol, number

log = logging.getLogger("isodesk.venues")

@dataclass(frozen=True, slots=True)
class VenuePosition:
    """One isolated position as the venue reports it; money exact.

    ``quantity``: linear, base units; inverse, contracts of ``contract_size`` USD. Prices are quote
    per coin; ``isolated_margin`` excludes unrealized PnL, in ``settlement`` currency, read from the
    venue's raw field ``margin_field``. ``liquidation_price`` is the venue's own (None when it shows
    none). ``auto_add_margin``: the venue tops the margin up by itself before liquidating (None
    where the venue does not say); ``adl_rank``: the venue's auto-deleveraging rank, 0 (last in the
    queue) to 5 (first), None where the answer does not carry it.
    """

    venue: str
    venue_position_id: str
    symbol: str
    ccxt_symbol: str
    contract: str
    side: str
    quantity: Decimal
    contract_size: Decimal | None
    entry_price: Decimal
    leverage: Decimal
    isolated_margin: Decimal
    liquidation_price: Decimal | None
    mark_price: Decimal | None
    settlement: str
    auto_add_margin: bool | None = None
    adl_rank: int | None = None
    margin_field: str = ""


@dataclass(frozen=True, slots=True)
class PositionRead:
    """The isolated positions read, and why others were skipped (``(symbol, reason)``)."""

    positions: list[VenuePosition]
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RawPage:
    """The position items of one answer and what the request (or the account) says about all of them.

    ``context`` for Bybit: ``category`` (linear / inverse) and ``isolation`` (``"isolated"``, a skip
    reason such as ``"cross margin"``, or ``"tradeMode"``: each item says); empty for the others.
    """

    items: Any
    context: Mapping[str, str] = field(default_factory=dict)


class _Fields:
    """Checked access to one raw position item; errors name the venue, the position and the field."""

    def __init__(self, venue: str, where: str, raw: Any):
        if not isinstance(raw, Mapping):
            raise MalformedResponse(venue, where, "(item)", f"must be an object, got {type(raw).__name__}")
        self.venue, self.where, self.raw = venue, where, raw

    def bad(self, name: str, problem: str) -> MalformedResponse:
        return MalformedResponse(self.venue, self.where, name, problem)

    def within(self, check: Callable[..., Any], name: str, value: object) -> Any:
        """``check(value, name)`` (a bound of :mod:`isodesk.margin.bounds`); refused naming the field."""
        try:
            return check(value, name)
        except BoundsError as exc:
            raise self.bad(name, f"is out of bounds: {str(exc).removeprefix(f'{exc.field}: ')}") from None

    def text(self, name: str) -> str:
        """Printable text (:func:`~isodesk.margin.bounds.check_text`), required."""
        value = self.raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.bad(name, f"is missing or not text (got {value!r})")
        return str(self.within(check_text, name, value))

    def id_part(self, name: str, default: str) -> str:
        """A part of the venue position id (text or a whole number); ``default`` when absent or empty."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(name)

    def price(self, name: str) -> Decimal:
        """A price within the bounds (finite, 10^-12 … 10^12)."""
        return Decimal(self.within(check_price, name, self.num(name)))

    def num(self, name: str, *, positive: bool = False, allow_zero: bool = True, source: Any = None) -> Decimal:
        raw = (self.raw if source is None else source).get(name)
        value = number(raw)
        if value is None:
            raise self.bad(name, f"is missing or not a number (got {raw!r})")
        if positive and (value < 0 or (value == 0 and not allow_zero)):
            raise self.bad(name, f"must be {'positive' if not allow_zero else 'zero or more'} (got {raw!r})")
        return value

    def optional_price(self, name: str) -> Decimal | None:
        """A price where 0, "" or null means "none"."""
        raw = self.raw.get(name)
        if raw in (None, "", "0", 0):
            return None
        value = number(raw)
        if value is None or value < 0:
            raise self.bad(name, f"is not a price (got {raw!r})")
        return Decimal(self.within(check_price, name, value)) if value else None

    def code(self, name: str, allowed: range) -> int | None:
        """A small whole number given as a JSON number or as text (a flag, a rank); None when absent
        or empty; refused when it is anything but one of ``allowed``."""
        raw = self.raw.get(name)
        if raw is None or raw == "":
            return None
        value = number(raw)
        if value is None or value != value.to_integral_value() or int(value) not in allowed:
            raise self.bad(name, f"must be a whole number from {allowed.start} to {allowed.stop - 1} (got {raw!r})")
        return int(value)

    def flag(self, name: str) -> bool | None:
        """A true/false flag sent as 0/1 (Bybit) or "true"/"false" (Binance); None when absent."""
        raw = self.raw.get(name)
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        value = self.code(name, range(2))
        return None if value is None else value == 1


def _market(client: VenueClient, native: str, where: str, field_name: str = "symbol") -> Mapping[str, Any]:
    for market in (client.exchange.markets or {}).values():
        if isinstance(market, Mapping) and market.get("swap") and native_symbol(client.venue, market) == native:
            return market
    raise MalformedResponse(client.venue, where, field_name, f"{native!r} is not a perpetual the venue lists")


def _contract(market: Mapping[str, Any]) -> tuple[str, Decimal | None]:
    if market.get("inverse"):
        size = number(market.get("contractSize"))
        return "inverse", size if size and size > 0 else Decimal(1)
    return "linear", None


Extracted = VenuePosition | tuple[str, str] | None


def _binance(client: VenueClient, item: Mapping[str, Any], where: str, context: Mapping[str, str]) -> Extracted:
    """Binance USDⓈ-M ``GET /fapi/v2/positionRisk`` item: ``isolatedWallet`` is the isolated
    collateral (``isolatedMargin`` adds unrealized PnL), ``isAutoAddMargin`` "true"/"false"."""
    f = _Fields(client.venue, where, item)
    symbol = f.text("symbol")
    amount = f.num("positionAmt")
    if amount == 0:
        return None
    mode = f.text("marginType").lower()
    if mode != "isolated":
        return (symbol, f"{mode} margin")
    market = _market(client, symbol, where)
    side = "long" if amount > 0 else "short"
    contract, size = _contract(market)
    position_side = f.id_part("positionSide", "BOTH")
    return VenuePosition(
        venue=client.venue, venue_position_id=f"{symbol}:{position_side}:{side}", symbol=symbol,
        ccxt_symbol=str(market["symbol"]), contract=contract, side=side,
        quantity=f.within(check_quantity, "positionAmt", abs(amount)), contract_size=size,
        entry_price=f.price("entryPrice"), leverage=_leverage(f, "leverage"),
        isolated_margin=_margin(f, "isolatedWallet"), liquidation_price=f.optional_price("liquidationPrice"),
        mark_price=f.optional_price("markPrice"), settlement=str(market.get("settle") or "USDT"),
        auto_add_margin=f.flag("isAutoAddMargin"), adl_rank=_adl_of(context, symbol, position_side),
        margin_field="isolatedWallet")


def _adl_key(symbol: str, position_side: str) -> str:
    return f"adl {symbol} {position_side}"


def _adl_of(context: Mapping[str, str], symbol: str, position_side: str) -> int | None:
    """The ADL quantile (0–4) of the isolated position ``symbol``/``position_side`` from the page's
    context (:func:`binance_adl`), None where the call failed or did not name it."""
    raw = context.get(_adl_key(symbol, position_side))
    return None if raw is None else int(raw)


def binance_adl(client: VenueClient) -> dict[str, str]:
    """The ADL quantile of each isolated position, from Binance USDⓈ-M ``GET /fapi/v1/adlQuantile``
    (signed, weight 5; ccxt's implicit method ``fapiPrivateGetAdlQuantile``), keyed for
    :func:`_adl_of` as ``adl SYMBOL POSITIONSIDE``.

    Binance's "Position ADL Quantile Estimation (USER_DATA)" page
    (developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-ADL-Quantile-Estimation,
    read 2026-12-02): values 0–4 show the queue position, low to high; for a symbol in one-way mode
    or isolated in hedge mode the answer has ``LONG``, ``SHORT`` and ``BOTH`` keys, ``BOTH`` being
    the one-way position's quantile and ``LONG``/``SHORT`` the hedge-mode sides'; a symbol crossed in
    hedge mode carries ``HEDGE`` (a sign only) and its ``LONG``/``SHORT`` are one shared value, not
    an isolated position's: skipped. The quantile maps onto isodesk's rank 0–5 unchanged (0 =
    last in the queue). Updated every 30 s by the venue.

    Any failure (the venue refuses, times out, answers something else) is logged, scrubbed, and
    gives an empty map: the import goes on with the ranks unknown (NULL).
    """
    try:
        answer = client.exchange.fapiPrivateGetAdlQuantile({})
        if not isinstance(answer, list):
            raise ValueError(f"the answer is a {type(answer).__name__}, not a list")
        out: dict[str, str] = {}
        for entry in answer:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("symbol"), str):
                raise ValueError("an entry without a symbol")
            quantiles = entry.get("adlQuantile")
            if not isinstance(quantiles, Mapping) or "HEDGE" in quantiles:
                continue  # cross margined in hedge mode: not an isolated position's quantile
            for side in ("LONG", "SHORT", "BOTH"):
                value = number(quantiles.get(side)) if quantiles.get(side) is not None else None
                if value is None:
                    continue
                if value != value.to_integral_value() or not 0 <= value <= 4:
                    raise ValueError(f"{entry['symbol']} {side}: {quantiles.get(side)!r} is not a quantile 0-4")
                out[_adl_key(entry["symbol"], side)] = str(int(value))
        return out
    except Exception as exc:  # ccxt errors, bodies of the wrong shape: the rank stays unknown
        log.warning("%s: reading the ADL quantiles (GET /fapi/v1/adlQuantile) failed; ADL ranks left unknown: %s",
                    client.venue, client.scrub(f"{type(exc).__name__}: {exc}")[:300])
        return {}


def _hyperliquid(client: VenueClient, item: Mapping[str, Any], where: str, context: Mapping[str, str]) -> Extracted:
    outer = _Fields(client.venue, where, item)
    f = _Fields(client.venue, where, outer.raw.get("position"))
    coin = f.text("coin")
    lev = f.raw.get("leverage")
    if not isinstance(lev, Mapping):
        raise f.bad("leverage", f"must be an object with type and value (got {lev!r})")
    size = f.num("szi")
    if size == 0:
        return None
    if lev.get("type") != "isolated":
        return (coin, f"{lev.get('type')} margin")
    market = _market(client, coin, where, "coin")
    side = "long" if size > 0 else "short"
    value = number(lev.get("value"))
    if value is None:
        raise f.bad("leverage.value", f"is missing or not a number (got {lev.get('value')!r})")
    leverage = f.within(check_leverage, "leverage.value", value)
    margin = f.num("marginUsed") - f.num("unrealizedPnl")
    if margin <= 0:
        raise f.bad("marginUsed", "minus unrealizedPnl must leave a positive isolated margin")
    return VenuePosition(
        venue=client.venue, venue_position_id=f"{coin}:{side}", symbol=native_symbol(client.venue, market),
        ccxt_symbol=str(market["symbol"]), contract="linear", side=side,
        quantity=f.within(check_quantity, "szi", abs(size)), contract_size=None,
        entry_price=f.price("entryPx"), leverage=leverage, isolated_margin=f.within(check_amount, "marginUsed", margin),
        liquidation_price=f.optional_price("liquidationPx"), mark_price=None,
        settlement=str(market.get("settle") or "USDC"), margin_field="marginUsed - unrealizedPnl")


# --- Bybit -------------------------------------------------------------------------------------
# Bybit API v5 "Get Position Info", GET /v5/position/list (bybit-exchange/docs
# docs/v5/position/position.mdx, versions of 2024-08-29 and 2026-05-07):
#   symbol; side "Buy" (long) / "Sell" (short), "" for an empty position; size "always positive";
#   avgPrice "average entry price"; leverage; markPrice; liqPrice "position liquidation price",
#   "" when beyond the price limits; positionIdx 0 one-way, 1 buy side, 2 sell side of hedge mode;
#   autoAddMargin 0/1 "whether to add margin automatically when using isolated margin mode";
#   adlRankIndicator 0 (empty position) to 5 (docs/v5/enum.mdx "adlRankIndicator");
#   positionBalance "Position margin" (added 2023-06-01 with isolated margin on the unified account;
#   2024-02-02: "UTA(linear): only meaningful for isolated margin mode"; 2024-08-29: "the position
#   initial margin plus position closing fee"; since 2025-11-17 "Deprecated, can refer to positionIM");
#   positionIM "initial margin" (entry value / leverage + fee to close; it does not count margin the
#   trader added, Bybit help "The New Margin Calculation: Adjustments and Implications", 2025-09-18);
#   tradeMode 0 cross / 1 isolated for classic accounts and unified account 1.0 inverse, "always 0"
#   on the unified account, where "Get Account Info" gives the margin mode.
# Bybit "Get Account Info", GET /v5/account/info (docs/v5/account/account-info.mdx, 2026-03-16):
#   marginMode ISOLATED_MARGIN / REGULAR_MARGIN (cross) / PORTFOLIO_MARGIN; unifiedMarginStatus
#   1 classic, 3/4 unified 1.0, 5/6 unified 2.0 (docs/v5/enum.mdx, docs/v5/acct-mode.mdx: on 1.0
#   inverse contracts keep a separate, classic-like account).
# One inverse contract is 1 USD (Bybit help "What is Inverse Contract?": 10,000 contracts at $23,000
# are $10,000, ≈ 0.435 BTC).

BYBIT_PAGE_LIMIT = 200  # the documented maximum of ``limit``
BYBIT_MAX_PAGES = 50
BYBIT_CATEGORIES = (("linear", "USDT"), ("linear", "USDC"), ("inverse", None))
_BYBIT_MODES = {"ISOLATED_MARGIN": "isolated", "REGULAR_MARGIN": "cross margin",
                "PORTFOLIO_MARGIN": "portfolio margin"}


def _bybit_result(client: VenueClient, answer: Any, what: str) -> Mapping[str, Any]:
    result = answer.get("result") if isinstance(answer, Mapping) else None
    if not isinstance(result, Mapping):
        raise MalformedResponse(client.venue, what, "result", f"must be an object (got {type(result).__name__})")
    return result


def bybit_isolation(client: VenueClient, account: Mapping[str, Any]) -> dict[str, str]:
    """category → how its positions are isolated: ``"isolated"``, a skip reason (``"cross margin"``,
    ``"portfolio margin"``) or ``"tradeMode"`` (each position says), from the ``result`` of
    ``/v5/account/info``."""
    raw_status = account.get("unifiedMarginStatus")
    status = number(raw_status)
    if status is None or int(status) != status or int(status) not in (1, 3, 4, 5, 6):
        raise MalformedResponse(client.venue, "account info", "unifiedMarginStatus",
                                f"is not an account kind isodesk knows: 1 classic, 3 or 4 unified 1.0, 5 or 6 unified "
                                f"2.0 (got {raw_status!r})")
    if status == 1:
        return {"linear": "tradeMode", "inverse": "tradeMode"}
    raw_mode = account.get("marginMode")
    mode = _BYBIT_MODES.get(raw_mode) if isinstance(raw_mode, str) else None
    if mode is None:
        raise MalformedResponse(client.venue, "account info", "marginMode",
                                f"must be one of {', '.join(_BYBIT_MODES)} (got {raw_mode!r})")
    return {"linear": mode, "inverse": "tradeMode" if status in (3, 4) else mode}


def _raw_bybit(client: VenueClient) -> list[RawPage]:
    account = _bybit_result(client, client.exchange.privateGetV5AccountInfo({}), "account info")
    isolation = bybit_isolation(client, account)
    pages = []
    for category, settle in BYBIT_CATEGORIES:
        request = {"category": category, **({"settleCoin": settle} if settle else {})}
        pages.append(RawPage(_bybit_list(client, request), {"category": category, "isolation": isolation[category]}))
    return pages


def _bybit_list(client: VenueClient, request: Mapping[str, str]) -> list[Any]:
    """Every item of ``/v5/position/list`` for ``request``, following ``nextPageCursor`` (Bybit sends a
    cursor even with the last page; the page after it is empty)."""
    what = f"positions ({', '.join(request.values())})"
    items: list[Any] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(BYBIT_MAX_PAGES):
        params = {**request, "limit": BYBIT_PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
        result = _bybit_result(client, client.exchange.privateGetV5PositionList(params), what)
        page = result.get("list")
        if not isinstance(page, list):
            raise MalformedResponse(client.venue, what, "list", f"must be a list (got {type(page).__name__})")
        items.extend(page)
        cursor = result.get("nextPageCursor") or None
        if not page or cursor is None:
            return items
        if not isinstance(cursor, str) or cursor in seen:
            raise MalformedResponse(client.venue, what, "nextPageCursor", f"repeats or is not text (got {cursor!r})")
        seen.add(cursor)
    raise VenueError(f"{client.venue}: reading positions failed: more than {BYBIT_MAX_PAGES} pages for {what}")


def _bybit(client: VenueClient, item: Mapping[str, Any], where: str, context: Mapping[str, str]) -> Extracted:
    f = _Fields(client.venue, where, item)
    symbol = f.text("symbol")
    size = f.num("size", positive=True)
    if size == 0:
        return None
    isolation = context.get("isolation", "tradeMode")
    if isolation == "tradeMode":
        trade_mode = f.code("tradeMode", range(2))
        if trade_mode is None:
            raise f.bad("tradeMode", "is missing (a classic account says 0 cross or 1 isolated on each position)")
        isolation = "isolated" if trade_mode == 1 else "cross margin"
    if isolation != "isolated":
        return (symbol, isolation)
    market = _market(client, symbol, where)
    category = context.get("category")
    if category in ("linear", "inverse") and bool(market.get("inverse")) != (category == "inverse"):
        raise f.bad("symbol", f"{symbol!r} is not a {category} perpetual the venue lists")
    side = {"Buy": "long", "Sell": "short"}.get(str(f.raw.get("side")))
    if side is None:
        raise f.bad("side", f"must be Buy or Sell (got {f.raw.get('side')!r})")
    inverse = bool(market.get("inverse"))
    index = f.id_part("positionIdx", "0")
    balance = f.raw.get("positionBalance")
    # positionBalance deprecated: when it comes empty, its documented replacement (without added margin)
    margin_field = "positionIM" if balance in (None, "") or number(balance) == 0 else "positionBalance"
    return VenuePosition(
        venue=client.venue, venue_position_id=f"{symbol}:{index}:{side}", symbol=symbol,
        ccxt_symbol=str(market["symbol"]), contract="inverse" if inverse else "linear", side=side,
        quantity=f.within(check_quantity, "size", size), contract_size=Decimal(1) if inverse else None,
        entry_price=f.price("avgPrice"), leverage=_leverage(f, "leverage"),
        isolated_margin=_margin(f, margin_field), liquidation_price=f.optional_price("liqPrice"),
        mark_price=f.optional_price("markPrice"), settlement=str(market.get("settle") or "USDT"),
        auto_add_margin=f.flag("autoAddMargin"), adl_rank=f.code("adlRankIndicator", range(6)),
        margin_field=margin_field)


# --- OKX ---------------------------------------------------------------------------------------
# OKX API v5, Trading Account, "Get positions", GET /api/v5/account/positions?instType=SWAP
# (https://www.okx.com/docs-v5/en/#trading-account-rest-api-get-positions, as stored 2026-07-16):
#   mgnMode cross / isolated; posSide "long" / "short" (pos positive) or "net" (positive pos long,
#   negative short); pos "number of contracts for SWAP" (0 with margin: a funded, empty record);
#   avgPx entry price; lever; liqPx "estimated mark price at which this position would be
#   forcibly liquidated"; margin "Margin, can be added or reduced. Only applicable to isolated"
#   (the collateral: upl is a separate field); markPx; adl "0–5, 0 lowest priority"; posId; ccy
#   "currency used for margin". The answer carries no auto-add-margin setting.
# "Get instruments", GET /api/v5/public/instruments: ctType linear / inverse; ctVal "contract
# value" in ctValCcy (the base coin for linear swaps, USD for inverse ones); ctMult "contract
# multiplier" (1 for every swap isodesk has seen: another value is refused, not guessed).
_OKX_SIDES = ("long", "short", "net")


def okx_contract(client: VenueClient, market: Mapping[str, Any], inst: str) -> tuple[str, Decimal]:
    """(contract kind, contract value) of an OKX swap from its raw instrument record: linear, ctVal
    base coins per contract; inverse, ctVal USD per contract."""
    info = market.get("info")
    where = f"instrument {inst}"
    if not isinstance(info, Mapping):
        raise MalformedResponse(client.venue, where, "(item)", "the instrument record is missing")
    kind = info.get("ctType")
    if kind not in ("linear", "inverse"):
        raise MalformedResponse(client.venue, where, "ctType", f"must be linear or inverse (got {kind!r})")
    value = number(info.get("ctVal"))
    if value is None or value <= 0:
        raise MalformedResponse(client.venue, where, "ctVal", f"must be a positive number (got {info.get('ctVal')!r})")
    multiplier = info.get("ctMult")
    if multiplier not in (None, "") and number(multiplier) != 1:
        raise MalformedResponse(client.venue, where, "ctMult", f"must be 1 (got {multiplier!r})")
    return str(kind), value


def _okx(client: VenueClient, item: Mapping[str, Any], where: str, context: Mapping[str, str]) -> Extracted:
    f = _Fields(client.venue, where, item)
    inst = f.text("instId")
    pos = f.num("pos")
    if pos == 0:
        return None
    mode = f.text("mgnMode")
    if mode != "isolated":
        return (inst, f"{mode} margin")
    market = _market(client, inst, where, "instId")
    pos_side = f.text("posSide")
    if pos_side not in _OKX_SIDES:
        raise f.bad("posSide", f"must be long, short or net (got {pos_side!r})")
    if pos_side != "net" and pos < 0:
        raise f.bad("pos", f"must be positive when posSide is {pos_side} (got {f.raw.get('pos')!r})")
    side = pos_side if pos_side != "net" else ("long" if pos > 0 else "short")
    contract, ct_val = okx_contract(client, market, inst)
    contracts = abs(pos)
    quantity = contracts * ct_val if contract == "linear" else contracts
    ccy = f.raw.get("ccy")
    return VenuePosition(
        venue=client.venue, venue_position_id=f.id_part("posId", f"{inst}:{pos_side}:{side}"), symbol=inst,
        ccxt_symbol=str(market["symbol"]), contract=contract, side=side,
        quantity=f.within(check_quantity, "pos", quantity), contract_size=ct_val if contract == "inverse" else None,
        entry_price=f.price("avgPx"), leverage=_leverage(f, "lever"), isolated_margin=_margin(f, "margin"),
        liquidation_price=f.optional_price("liqPx"), mark_price=f.optional_price("markPx"),
        settlement=ccy if isinstance(ccy, str) and ccy else str(market.get("settle") or "USDT"),
        auto_add_margin=None, adl_rank=f.code("adl", range(6)), margin_field="margin")


def _leverage(f: _Fields, name: str) -> Decimal:
    return Decimal(f.within(check_leverage, name, f.num(name)))


def _margin(f: _Fields, name: str) -> Decimal:
    """The isolated margin: an amount within the bounds (greater than 0, at most 10^12, 8 decimals)."""
    return Decimal(f.within(check_amount, name, f.num(name)))


Extractor = Callable[[VenueClient, Mapping[str, Any], str, Mapping[str, str]], Extracted]
EXTRACTORS: dict[str, Extractor] = {"binance-usdm": _binance, "hyperliquid": _hyperliquid, "bybit": _bybit, "okx": _okx}


def _raw_binance(client: VenueClient) -> list[RawPage]:
    items = client.exchange.fapiPrivateV2GetPositionRisk({})  # v2: carries leverage and marginType
    return [RawPage(items, binance_adl(client))]


def _raw_hyperliquid(client: VenueClient) -> list[RawPage]:
    answer = client.exchange.publicPostInfo({"type": "clearinghouseState", "user": client.exchange.walletAddress})
    if not isinstance(answer, Mapping):
        raise MalformedResponse(client.venue, "clearinghouseState", "(body)", "must be an object")
    return [RawPage(answer.get("assetPositions"))]


def _raw_okx(client: VenueClient) -> list[RawPage]:
    answer = client.exchange.privateGetAccountPositions({"instType": "SWAP"})
    return [RawPage(answer.get("data") if isinstance(answer, Mapping) else None)]


RAW: dict[str, Callable[[VenueClient], list[RawPage]]] = {
    "binance-usdm": _raw_binance, "hyperliquid": _raw_hyperliquid, "bybit": _raw_bybit, "okx": _raw_okx}

#: The venues whose position answers are checked against recorded responses in the test suite.
VERIFIED = ("binance-usdm", "hyperliquid", "bybit", "okx")


def fetch_isolated_positions(client: VenueClient) -> PositionRead:
    """Every open isolated position of the account behind ``client``'s keys, checked.

    Raises :class:`VenueError` when the venue cannot be read and :class:`MalformedResponse`
    (naming the field) when any position in the answer is malformed or out of bounds: nothing is
    returned then. Every error, whatever it quotes of the answer, is scrubbed of the keys.
    """
    return client.call("reading positions", _read_positions, client)


def _read_positions(client: VenueClient) -> PositionRead:
    venue = client.venue
    client.load_markets()
    pages = client.call("reading positions", RAW[venue], client)
    extract = EXTRACTORS[venue]
    positions: list[VenuePosition] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    index = 0
    for page in pages:
        if not isinstance(page.items, list):
            raise MalformedResponse(venue, "positions", "(body)", f"must be a list, got {type(page.items).__name__}")
        for item in page.items:
            index += 1
            where = _where(index, item)
            out = extract(client, item, where, page.context)
            if out is None:
                continue
            if isinstance(out, tuple):
                skipped.append(out)
                continue
            if out.venue_position_id in seen:
                raise MalformedResponse(venue, where, "symbol", f"repeats position {out.venue_position_id!r}")
            seen.add(out.venue_position_id)
            positions.append(out)
    return PositionRead(positions, skipped)


def _where(index: int, item: Any) -> str:
    """``position N (SYMBOL)``: the item's place in the answer and its symbol, shown safely."""
    where = f"position {index}"
    if isinstance(item, Mapping):
        inner = item.get("position")
        name = item.get("symbol") or item.get("instId") or (inner.get("coin") if isinstance(inner, Mapping) else None)
        if isinstance(name, str) and name:
            shown = printable(name)
            where += f" ({shown if len(shown) <= 40 else shown[:37] + '…'})"
    return where


__all__ = ["EXTRACTORS", "VERIFIED", "PositionRead", "RawPage", "VenueError", "VenuePosition",
           "fetch_isolated_positions"]
