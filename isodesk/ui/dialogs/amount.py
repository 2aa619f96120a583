"""Exact, locale-aware amounts for the forms: text in, ``Decimal`` out, never through a float.

``QDoubleValidator`` would round through a double; we parse ourselves with the locale's decimal
point and group separator (``1,234.5`` in en_US, ``1.234,5`` in de_DE) and explain every refusal in
a sentence the form shows inline.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from PySide6.QtCore import QLocale, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

MAX_DECIMALS = 8
STEP = Decimal(1).scaleb(-MAX_DECIMALS)
_DIGITS = frozenset("0123456789")
_SPACES = frozenset(" \u00a0\u202f\u2009")


class AmountError(ValueError):
    """Text that is not an acceptable amount; the message says why, for the form to show."""


def _separators(locale: QLocale | None) -> tuple[str, str]:
    loc = locale if locale is not None else QLocale()
    return loc.decimalPoint(), loc.groupSeparator()


def parse_amount(text: str, locale: QLocale | None = None, *, decimals: int = MAX_DECIMALS,
                 allow_zero: bool = False) -> Decimal:
    """The exact positive ``Decimal`` written in ``text`` under ``locale`` (default: ``QLocale()``).

    Group separators are accepted in the integer part only, between groups of three digits; more
    than ``decimals`` decimals, signs, exponents and anything but digits are refused with
    :class:`AmountError`.
    """
    point, group = _separators(locale)
    s = text.strip()
    if not s:
        raise AmountError("enter an amount")
    if s[0] in "-\u2212" or s.startswith(QLocale(locale or QLocale()).negativeSign()):
        raise AmountError("must be positive")
    s = s.removeprefix("+")
    if group in _SPACES or group.isspace():  # French, Swiss…: any space groups digits
        s = "".join(group if c in _SPACES else c for c in s)
    if s.count(point) > 1:
        raise AmountError(f"more than one decimal point {point!r}")
    whole, _, frac = s.partition(point)
    if group and group in frac:
        raise AmountError(f"{group!r} groups digits here; it cannot follow the decimal point {point!r}")
    if group and group in whole:
        parts = whole.split(group)
        if not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])):
            raise AmountError(f"{group!r} separates groups of three digits here; write decimals with {point!r}")
        whole = "".join(parts)
    for c in whole + frac:
        if c not in _DIGITS:
            if c in ".,'" and c != point:
                raise AmountError(f"{c!r} is not the decimal point here; write decimals with {point!r}")
            raise AmountError(f"{text.strip()!r} is not a number (digits and {point!r} only)")
    if not whole and not frac:
        raise AmountError(f"{text.strip()!r} is not a number")
    if len(frac) > decimals:
        raise AmountError(f"at most {decimals} decimals")
    value = Decimal(f"{whole or '0'}.{frac}") if frac else Decimal(whole)
    if value == 0 and not allow_zero:
        raise AmountError("must be more than 0")
    return value


def format_amount(value: Decimal, locale: QLocale | None = None, *, group: bool = False) -> str:
    """``value`` as the user would type it under ``locale`` (no exponent, trailing zeros dropped)."""
    point, sep = _separators(locale)
    text = format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))
    text = text.rstrip("0").rstrip(".") if "." in text else text
    whole, _, frac = text.partition(".")
    if group and sep:
        digits = whole.lstrip("-")
        groups = []
        while len(digits) > 3:
            digits, tail = digits[:-3], digits[-3:]
            groups.insert(0, tail)
        whole = ("-" if whole.startswith("-") else "") + sep.join([digits, *groups])
    return f"{whole}{point}{frac}" if frac else whole


def floor_amount(value: float | Decimal, decimals: int = MAX_DECIMALS) -> Decimal:
    """A limit rounded down to ``decimals`` (a limit must never be rounded up), never below 0."""
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return max(d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN), Decimal(0))


def exact(value: float) -> Decimal:
    """A float from a snapshot as the shortest Decimal that prints the same (``12500.0`` → ``12500``)."""
    return Decimal(repr(float(value)))


class AmountEdit(QLineEdit):
    """A line edit for one exact amount; ``value()`` is the Decimal or None, ``error()`` why not.

    Signals:
        amount_changed(): the text changed (by the user or :meth:`set_amount`).
    """

    amount_changed = Signal()

    def __init__(self, parent: QWidget | None = None, *, locale: QLocale | None = None, placeholder: str = "",
                 decimals: int = MAX_DECIMALS):
        super().__init__(parent)
        self._locale = locale if locale is not None else QLocale()
        self._decimals = decimals
        self.setPlaceholderText(placeholder or format_amount(Decimal("0.0"), self._locale) or "0")
        self.textChanged.connect(self.amount_changed)

    def locale_(self) -> QLocale:
        """The locale the text is read in."""
        return self._locale

    def value(self) -> Decimal | None:
        """The amount, or None when the text is not an acceptable amount."""
        try:
            return parse_amount(self.text(), self._locale, decimals=self._decimals)
        except AmountError:
            return None

    def error(self) -> str:
        """Why the text is not an amount ("" when it is)."""
        try:
            parse_amount(self.text(), self._locale, decimals=self._decimals)
        except AmountError as exc:
            return str(exc)
        return ""

    def set_amount(self, value: Decimal | None) -> None:
        """Show ``value`` in the locale's notation (empty for None)."""
        self.setText("" if value is None else format_amount(value, self._locale))
