"""The table columns and the card figures, described once as data, with their formatting.

A :class:`Column` names where its value lives (a numeric array of ``snapshot.cols``, a tuple of
``snapshot.book``, or the level), how it is shown and how it sorts. The model formats cells with
:func:`cell_text` and finds changed rows with :func:`display_key` (values rounded to what is shown,
so an unchanged text means no repaint).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt

from isodesk.desk.snapshot import Snapshot
from isodesk.ui.theme import STALE, level_name

DASH = "—"
MINUS = "−"

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


def _minus(text: str) -> str:
    return text.replace("-", MINUS)


def price_decimals(value: float) -> int:
    """Decimals shown for a price: 2 from 100 up, 4 from 1 up, else 6."""
    a = abs(value)
    return 2 if a >= 100 else 4 if a >= 1 else 6


def fmt_price(value: float) -> str:
    """A price with precision by magnitude (``60,000.00``, ``3.1416``, ``0.146842``); ``—`` for NaN."""
    if not math.isfinite(value):
        return DASH
    return _minus(f"{value + 0.0:,.{price_decimals(value)}f}")


def money_decimals(currency: str) -> int:
    """2 decimals for USD-like settlement currencies (USDT, USDC, USD…), 8 otherwise (BTC)."""
    return 2 if currency.upper().startswith("USD") else 8


def fmt_money(value: float, currency: str = "USDT", *, signed: bool = False) -> str:
    """Money in its currency's precision (``1,700.00``, ``0.10000000``); ``signed`` adds ``+``."""
    if not math.isfinite(value):
        return DASH
    d = money_decimals(currency)
    value = round(value, d) + 0.0  # no "−0.00"
    return _minus(f"{value:+,.{d}f}" if signed else f"{value:,.{d}f}")


def fmt_pct(value_pct: float, *, signed: bool = False, decimals: int | None = None) -> str:
    """A percentage already multiplied by 100: 2 decimals under 10 %, 1 from there; ``—`` for NaN."""
    if not math.isfinite(value_pct):
        return DASH
    d = decimals if decimals is not None else (2 if abs(value_pct) < 10 else 1)
    value_pct = round(value_pct, d) + 0.0
    return _minus(f"{value_pct:+.{d}f} %" if signed else f"{value_pct:.{d}f} %")


def fmt_leverage(value: float) -> str:
    """``20×``, ``2.5×``; ``—`` for NaN."""
    if not math.isfinite(value):
        return DASH
    return f"{value:g}×"


def fmt_qty(value: float) -> str:
    """A quantity with up to 8 significant decimals, no trailing zeros."""
    if not math.isfinite(value):
        return DASH
    text = f"{value:,.8f}".rstrip("0").rstrip(".")
    return _minus(text)


def fmt_age(seconds: float) -> str:
    """A short age: ``45 s``, ``12 min``, ``3 h``, ``2 d``; ``—`` when unknown."""
    if not math.isfinite(seconds):
        return DASH
    s = max(seconds, 0.0)
    if s < 90:
        return f"{s:.0f} s"
    if s < 90 * 60:
        return f"{s / 60:.0f} min"
    if s < 36 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.0f} d"


@dataclass(frozen=True, slots=True)
class Column:
    """One table column.

    ``source`` is ``cols`` (a numeric array of ``snapshot.cols``), ``book`` (a tuple attribute of
    ``snapshot.book``) or ``level``; ``kind`` picks the formatter (``text``, ``upper``, ``price``,
    ``money``, ``pct`` (a fraction shown ×100), ``ratio`` (margin ratio, fraction), ``leverage``,
    ``qty``, ``level``); ``descending`` is the natural first sort order (the riskiest first).
    """

    key: str
    header: str
    source: str
    kind: str
    align: Qt.AlignmentFlag = RIGHT
    sortable: bool = True
    descending: bool = False
    tooltip: str = ""
    width: int = 90


