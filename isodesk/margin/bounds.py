"""Bounds of every amount, price, quantity, leverage and text isodesk accepts: one place for all.

The command line, the forms, file import, venue answers and the desk all call these functions, so
a value one of them accepts is accepted by all, and a refusal always says which field was wrong,
what the value was and what the rule is. Pure: standard library only.

The rules (the same for every currency; stated once here and in the README):

- **amounts** (collateral, deposits, withdrawals, isolated margin): finite, greater than 0, at most
  :data:`MAX_AMOUNT` (10^12 units of the settlement currency) and at most :data:`AMOUNT_DECIMALS`
  (8) decimal places, the precision the ledger keeps (1 satoshi);
- **prices** (entry, close, mark): finite, within [:data:`MIN_PRICE`, :data:`MAX_PRICE`]
  (10^-12 … 10^12 quote per coin) and at most :data:`PRICE_DECIMALS` (12) decimal places;
- **quantities**: finite, greater than 0, at most 10^12 and at most 8 decimal places;
- **leverage**: from :data:`MIN_LEVERAGE` (1×) to :data:`MAX_LEVERAGE` (200×; Binance and OKX
  cap at 125×, Bybit at 100× or 200× on a few pairs, Hyperliquid at 50×);
- **moves** (what-if price shocks, in percent of the current price): above −100 %, at most
  +:data:`MAX_MOVE_PCT` % (10^6 %) and at most 8 decimal places;
- **text** (labels, reasons, account names): printable, no control or bidi-override characters,
  at most :data:`MAX_LABEL` (64) or :data:`MAX_REASON` (500) characters;
- **written numbers**: digits with one optional ``.`` decimal point, an optional sign and
  exponent, ``_`` between digits; a comma is refused with the reason (``1,5`` is never read as
  15 or as 1.5), as are ``NaN``, ``Infinity`` and numbers longer than 64 characters.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal, InvalidOperation

AMOUNT_DECIMALS = 8
PRICE_DECIMALS = 12
QUANTITY_DECIMALS = 8
MAX_AMOUNT = Decimal(10) ** 12
MAX_QUANTITY = Decimal(10) ** 12
MIN_PRICE = Decimal(10) ** -12
MAX_PRICE = Decimal(10) ** 12
MIN_LEVERAGE = Decimal(1)
MAX_LEVERAGE = Decimal(200)
MAX_LABEL = 64
MAX_REASON = 500
MAX_NUMBER_TEXT = 64
MAX_MOVE_PCT = Decimal(10) ** 6

_NUMBER = re.compile(r"[+-]?(\d+(_\d+)*)?(\.(\d+(_\d+)*)?)?([eE][+-]?\d+)?")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


class BoundsError(ValueError):
    """A value outside its bounds; the message names the field, the value and the rule."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_decimal(text: str, field: str) -> Decimal:
    """The exact Decimal written in ``text`` (a dot as decimal point); :class:`BoundsError` otherwise.

    Commas are refused with the reason rather than guessed at: ``1,5`` might mean 1.5 (a decimal
    comma) or 15 (a thousands separator), and a wrong guess moves the wrong amount of money.
    """
    if not isinstance(text, str):
        raise BoundsError(field, f"{text!r} is not text")
    written = text.strip()
    if not written:
        raise BoundsError(field, "is empty; give a number")
    if len(written) > MAX_NUMBER_TEXT:
        raise BoundsError(field, f"{_show(written)} is {len(written)} characters long; a number has at most "
                                 f"{MAX_NUMBER_TEXT}")
    if "," in written:
        raise BoundsError(field, f"{_show(written)} has a comma; write the decimal point as '.' and no thousands "
                                 "separators (1,5 is not read as 1.5 or as 15)")
    if not _NUMBER.fullmatch(written) or not any(c.isdigit() for c in written.split("e")[0].split("E")[0]):
        raise BoundsError(field, f"{_show(written)} is not a decimal number")
    try:
        value = Decimal(written.replace("_", ""))
    except InvalidOperation:
        raise BoundsError(field, f"{_show(written)} is not a decimal number") from None
    if not value.is_finite():
        raise BoundsError(field, f"{_show(written)} is not a finite number")
    return value


