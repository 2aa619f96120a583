"""The precision of a price a form pre-fills (the open form's entry price from the mark): a price
the venue could quote and every bound of isodesk accepts, so a form never pre-fills a value it
then refuses. Pure: the standard library only.

The rule, per venue:

- **Hyperliquid** publishes it (Hyperliquid Docs, For developers → API → "Tick and lot size",
  undated page, read 2026-11-24): "Prices can have up to 5 significant figures, but no more than
  MAX_DECIMALS - szDecimals decimal places where MAX_DECIMALS is 6 for perps […] Integer prices
  are always allowed, regardless of the number of significant figures." isodesk does not keep an
  asset's ``szDecimals``, so it applies 5 significant figures and at most 6 decimals (exact for
  the assets whose ``szDecimals`` is 0; the venue's own bound is tighter for the others).
- **Every other venue** publishes a tick size per symbol (Binance ``PRICE_FILTER.tickSize`` of
  ``GET /fapi/v1/exchangeInfo``, Bybit ``priceFilter.tickSize`` of ``GET /v5/market/instruments-info``,
  OKX ``tickSz`` of ``GET /api/v5/public/instruments``) that isodesk does not store. There a price
  is rounded to :data:`GENERIC_SIGNIFICANT` (6) significant figures: BTCUSDT at 55,536.32 → 55,536.3
  (Binance's tick is 0.10), ETHUSDT 2,650.123 → 2,650.12 (0.01), DOGEUSDT 0.1468421 → 0.146842.

Both keep integer prices whole (55,536 stays 55,536, never 55,540) and never exceed the store's
bound of :data:`~isodesk.margin.bounds.PRICE_DECIMALS` (12) decimal places; a price is rounded to
the nearest step (half to even).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from isodesk.margin.bounds import MIN_PRICE, PRICE_DECIMALS

GENERIC_SIGNIFICANT = 6
HYPERLIQUID_SIGNIFICANT = 5
HYPERLIQUID_MAX_DECIMALS = 6  # MAX_DECIMALS for perps, szDecimals taken as 0 (not kept by isodesk)


def price_rule(venue: str) -> tuple[int, int]:
    """(significant figures, most decimal places) of a price quoted on ``venue``."""
    if venue == "hyperliquid":
        return HYPERLIQUID_SIGNIFICANT, HYPERLIQUID_MAX_DECIMALS
    return GENERIC_SIGNIFICANT, PRICE_DECIMALS


def price_step(price: float | Decimal, venue: str) -> Decimal:
    """The step (quote per coin) ``price`` is rounded to on ``venue``: a power of ten (``0.1`` for
    55,536.32 on Binance, ``1`` for 55,536.32 on Hyperliquid)."""
    value = Decimal(repr(float(price))) if isinstance(price, float) else Decimal(price)
    significant, most = price_rule(venue)
    decimals = significant - 1 - value.adjusted() if value else most
    decimals = max(0, min(decimals, most, PRICE_DECIMALS))
    return Decimal(1).scaleb(-decimals)


def round_price(price: float | Decimal, venue: str) -> Decimal:
    """``price`` (a positive mark, quote per coin) rounded to :func:`price_step` on ``venue``, as an
    exact Decimal without trailing zeros; never below the smallest price isodesk accepts (10^-12)."""
    value = Decimal(repr(float(price))) if isinstance(price, float) else Decimal(price)
    rounded = value.quantize(price_step(value, venue), rounding=ROUND_HALF_EVEN)
    if rounded <= 0:
        return MIN_PRICE
    return rounded.normalize() if rounded != rounded.to_integral_value() else rounded.quantize(Decimal(1))
