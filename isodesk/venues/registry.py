"""The venues isodesk talks to through ccxt: which ccxt class, which credentials, how mark prices come.

Checked against ccxt 4.5 (``exchange.has``): Binance USDⓈ-M and OKX have ``fetchMarkPrices`` (one
request for every market); Bybit and Hyperliquid give the mark price in ``fetchTickers``
(``markPrice``). Every venue has ``fetchPositions``. Hyperliquid needs no API key to read an account:
its "key" is the wallet address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isodesk.venues.errors import VenueError


@dataclass(frozen=True, slots=True)
class VenueSpec:
    """One live venue: the isodesk venue name, the ccxt class, the credential fields, the mark method."""

    venue: str
    ccxt_id: str
    credentials: tuple[str, ...]
    marks_method: str  # "fetch_mark_prices" or "fetch_tickers"
    min_interval_s: float
    options: dict[str, Any] = field(default_factory=dict)
    marks_params: dict[str, Any] = field(default_factory=dict)
    positions_params: dict[str, Any] = field(default_factory=dict)
    market_types: tuple[str, ...] = ("swap",)


SPECS: dict[str, VenueSpec] = {
    s.venue: s
    for s in (
        # positionRisk v2 carries the leverage setting and marginType, which v3 dropped
        VenueSpec("binance-usdm", "binanceusdm", ("apiKey", "secret"), "fetch_mark_prices", 1.0,
                  options={"fetchCurrencies": False, "fetchPositionsRisk": {"useV2": True}}),
        VenueSpec("bybit", "bybit", ("apiKey", "secret"), "fetch_tickers", 1.0,
                  options={"defaultType": "swap", "fetchCurrencies": False}),
        VenueSpec("okx", "okx", ("apiKey", "secret", "password"), "fetch_mark_prices", 1.0,
                  options={"defaultType": "swap", "fetchCurrencies": False}),
        VenueSpec("hyperliquid", "hyperliquid", ("walletAddress",), "fetch_tickers", 1.0,
                  options={"defaultType": "swap", "fetchMarkets": {"types": ["swap"]}}),
    )
}

ALIASES = {"binance": "binance-usdm", "binanceusdm": "binance-usdm", "bybit-linear": "bybit"}


def venue_spec(name: str) -> VenueSpec:
    """The live venue called ``name`` (isodesk venue name, or the ccxt id); VenueError listing the known ones."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return SPECS[key]
    except KeyError:
        raise VenueError(f"venue {name!r} has no live connection; use one of {', '.join(SPECS)}") from None
