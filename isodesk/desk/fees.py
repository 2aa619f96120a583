"""Trading fees a position pays, and its break-even price. Pure: the standard library and numpy.

**The fee assumption.** Both the fill that opened the position and the one that will close it are
taker fills at the venue's base-tier (regular user, no discount) taker rate:

- where the tier tables or the venue's rule carry a taker rate (the rate the venue counts in its
  own liquidation requirement: Bybit 0.055 %, OKX 0.05 %, Gate 0.075 %; see
  :mod:`isodesk.margin.venues` and ``resources/tiers/*.json``), that rate;
- Binance USDⓈ-M and COIN-M: 0.05 % (Binance "Fee Schedule of Binance Futures", FAQ
  360033544231, and binance.com/en/fee/futureFee, regular user, read 2026-11-24; the FAQ's
  older COIN-M example quotes 0.040 %);
- Hyperliquid: 0.045 % (Hyperliquid Docs, Trading → Fees, perps base tier, read 2026-11-24);
- a custom venue: 0 (its fees are the trader's own).

Funding payments, maker fills, VIP tiers and fee discounts are not counted.

**Break-even price** (quote per coin): the close price at which the position's PnL pays exactly
both fees, with ``f`` the taker rate and ``E`` the entry price:

- long: ``E × (1 + f) / (1 − f)``; short: ``E × (1 − f) / (1 + f)``.

The same formula holds for linear contracts (PnL ``q·(P − E)``, fees ``f·q·E + f·q·P``) and for
inverse ones (PnL ``c·s·(1/E − 1/P)`` in coin, fees ``f·c·s/E + f·c·s/P``): solving
``PnL = fees`` for ``P`` gives the lines above in both cases.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

PUBLISHED_TAKER = {
    "binance-usdm": 0.0005,   # Binance FAQ 360033544231 / fee schedule, regular user taker 0.0500 %
    "binance-coinm": 0.0005,  # the same schedule's COIN-M regular taker rate
    "hyperliquid": 0.00045,   # Hyperliquid Docs, Trading → Fees: perps base tier taker 0.045 %
}
"""Base-tier taker rates (fractions) of the venues whose rule counts no fee in its requirement."""


class _FeeCatalog(Protocol):
    def taker_fee(self, venue: str, contract: str) -> float: ...


def taker_fee_rate(venue: str, contract: str, catalog: _FeeCatalog | None = None) -> float:
    """The taker rate (fraction) a fill of ``venue``'s ``contract`` pays, by the assumption above:
    the catalog's rate where it has one, else the venue's published base-tier rate, else 0."""
    if catalog is not None:
        rate = float(catalog.taker_fee(venue, contract))
        if rate > 0:
            return rate
    return PUBLISHED_TAKER.get(venue, 0.0)


def break_even_price(entry: float, long: bool, fee_rate: float) -> float:
    """The price (quote per coin) at which a position entered at ``entry`` closes with zero PnL after
    paying the taker fee ``fee_rate`` (fraction) on the open and on the close; NaN when unknown."""
    if not (entry > 0 and 0 <= fee_rate < 1):
        return float("nan")
    return entry * (1 + fee_rate) / (1 - fee_rate) if long else entry * (1 - fee_rate) / (1 + fee_rate)


def break_even_prices(entry: np.ndarray, long: np.ndarray, fee_rate: np.ndarray) -> np.ndarray:
    """:func:`break_even_price` of many positions (float64 arrays; NaN where unknown)."""
    entry = np.asarray(entry, dtype=np.float64)
    f = np.asarray(fee_rate, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(np.asarray(long, dtype=bool), entry * (1 + f) / (1 - f), entry * (1 - f) / (1 + f))
    bad = ~(entry > 0) | ~((f >= 0) & (f < 1))
    return np.where(bad, np.nan, out)
