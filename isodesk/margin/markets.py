"""Which price series a venue symbol follows.

Prices are kept per market, named ``BASEUSDT`` (the ticker most price files use): Binance
``BTCUSDT``, Hyperliquid ``BTC``, Bybit inverse ``BTCUSD``, OKX ``BTC-USDT-SWAP`` and Gate
``BTC_USDT`` all follow ``BTCUSDT``. The basis between a venue's own mark and that price is not
modelled: a live venue feed supplies the venue's marks under the same market names.
"""

from __future__ import annotations


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
