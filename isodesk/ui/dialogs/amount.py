"""Exact amounts, prices, quantities and leverages for the forms: text in, ``Decimal`` out, never
through a float.

A form accepts exactly what the command line, file import and the desk accept: the text is read
by :func:`isodesk.margin.bounds.parse_decimal` (a ``.`` decimal point; a comma is refused with the
reason, since ``1,5`` could mean 1.5 or 15 and a wrong guess moves the wrong amount of money) and
held to the bounds of its kind (``check_amount``, ``check_price``, ``check_quantity``,
``check_leverage``); a refusal is the bounds' own sentence, shown inline. ``QDoubleValidator``
would round through a double and read the locale's separators, so it is not used. The locale only
formats figures for display (:func:`format_amount` with ``group=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from PySide6.QtCore import QLocale, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

from isodesk.margin.bounds import (
    AMOUNT_DECIMALS,
    BoundsError,
    check_amount,
    check_leverage,
    check_price,
    check_quantity,
)

MAX_DECIMALS = AMOUNT_DECIMALS
STEP = Decimal(1).scaleb(-MAX_DECIMALS)
KINDS: dict[str, Callable[[object, str], Decimal]] = {
    "amount": check_amount, "price": check_price, "quantity": check_quantity, "leverage": check_leverage,
}  # fmt: skip


class AmountError(ValueError):
    """Text that is not an acceptable amount; the message says why (the bounds' reason, without
    the field name the form puts in front), for the form to show."""


def _separators(locale: QLocale | None) -> tuple[str, str]:
    loc = locale if locale is not None else QLocale()
    return loc.decimalPoint(), loc.groupSeparator()


def parse_amount(text: str, *, kind: str = "amount", field: str = "amount") -> Decimal:
    """The exact ``Decimal`` written in ``text``, within the bounds of ``kind`` (``amount``,
    ``price``, ``quantity`` or ``leverage``); :class:`AmountError` with the bounds' reason otherwise.

    Exactly what :func:`isodesk.margin.bounds.parse_decimal` reads (``.`` as the decimal point, no
    group separators, an exponent allowed), whatever the locale.
    """
    try:
        return KINDS[kind](text, field)
    except BoundsError as exc:
        raise AmountError(str(exc).removeprefix(f"{exc.field}: ")) from None


def plain_amount(value: Decimal) -> str:
    """``value`` as a form's field holds it: ``.`` decimal point, no grouping, no exponent, trailing
    zeros dropped (what :func:`parse_amount` reads back exactly)."""
    text = format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(value: Decimal, locale: QLocale | None = None, *, group: bool = False) -> str:
    """``value`` for display under ``locale`` (no exponent, trailing zeros dropped; with ``group``,
    thousands grouped). A field's text is :func:`plain_amount`, which every locale reads."""
    point, sep = _separators(locale)
    whole, _, frac = plain_amount(value).partition(".")
    if group and sep:
        digits = whole.lstrip("-")
        groups = []
        while len(digits) > 3:
            digits, tail = digits[:-3], digits[-3:]
            groups.insert(0, tail)
        whole = ("-" if whole.startswith("-") else "") + sep.join([digits, *groups])
    return f"{whole}{point}{frac}" if frac else whole


def floor_amount(value: float | Decimal, decimals: int = MAX_DECIMALS) -> Decimal:
    """A limit rounded down to ``decimals`` (a limit must never be rounded up), never below 0.

    A float limit (a snapshot carries floats) stands for an exact amount the float was rounded
    from. When the float's shortest repr has at most 15 significant digits, that repr *is* the
    exact amount (two decimals of at most 15 digits never round to the same double), so
    ``12500.5`` stays 12,500.5. Beyond 15 digits (10^7 USDT to the satoshi) the exact amount may
    lie half an ulp below the float; the limit is then taken from that lower bound, so a "Max"
    never fills a satoshi more than the desk's exact balance allows.
    """
    step = Decimal(1).scaleb(-decimals)
    if isinstance(value, Decimal):
        d = value
    else:
        f = float(value)
        d = Decimal(repr(f))
        if math.isfinite(f) and len(d.as_tuple().digits) > 15:
            d = Decimal(f) - Decimal(math.ulp(f)) / 2  # the smallest exact amount this float can stand for
    return max(d.quantize(step, rounding=ROUND_DOWN), Decimal(0))


def exact(value: float) -> Decimal:
    """A float from a snapshot as the shortest Decimal that prints the same (``12500.0`` → ``12500``)."""
    return Decimal(repr(float(value)))


class AmountEdit(QLineEdit):
    """A line edit for one exact amount (or price, quantity, leverage: ``kind``); ``value()`` is the
    Decimal within the bounds or None, ``error()`` why not.

    Signals:
        amount_changed(): the text changed (by the user or :meth:`set_amount`).
    """

    amount_changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, locale: QLocale | None = None, placeholder: str = "",
                 kind: str = "amount"):
        super().__init__(parent)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        self._locale = locale if locale is not None else QLocale()
        self._kind = kind
        self.setPlaceholderText(placeholder or "0")
        self.textChanged.connect(self.amount_changed)

    def locale_(self) -> QLocale:
        """The locale figures around this field are displayed in (the text itself is read the same
        in every locale)."""
        return self._locale

    def kind(self) -> str:
        """``amount``, ``price``, ``quantity`` or ``leverage``: the bounds the value is held to."""
        return self._kind

    def value(self) -> Decimal | None:
        """The value, or None when the text is not acceptable."""
        try:
            return parse_amount(self.text(), kind=self._kind)
        except AmountError:
            return None

    def error(self) -> str:
        """Why the text is not acceptable ("" when it is): the bounds' reason."""
        try:
            parse_amount(self.text(), kind=self._kind)
        except AmountError as exc:
            return str(exc)
        return ""

    def set_amount(self, value: Decimal | None) -> None:
        """Show ``value`` as the field reads it back (empty for None)."""
        self.setText("" if value is None else plain_amount(value))
