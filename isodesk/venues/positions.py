"""The isolated positions of an account, read from the venue and checked field by field.

Positions are read through ccxt's raw endpoint methods (ccxt signs, throttles and maps HTTP
errors) and every figure is taken from the venue's own answer as exact text, so nothing is
rounded through a float or silently dropped by a lenient parser; the loaded ccxt markets say
whether a symbol is linear or inverse and its contract size. A field
that is missing or not a number raises :class:`MalformedResponse` naming the venue, the position
and the field, and nothing is returned: an import is all or nothing. Cross-margin and empty
positions are skipped (counted in :attr:`PositionRead.skipped`).

A venue's answer passes the bounds every other input passes (:mod:`isodesk.margin.bounds`): the
quantity, the prices (entry, liquidation, mark), the leverage and the isolated margin must be
finite and within isodesk's bounds, and the symbol and the other names that become part of the
stored position (Binance ``positionSide``, Bybit ``positionIdx``, OKX ``posId``) printable text;
anything else is refused as malformed, with the field named. The refusal, like every error here,
is scrubbed of the account's keys (it may quote the answer).

The isolated margin is what isodesk calls margin: the collateral *without* unrealized PnL
(Binance ``isolatedWallet``, Hyperliquid ``marginUsed − unrealizedPnl``, Bybit ``positionBalance``,
OKX ``margin``).
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class VenuePosition:
    """One isolated position as the venue reports it; money exact.

    ``quantity``: linear, base units; inverse, contracts of ``contract_size`` USD. Prices are quote
    per coin; ``isolated_margin`` excludes unrealized PnL, in ``settlement`` currency.
    ``liquidation_price`` is the venue's own (None when it shows none).
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


@dataclass(frozen=True, slots=True)
class PositionRead:
    """The isolated positions read, and why others were skipped (``(symbol, reason)``)."""

    positions: list[VenuePosition]
    skipped: list[tuple[str, str]] = field(default_factory=list)


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


def _linear_quantity(market: Mapping[str, Any], contracts: Decimal) -> Decimal:
    """Base units of ``contracts`` of a linear market (OKX counts in contracts of ``ctVal`` coins)."""
    size = number(market.get("contractSize"))
    return contracts * size if size and size > 0 and size != 1 else contracts


Extracted = VenuePosition | tuple[str, str] | None


def _binance(client: VenueClient, item: Mapping[str, Any], where: str) -> Extracted:
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
        mark_price=f.optional_price("markPrice"), settlement=str(market.get("settle") or "USDT"))


def _hyperliquid(client: VenueClient, item: Mapping[str, Any], where: str) -> Extracted:
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
        settlement=str(market.get("settle") or "USDC"))


def _bybit(client: VenueClient, item: Mapping[str, Any], where: str) -> Extracted:
    f = _Fields(client.venue, where, item)
    symbol = f.text("symbol")
    size = f.num("size")
    if size == 0 or not f.raw.get("side"):
        return None
    if str(f.raw.get("tradeMode", "1")) != "1":
        return (symbol, "cross margin")
    market = _market(client, symbol, where)
    side = {"Buy": "long", "Sell": "short"}.get(str(f.raw.get("side")))
    if side is None:
        raise f.bad("side", f"must be Buy or Sell (got {f.raw.get('side')!r})")
    contract, csize = _contract(market)
    index = f.id_part("positionIdx", "0")
    return VenuePosition(
        venue=client.venue, venue_position_id=f"{symbol}:{index}:{side}", symbol=symbol,
        ccxt_symbol=str(market["symbol"]), contract=contract, side=side,
        quantity=f.within(check_quantity, "size", abs(size)), contract_size=csize,
        entry_price=f.price("avgPrice"), leverage=_leverage(f, "leverage"),
        isolated_margin=_margin(f, "positionBalance"), liquidation_price=f.optional_price("liqPrice"),
        mark_price=f.optional_price("markPrice"), settlement=str(market.get("settle") or "USDT"))


