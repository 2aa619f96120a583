"""How isodesk writes its figures, once, for every view: the cards, the table, the forms, the journal
and the command line (``isodesk status``). Pure: the standard library only, no Qt.

Conventions:

- **Distance to liquidation** (:func:`fmt_distance`, :func:`distance_parts`): unsigned percent of
  the mark with two decimals, ``3.34 % away``; once the mark has crossed the liquidation price,
  ``0.52 % past``. The engine's ``distance_frac`` is signed (``s·(mark − liq)/mark``, negative when
  crossed); the sign becomes the word, never a minus.
- **Money** (:func:`fmt_money`): the settlement currency's precision, 2 decimals for USD-like coins
  (USDT, USDC, USD…) and 8 for the others (BTC), thousands grouped.
- **Prices** (:func:`fmt_price`): precision by magnitude, 2 decimals from 100 up, 4 from 1 up, 6 below.
- **Percentages** (:func:`fmt_pct`): 2 decimals under 10 %, 1 from there.

Negative figures carry a typographic minus (``−``) on screen; ``ascii=True`` gives the command line
its plain ``-``. Every function returns an em dash for a missing figure (NaN, None, infinite).
"""

from __future__ import annotations

import math

DASH = "—"
MINUS = "−"
DISTANCE_DECIMALS = 2


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _sign(text: str, ascii_minus: bool) -> str:
    return text if ascii_minus else text.replace("-", MINUS)


def distance_parts(frac: float | None) -> tuple[float, bool] | None:
    """The distance to liquidation as shown: (unsigned percent of the mark rounded to two decimals,
    past), where ``past`` is True once the mark has crossed the liquidation price; None when unknown.

    ``frac`` is the engine's signed fraction of the mark (``0.0334`` → ``(3.34, False)``,
    ``-0.0052`` → ``(0.52, True)``). A distance that rounds to 0.00 reads ``away``.
    """
    if not _finite(frac):
        return None
    assert frac is not None
    pct = round(abs(frac) * 100, DISTANCE_DECIMALS) + 0.0
    return pct, bool(frac < 0 and pct)


def fmt_distance(frac: float | None) -> str:
    """The distance from mark to liquidation price (a signed fraction of the mark) as every view
    shows it: ``3.34 % away``, ``0.52 % past``; ``—`` when unknown."""
    parts = distance_parts(frac)
    if parts is None:
        return DASH
    pct, past = parts
    return f"{pct:.{DISTANCE_DECIMALS}f} % {'past' if past else 'away'}"


def price_decimals(value: float) -> int:
    """Decimals shown for a price: 2 from 100 up, 4 from 1 up, else 6."""
    a = abs(value)
    return 2 if a >= 100 else 4 if a >= 1 else 6


def fmt_price(value: float | None, *, ascii: bool = False) -> str:
    """A price with precision by magnitude (``60,000.00``, ``3.1416``, ``0.146842``); ``—`` when unknown."""
    if not _finite(value):
        return DASH
    assert value is not None
    return _sign(f"{value + 0.0:,.{price_decimals(value)}f}", ascii)


def money_decimals(currency: str) -> int:
    """2 decimals for USD-like settlement currencies (USDT, USDC, USD…), 8 otherwise (BTC)."""
    return 2 if currency.upper().startswith("USD") else 8


def fmt_money(value: float | None, currency: str = "USDT", *, signed: bool = False, ascii: bool = False) -> str:
    """Money in its currency's precision (``1,700.00``, ``0.10000000``); ``signed`` adds ``+`` to gains."""
    if not _finite(value):
        return DASH
    assert value is not None
    d = money_decimals(currency)
    value = round(value, d) + 0.0  # no "−0.00"
    return _sign(f"{value:+,.{d}f}" if signed else f"{value:,.{d}f}", ascii)


def fmt_pct(value_pct: float | None, *, signed: bool = False, decimals: int | None = None,
            ascii: bool = False) -> str:
    """A percentage already multiplied by 100: 2 decimals under 10 %, 1 from there; ``—`` when unknown."""
    if not _finite(value_pct):
        return DASH
    assert value_pct is not None
    d = decimals if decimals is not None else (2 if abs(value_pct) < 10 else 1)
    value_pct = round(value_pct, d) + 0.0
    return _sign(f"{value_pct:+.{d}f} %" if signed else f"{value_pct:.{d}f} %", ascii)


def fmt_qty(value: float | None, *, ascii: bool = False) -> str:
    """A quantity with up to 8 decimals, no trailing zeros (``0.2``, ``1,250``)."""
    if not _finite(value):
        return DASH
    text = f"{value:,.8f}".rstrip("0").rstrip(".")
    return _sign(text, ascii)