def decimal_places(value: Decimal) -> int:
    """How many decimal places ``value`` is written with (0 for integers, 2 for ``1.50``; ``1.50`` and
    ``1.5`` differ: trailing zeros count only where they are written)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _decimal(value: object, field: str) -> Decimal:
    if isinstance(value, bool):
        raise BoundsError(field, f"{value!r} is not a number")
    if isinstance(value, str):
        return parse_decimal(value, field)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BoundsError(field, f"{value!r} is not a finite number")
        return Decimal(repr(value))
    if not isinstance(value, Decimal):
        raise BoundsError(field, f"{value!r} is not a number")
    if not value.is_finite():
        raise BoundsError(field, f"{value} is not a finite number")
    return value


def check_amount(value: object, field: str = "amount", currency: str = "") -> Decimal:
    """An amount of money (settlement currency) within the bounds above, as an exact Decimal."""
    amount = _decimal(value, field)
    unit = f" {currency}" if currency else ""
    if amount <= 0:
        raise BoundsError(field, f"{_num(amount)}{unit} must be greater than 0")
    if amount > MAX_AMOUNT:
        raise BoundsError(field, f"{_num(amount)}{unit} is more than the largest amount isodesk keeps "
                                 f"(10^12{unit})")
    if decimal_places(amount) > AMOUNT_DECIMALS:
        raise BoundsError(field, f"{_num(amount)}{unit} has more than {AMOUNT_DECIMALS} decimal places "
                                 f"(the ledger keeps 0.00000001)")
    return amount


def check_price(value: object, field: str = "price") -> Decimal:
    """A price (quote currency per coin) within the bounds above, as an exact Decimal."""
    price = _decimal(value, field)
    if price <= 0:
        raise BoundsError(field, f"{_num(price)} must be greater than 0")
    if not MIN_PRICE <= price <= MAX_PRICE:
        raise BoundsError(field, f"{_num(price)} is outside the prices isodesk accepts (10^-12 to 10^12)")
    if decimal_places(price) > PRICE_DECIMALS:
        raise BoundsError(field, f"{_num(price)} has more than {PRICE_DECIMALS} decimal places")
    return price


def price_in_bounds(price: float) -> bool:
    """True if a float mark price is finite and within [10^-12, 10^12] (the tick guard's test)."""
    return math.isfinite(price) and float(MIN_PRICE) <= price <= float(MAX_PRICE)


def check_quantity(value: object, field: str = "quantity") -> Decimal:
    """A position size (base units for linear, contracts for inverse) within the bounds above."""
    qty = _decimal(value, field)
    if qty <= 0:
        raise BoundsError(field, f"{_num(qty)} must be greater than 0")
    if qty > MAX_QUANTITY:
        raise BoundsError(field, f"{_num(qty)} is more than 10^12")
    if decimal_places(qty) > QUANTITY_DECIMALS:
        raise BoundsError(field, f"{_num(qty)} has more than {QUANTITY_DECIMALS} decimal places")
    return qty


def check_leverage(value: object, field: str = "leverage") -> Decimal:
    """A leverage multiple from 1× to 200× (at most 8 decimal places)."""
    lev = _decimal(value, field)
    if not MIN_LEVERAGE <= lev <= MAX_LEVERAGE:
        raise BoundsError(field, f"{_num(lev)}× is outside 1× to 200× (no venue offers more)")
    if decimal_places(lev) > QUANTITY_DECIMALS:
        raise BoundsError(field, f"{_num(lev)} has more than {QUANTITY_DECIMALS} decimal places")
    return lev


def check_text(value: object, field: str = "label", *, max_length: int = MAX_LABEL, required: bool = True) -> str:
    """Printable text (leading and trailing spaces removed): no control, format-bidi or unassigned
    characters, at most ``max_length`` characters; empty only when not ``required``."""
    if not isinstance(value, str):
        raise BoundsError(field, f"{value!r} is not text")
    text = value.strip()
    if required and not text:
        raise BoundsError(field, "is empty")
    if len(text) > max_length:
        raise BoundsError(field, f"is {len(text)} characters long; at most {max_length}")
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Co", "Cn") or char in _BIDI or (category == "Zl" or category == "Zp"):
            raise BoundsError(field, f"has a control character {char!r} at position {index + 1}; "
                                     "only printable text is kept")
    return text


def check_move_pct(value: object, field: str = "move") -> Decimal:
    """A price move in percent of the current price (a what-if shock): above −100 % (a price stays
    above 0), at most +:data:`MAX_MOVE_PCT` % (10^6 %), at most 8 decimal places."""
    pct = _decimal(value, field)
    if pct <= -100:
        raise BoundsError(field, f"{_num(pct)} % is at or below −100 % (a price must stay above 0)")
    if pct > MAX_MOVE_PCT:
        raise BoundsError(field, f"{_num(pct)} % is more than +10^6 %")
    if decimal_places(pct) > QUANTITY_DECIMALS:
        raise BoundsError(field, f"{_num(pct)} % has more than {QUANTITY_DECIMALS} decimal places")
    return pct


def check_distance_pct(value: object, field: str = "distance") -> Decimal:
    """A distance to liquidation in percent of the mark (a top-up policy's trigger or target):
    above 0 and below 100 %, at most 8 decimal places."""
    pct = _decimal(value, field)
    if not 0 < pct < 100:
        raise BoundsError(field, f"{_num(pct)} % is outside the distances isodesk accepts (above 0, below 100 %)")
    if decimal_places(pct) > QUANTITY_DECIMALS:
        raise BoundsError(field, f"{_num(pct)} % has more than {QUANTITY_DECIMALS} decimal places")
    return pct


def plain(value: Decimal) -> str:
    """An exact amount as the trader reads it in a sentence: no exponent, no trailing zeros
    (``12500.00`` → ``12500``, ``1E+3`` → ``1000``), so the form and the desk print the same figure."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def printable(text: str) -> str:
    """``text`` with every non-printable character shown as its escape (for printing stored text that
    predates these rules to a terminal)."""
    return "".join(c if c.isprintable() and c not in _BIDI else repr(c)[1:-1] for c in text)


def _num(value: Decimal) -> str:
    text = f"{value:f}" if abs(value.adjusted()) < 30 else f"{value:E}"
    return text if len(text) <= 40 else text[:37] + "…"


def _show(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "…")
