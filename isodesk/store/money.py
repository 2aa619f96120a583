"""Exact money at the database boundary: ``Decimal`` in Python, TEXT in SQLite.

sqlite-utils maps a ``Decimal`` to REAL through ``float()`` and silently loses digits, so every
amount goes through :func:`to_text` on the way in and :func:`from_text` on the way out. No other
module converts money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def require_positive(value: object, field: str) -> Decimal:
    """``value`` itself if it is a finite ``Decimal`` > 0; otherwise ``ValueError`` naming ``field``.

    Floats and ints are refused on purpose: a float has already lost the exact amount.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise ValueError(f"{field} must be a decimal.Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"{field} must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"{field} must be positive, got {value}")
    return value


def to_text(value: object) -> str:
    """The exact TEXT form of a finite ``Decimal`` (``str``, which ``Decimal()`` reads back exactly);
    ``TypeError`` for anything else (a float has already lost the exact amount)."""
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise TypeError(f"money must be a decimal.Decimal, got {type(value).__name__} {value!r}")
    if not value.is_finite():
        raise ValueError(f"money must be finite, got {value}")
    return str(value)


def optional_to_text(value: Decimal | None) -> str | None:
    """:func:`to_text`, passing ``None`` through (nullable money columns)."""
    return None if value is None else to_text(value)


def from_text(text: str) -> Decimal:
    """The ``Decimal`` stored as TEXT by :func:`to_text`; ``ValueError`` if the column holds anything else."""
    if not isinstance(text, str):
        raise ValueError(f"money column holds {type(text).__name__} {text!r}, not TEXT")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"money column holds {text!r}, not a decimal number") from None


def optional_from_text(text: str | None) -> Decimal | None:
    """:func:`from_text`, passing ``None`` through."""
    return None if text is None else from_text(text)