COLUMNS: tuple[Column, ...] = (
    Column("labels", "Position", "book", "text", LEFT, width=140),
    Column("symbols", "Symbol", "book", "text", LEFT, width=90),
    Column("venues", "Venue", "book", "text", LEFT, width=110),
    Column("sides", "Side", "book", "upper", CENTER, width=56),
    Column("level", "Level", "level", "level", CENTER, descending=True, width=96,
           tooltip="Risk level from the distance to liquidation"),
    Column("leverage", "Lev.", "cols", "leverage", width=54),
    Column("quantity", "Qty", "cols", "qty", width=90),
    Column("entry_price", "Entry", "cols", "price", width=96),
    Column("mark", "Mark", "cols", "price", width=96),
    Column("liquidation_price", "Liq. price", "cols", "price", width=96),
    Column("distance_frac", "To liq.", "cols", "pct", width=72,
           tooltip="Room left before liquidation, in % of the mark (negative: crossed)"),
    Column("distance_price", "To liq. (price)", "cols", "price", width=96,
           tooltip="Room left before liquidation, in price (negative: crossed)"),
    Column("margin_ratio", "Margin ratio", "cols", "ratio", descending=True, width=120,
           tooltip="Maintenance margin ÷ margin balance; 100 % = liquidation"),
    Column("isolated_margin", "Margin", "cols", "money", descending=True, width=100),
    Column("unrealized_pnl", "uPnL", "cols", "money", width=100),
    Column("roe", "ROE", "cols", "pct", width=72),
    Column("bankruptcy_price", "Bankruptcy", "cols", "price", width=96),
    Column("currencies", "Ccy", "book", "text", LEFT, width=52),
    Column("venue_liquidation_price", "Venue liq.", "cols", "price", width=96,
           tooltip="The venue's own liquidation price at the last import (— if never imported)"),
    Column("reconcile_diff_pct", "Δ vs venue", "cols", "signed_pct", width=84,
           tooltip="isodesk's liquidation price against the venue's, in %; beyond the tolerance it is flagged"),
)
"""The table's columns, in display order."""

COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}
"""Column position by key."""

SORT_KEY_ALIASES = {"label": "labels", "symbol": "symbols", "venue": "venues", "side": "sides",
                    "currency": "currencies"}
"""Singular names accepted by :meth:`PositionsModel.sort_by_key`."""


def column_for(key: str) -> Column:
    """The column of a key (``label`` works for ``labels``); ``KeyError`` naming the key otherwise."""
    key = SORT_KEY_ALIASES.get(key, key)
    try:
        return COLUMNS[COLUMN_INDEX[key]]
    except KeyError:
        raise KeyError(f"no column {key!r}; known: {', '.join(COLUMN_INDEX)}") from None


def shown_level(snapshot: Snapshot) -> np.ndarray:
    """The level each row shows: its :class:`Level`, or :data:`STALE` for an open position without a fresh price."""
    return np.where(snapshot.stale, STALE, snapshot.level.astype(np.int16))


def cell_text(column: Column, snapshot: Snapshot, row: int) -> str:
    """The text of one cell."""
    kind = column.kind
    if column.source == "book":
        value = getattr(snapshot.book, column.key)[row]
        return value.upper() if kind == "upper" else value
    if column.source == "level":
        return level_name(STALE if snapshot.stale[row] else int(snapshot.level[row]))
    v = float(snapshot.cols[column.key][row])
    if kind == "price":
        return fmt_price(v)
    if kind == "money":
        return fmt_money(v, snapshot.book.currencies[row])
    if kind in ("pct", "ratio"):
        return fmt_pct(v * 100)
    if kind == "signed_pct":
        flagged = math.isfinite(v) and abs(v) > snapshot.reconcile_tolerance_pct
        return fmt_pct(v, signed=True) + (" ⚠" if flagged else "")
    if kind == "leverage":
        return fmt_leverage(v)
    if kind == "qty":
        return fmt_qty(v)
    return str(v)


def money_decimals_of(snapshot: Snapshot) -> np.ndarray:
    """Money decimals per row (by settlement currency)."""
    return np.array([money_decimals(c) for c in snapshot.book.currencies], dtype=np.int16)


def display_key(column: Column, values: np.ndarray, money_dec: np.ndarray) -> np.ndarray:
    """``values`` rounded to what the column shows (NaN stays NaN): equal keys mean equal text."""
    kind = column.kind
    with np.errstate(invalid="ignore", over="ignore"):
        if kind == "price":  # the precision follows the magnitude, so the scale is per row
            a = np.abs(values)
            dec = np.where(a >= 100, 2, np.where(a >= 1, 4, 6))
        elif kind == "money":
            dec = money_dec
        elif kind in ("pct", "ratio"):
            a = np.abs(values) * 100
            dec = np.where(a < 10, 4, 3)  # fraction: 2 or 1 decimals of the percentage
        elif kind == "signed_pct":
            dec = np.where(np.abs(values) < 10, 2, 1)  # already a percentage
        elif kind == "leverage" or kind == "qty":
            dec = np.full(values.shape, 8)
        else:
            return values
        return np.round(values * np.power(10.0, dec))


def card_keys() -> tuple[str, ...]:
    """The numeric columns a card shows (a change in any of them repaints the card)."""
    return ("mark", "liquidation_price", "distance_price", "distance_frac", "margin_ratio", "isolated_margin",
            "unrealized_pnl", "roe", "leverage", "reconcile_diff_pct")
