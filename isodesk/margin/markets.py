"""Which price series marks a venue symbol: a market name, and the venue whose price it is.

Markets are named ``BASEUSDT`` (the ticker most price files use): Binance ``BTCUSDT``, Hyperliquid
``BTC``, Bybit inverse ``BTCUSD``, OKX ``BTC-USDT-SWAP`` and Gate ``BTC_USDT`` all belong to the
market ``BTCUSDT``. Prices are kept per **series** ``(venue, market)``: the venue's own mark of that
market (``("hyperliquid", "BTCUSDT")``), or, with the venue :data:`REFERENCE` (``""``), a reference
price of the market that no venue published (an old price file, the demo's starting marks). A
position follows its own venue's series; the reference series marks it only until its venue's
own price arrives (the rule is the desk's: :mod:`isodesk.desk.marks`).

Two contracts of one venue and market (Bybit ``BTCUSDT`` linear and ``BTCUSD`` inverse) share one
series: the basis between them is not modelled.
"""

from __future__ import annotations

from isodesk.margin.venues import VENUES

#: The venue of a reference price (a price of the market, not of one venue).
REFERENCE = ""

#: A price series: ``(venue, market)``; venue :data:`REFERENCE` for the reference price.
PriceKey = tuple[str, str]


def market_of(venue: str, symbol: str) -> str:
    """The market name (``BASEUSDT``) whose price marks ``symbol`` on ``venue``."""
    s = symbol.upper().replace("-SWAP", "").replace("_PERP", "")
    for sep in ("-", "_", "/"):
        if sep in s:
            return s.split(sep)[0] + "USDT"
    for quote in ("USDT", "USDC", "USD1", "BUSD", "USD"):
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)] + "USDT"
    return s + "USDT"


def series_of(venue: str, symbol: str) -> PriceKey:
    """The series of ``venue``'s own mark price of ``symbol``: ``(venue, market_of(venue, symbol))``."""
    return (venue, market_of(venue, symbol))


def price_key(venue: str | None, market: str) -> PriceKey:
    """The series of a price of ``market`` published by ``venue`` (None or ``""``: a reference price)."""
    return (venue or REFERENCE, market)


def venue_name(text: str) -> str | None:
    """The venue written in ``text`` as isodesk names it (``Hyperliquid`` → ``hyperliquid``); None for an
    empty text (a reference price). ValueError naming the known venues when it is none of them."""
    name = text.strip().lower()
    if not name:
        return None
    if name not in VENUES:
        raise ValueError(f"venue {text.strip()!r} is not one of {', '.join(VENUES)} (leave it empty for a "
                         "reference price)")
    return name