def _okx(client: VenueClient, item: Mapping[str, Any], where: str) -> Extracted:
    f = _Fields(client.venue, where, item)
    inst = f.text("instId")
    pos = f.num("pos")
    if pos == 0:
        return None
    mode = f.text("mgnMode")
    if mode != "isolated":
        return (inst, f"{mode} margin")
    market = _market(client, inst, where, "instId")
    pos_side = str(f.raw.get("posSide") or "net")
    side = pos_side if pos_side in ("long", "short") else ("long" if pos > 0 else "short")
    contract, csize = _contract(market)
    quantity = _linear_quantity(market, abs(pos)) if contract == "linear" else abs(pos)
    return VenuePosition(
        venue=client.venue, venue_position_id=f.id_part("posId", f"{inst}:{side}"), symbol=inst,
        ccxt_symbol=str(market["symbol"]), contract=contract, side=side,
        quantity=f.within(check_quantity, "pos", quantity), contract_size=csize,
        entry_price=f.price("avgPx"), leverage=_leverage(f, "lever"), isolated_margin=_margin(f, "margin"),
        liquidation_price=f.optional_price("liqPx"), mark_price=f.optional_price("markPx"),
        settlement=str(market.get("settle") or "USDT"))


def _leverage(f: _Fields, name: str) -> Decimal:
    return Decimal(f.within(check_leverage, name, f.num(name)))


def _margin(f: _Fields, name: str) -> Decimal:
    """The isolated margin: an amount within the bounds (greater than 0, at most 10^12, 8 decimals)."""
    return Decimal(f.within(check_amount, name, f.num(name)))


EXTRACTORS: dict[str, Callable[[VenueClient, Mapping[str, Any], str], Extracted]] = {
    "binance-usdm": _binance, "hyperliquid": _hyperliquid, "bybit": _bybit, "okx": _okx}


def _raw_binance(client: VenueClient) -> Any:
    return client.exchange.fapiPrivateV2GetPositionRisk({})  # v2: carries leverage and marginType


def _raw_hyperliquid(client: VenueClient) -> Any:
    answer = client.exchange.publicPostInfo({"type": "clearinghouseState", "user": client.exchange.walletAddress})
    if not isinstance(answer, Mapping):
        raise MalformedResponse(client.venue, "clearinghouseState", "(body)", "must be an object")
    return answer.get("assetPositions")


def _raw_bybit(client: VenueClient) -> Any:
    answer = client.exchange.privateGetV5PositionList({"category": "linear", "settleCoin": "USDT"})
    result = answer.get("result") if isinstance(answer, Mapping) else None
    return result.get("list") if isinstance(result, Mapping) else None


def _raw_okx(client: VenueClient) -> Any:
    answer = client.exchange.privateGetAccountPositions({"instType": "SWAP"})
    return answer.get("data") if isinstance(answer, Mapping) else None


RAW: dict[str, Callable[[VenueClient], Any]] = {
    "binance-usdm": _raw_binance, "hyperliquid": _raw_hyperliquid, "bybit": _raw_bybit, "okx": _raw_okx}

#: The venues whose position answers are checked against recorded responses in the test suite.
VERIFIED = ("binance-usdm", "hyperliquid")


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
    raw = client.call("reading positions", RAW[venue], client)
    if not isinstance(raw, list):
        raise MalformedResponse(venue, "positions", "(body)", f"must be a list, got {type(raw).__name__}")
    extract = EXTRACTORS[venue]
    positions: list[VenuePosition] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw, start=1):
        where = f"position {index}"
        if isinstance(item, Mapping):
            inner = item.get("position")
            name = item.get("symbol") or item.get("instId") or (inner.get("coin") if isinstance(inner, Mapping)
                                                                 else None)
            if isinstance(name, str) and name:
                shown = printable(name)
                where += f" ({shown if len(shown) <= 40 else shown[:37] + '…'})"
        out = extract(client, item, where)
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


__all__ = ["EXTRACTORS", "VERIFIED", "PositionRead", "VenueError", "VenuePosition", "fetch_isolated_positions"]
