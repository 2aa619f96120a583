"""Mark prices from a venue, by isodesk market name (``BASEUSDT``, see :func:`~isodesk.margin.markets.market_of`).

A venue symbol (``BTCUSDT`` on Binance, ``BTC`` on Hyperliquid, ``BTC-USDT-SWAP`` on OKX) maps to a
ccxt unified symbol (``BTC/USDT:USDT``) and to the isodesk market that marks it. Where several
venue markets follow one isodesk market (``BTCUSDT`` and ``BTCUSDC`` both follow ``BTCUSDT``), the
one whose own name is the market wins, then linear USDT-settled, then USDC, then the rest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from isodesk.margin.bounds import price_in_bounds
from isodesk.margin.markets import market_of
from isodesk.venues.client import VenueClient
from isodesk.venues.errors import VenueError

#: The raw field of a venue's ticker / mark-price item that holds the mark price.
MARK_FIELDS = {"binance-usdm": "markPrice", "bybit": "markPrice", "okx": "markPx", "hyperliquid": "markPx"}


def native_symbol(venue: str, market: Mapping[str, Any]) -> str:
    """The venue's own name of a ccxt market, as isodesk stores it (Hyperliquid: the coin, ``BTC``)."""
    if venue == "hyperliquid":
        info = market.get("info") or {}
        return str(info.get("name") or market.get("baseName") or market.get("base"))
    return str(market.get("id"))


def _rank(market: Mapping[str, Any], native: str, wanted: str) -> tuple[int, int, int]:
    settle = str(market.get("settle") or "").upper()
    return (0 if native.upper() == wanted else 1, 0 if market.get("linear") else 1,
            {"USDT": 0, "USDC": 1}.get(settle, 2))


def market_table(venue: str, markets: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """isodesk market → ccxt unified symbol of the venue's perpetual that marks it."""
    best: dict[str, tuple[tuple[int, int, int], str]] = {}
    for symbol, market in markets.items():
        if not market.get("swap") or market.get("active") is False:
            continue
        native = native_symbol(venue, market)
        wanted = market_of(venue, native)
        rank = _rank(market, native, wanted)
        if wanted not in best or rank < best[wanted][0]:
            best[wanted] = (rank, symbol)
    return {m: s for m, (_, s) in best.items()}


@dataclass(frozen=True, slots=True)
class MarkBatch:
    """One fetch: ``prices`` by isodesk market (quote per coin), ``problems`` as (market, reason) pairs."""

    prices: dict[str, float]
    problems: list[tuple[str, str]]


def number(value: object) -> Decimal | None:
    """A venue's number (text or JSON number) as an exact Decimal; None when it is not a finite number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    if not isinstance(value, (str, int)):
        return None
    try:
        out = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return out if out.is_finite() else None


def fetch_marks(client: VenueClient, wanted: Mapping[str, str]) -> MarkBatch:
    """Mark prices of the markets in ``wanted`` (isodesk market → ccxt symbol), one request.

    A network or venue error raises :class:`VenueError`; so does an answer without one usable
    price; a single bad, missing or out-of-bounds price (:func:`~isodesk.margin.bounds.price_in_bounds`,
    the tick guard's test) is reported in ``problems`` (scrubbed: it quotes the answer) and left out.
    """
    if not wanted:
        return MarkBatch({}, [])
    spec = client.spec
    method = getattr(client.exchange, spec.marks_method)
    symbols = sorted(set(wanted.values()))
    tickers = client.call("fetching mark prices", method, symbols, dict(spec.marks_params))
    if not isinstance(tickers, Mapping):
        raise VenueError(f"{spec.venue}: malformed mark prices: expected tickers, got {type(tickers).__name__}")
    field = MARK_FIELDS.get(spec.venue, "markPrice")
    prices: dict[str, float] = {}
    problems: list[tuple[str, str]] = []
    for market, symbol in wanted.items():
        ticker = tickers.get(symbol)
        if not isinstance(ticker, Mapping):
            problems.append((market, f"no mark price for {symbol}"))
            continue
        info = ticker.get("info")
        raw = (info if isinstance(info, Mapping) else {}).get(field, ticker.get("markPrice"))
        value = number(raw)
        if value is None or not math.isfinite(float(value)):
            problems.append((market, client.scrub(f"{symbol}: field {field!r} {raw!r} is not a number")))
            continue
        if not price_in_bounds(float(value)):
            problems.append((market, client.scrub(f"{symbol}: field {field!r} {raw!r} is outside the prices isodesk "
                                                  "accepts (10^-12 to 10^12)")))
            continue
        prices[market] = float(value)
    if problems and not prices:
        shown = "; ".join(detail for _, detail in problems[:3])
        raise VenueError(f"{spec.venue}: malformed mark prices: no usable price in the answer ({shown})")
    return MarkBatch(prices, problems)


def wanted_symbols(venue: str, markets: Mapping[str, Mapping[str, Any]], isodesk_markets: Iterable[str]
                   ) -> tuple[dict[str, str], list[str]]:
    """(isodesk market → ccxt symbol for those the venue lists, the markets it does not list)."""
    table = market_table(venue, markets)
    found, missing = {}, []
    for market in isodesk_markets:
        if market in table:
            found[market] = table[market]
        else:
            missing.append(market)
    return found, missing
