"""The table columns and the card figures, described once as data, with their formatting.

A :class:`Column` names where its value lives (a numeric array of ``snapshot.cols``, a figure
derived from them, a tuple of ``snapshot.book``, or the level), how it is shown and how it sorts.
The model formats cells with :func:`cell_text`, the card delegate its figures with
:func:`format_value` on the same columns, so a figure reads the same on a card and in the table;
:func:`display_key` finds changed rows (values rounded to what is shown, so an unchanged text
means no repaint).

Conventions fixed here, for every view:

- **Distance to liquidation** (:func:`fmt_distance`): unsigned percent of the mark, always two
  decimals, ``3.34 % away``; once the mark has crossed the liquidation price, ``0.52 % past``.
- **Money**: the settlement currency's precision (2 decimals for USD-like coins, 8 for coins);
  uPnL signed. Money columns sort by their USD value (:func:`usd_values`): stablecoins at 1, a
  coin at its position's mark.
- **Way to liquidation used** (:func:`way_used`): the gauge's figure, 0 % at entry, 100 % at
  liquidation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt

from isodesk.desk.fees import break_even_price, break_even_prices, taker_fee_rate
from isodesk.desk.snapshot import Snapshot
from isodesk.formats import (
    DASH,
    MINUS,
    fmt_distance,
    fmt_money,
    fmt_pct,
    fmt_price,
    fmt_qty,
    money_decimals,
    price_decimals,
)
from isodesk.ui.theme import STALE, level_name

__all__ = ["CENTER", "CLOSED_TEXT", "COLUMNS", "COLUMN_INDEX", "DASH", "LEFT", "MINUS", "RIGHT", "SORT_KEY_ALIASES",
           "STABLECOINS", "Column", "DisplayKeys", "book_value", "card_keys", "cell_text", "changed_rows", "column_for",
           "column_values", "derived_value", "derived_values", "display_key", "figure", "fmt_age", "fmt_distance",
           "fmt_flag", "fmt_leverage", "fmt_money", "fmt_pct", "fmt_price", "fmt_qty", "format_value", "is_stablecoin",
           "level_text", "long_rows", "money_decimals", "money_decimals_of", "per_book", "price_decimals",
           "row_texts", "status_rows", "taker_fees", "usd_values", "way_used", "zone_starts"]

LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


STABLECOINS = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USDE", "USDS", "USDP", "PYUSD",
                         "USDD", "USDH"})
"""Settlement currencies valued at 1 USD when money columns are sorted across currencies."""


def is_stablecoin(currency: str) -> bool:
    """True for a USD stablecoin (or USD itself): its amounts count 1:1 in USD."""
    return currency.upper() in STABLECOINS


def usd_values(values: np.ndarray, currencies: tuple[str, ...] | list[str], marks: np.ndarray) -> np.ndarray:
    """Money amounts (one per position, in each position's settlement currency) in USD.

    Stablecoins count at 1; a coin (the settlement coin of an inverse contract, e.g. BTC for
    BTCUSD) at its position's mark, which is the coin's price in USD. NaN where the mark is
    unknown. This is the common unit money columns sort by.
    """
    values = np.asarray(values, dtype=np.float64)
    stable = np.fromiter((is_stablecoin(c) for c in currencies), dtype=bool, count=len(currencies))
    with np.errstate(invalid="ignore"):
        return np.where(stable, values, values * np.asarray(marks, dtype=np.float64))


def way_used(entry, mark, liq):
    """How much of the way from entry to liquidation the mark has used, as a fraction in [0, 1].

    ``(mark − entry) / (liq − entry)``, clipped to [0, 1]. The one formula serves both sides: a
    long's liquidation price is under its entry, so the fraction grows as the mark falls below
    the entry; a short's is above, so it grows as the mark rises above the entry. 0 at the entry
    or better (a position in profit has used nothing), 1 at the liquidation price or past it;
    NaN where there is no liquidation price (or no mark). Works on floats and numpy arrays.
    """
    if isinstance(entry, float) and isinstance(mark, float) and isinstance(liq, float):
        return _way_used_scalar(entry, mark, liq)  # a card's paint: no numpy overhead
    entry, mark, liq = (np.asarray(x, dtype=np.float64) for x in (entry, mark, liq))
    with np.errstate(invalid="ignore", divide="ignore"):
        span = liq - entry
        used = np.where(span != 0, (mark - entry) / np.where(span != 0, span, 1.0), np.where(mark == liq, 1.0, 0.0))
        bad = ~(np.isfinite(liq) & np.isfinite(mark) & np.isfinite(entry)) | (liq <= 0)
        used = np.where(bad, np.nan, np.clip(used, 0.0, 1.0))
    return float(used) if used.ndim == 0 else used


def _way_used_scalar(entry: float, mark: float, liq: float) -> float:
    """:func:`way_used` of one position, in plain floats (the same rule)."""
    if not (math.isfinite(entry) and math.isfinite(mark) and math.isfinite(liq)) or liq <= 0:
        return math.nan
    span = liq - entry
    if span == 0:
        return 1.0 if mark == liq else 0.0
    return min(max((mark - entry) / span, 0.0), 1.0)


def zone_starts(entry, liq, long, warning: float, danger: float):
    """Where the warning and danger zones begin on the gauge, as :func:`way_used` fractions.

    A position turns warning when its distance ``s·(mark − liq)/mark`` falls to the warning
    threshold ``w`` (s = +1 long, −1 short), i.e. at the mark ``liq / (1 − s·w)``; the zone
    starts at that mark's fraction of the way from entry to liquidation (0 when the entry itself
    is already that close, as with high leverage). Same for danger. Returns ``(warn, danger)``.
    """
    if isinstance(entry, float) and isinstance(liq, float) and isinstance(long, bool):
        s1 = 1.0 if long else -1.0
        return tuple(_way_used_scalar(entry, liq / (1.0 - s1 * t), liq) for t in (warning, danger))
    s = np.where(np.asarray(long, dtype=bool), 1.0, -1.0)
    liq = np.asarray(liq, dtype=np.float64)
    starts = []
    for threshold in (warning, danger):
        with np.errstate(invalid="ignore", divide="ignore"):
            mark_at = liq / (1.0 - s * threshold)
        used = way_used(entry, mark_at, liq)
        starts.append(used)
    return starts[0], starts[1]





def fmt_leverage(value: float) -> str:
    """``20×``, ``2.5×``; ``—`` for NaN."""
    if not math.isfinite(value):
        return DASH
    return f"{value:g}×"



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
    ``snapshot.book``), ``derived`` (computed from those arrays: ``liq_used``, ``break_even``, see
    :func:`derived_values`) or ``level``; ``kind`` picks the formatter (``text``, ``upper``, ``flag``,
    ``price``, ``money`` (sorted by USD value), ``pct`` (a fraction shown ×100), ``ratio`` (margin
    ratio, fraction), ``distance`` (:func:`fmt_distance`), ``used`` (gauge fraction), ``leverage``,
    ``qty``, ``level``); ``signed`` shows a ``+`` on gains; ``descending`` is the natural first sort
    order (the riskiest first).
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
    signed: bool = False


USD_SORT_NOTE = "Sorted by USD value across currencies: stablecoins (USDT, USDC…) at 1, coins at their mark."

COLUMNS: tuple[Column, ...] = (
    Column("labels", "Position", "book", "text", LEFT, width=140),
    Column("symbols", "Symbol", "book", "text", LEFT, width=90),
    Column("venues", "Venue", "book", "text", LEFT, width=110),
    Column("sides", "Side", "book", "upper", CENTER, width=56),
    Column("level", "Level", "level", "level", CENTER, descending=True, width=150,
           tooltip="Risk level from the distance to liquidation and your warning/danger thresholds "
                   "(a stale price keeps its last level, marked STALE)"),
    Column("distance_frac", "To liq.", "cols", "distance", width=96,
           tooltip="Distance from the mark to the liquidation price, in % of the mark "
                   "(\u201cpast\u201d once crossed)"),
    Column("liq_used", "Way to liq.", "derived", "used", descending=True, width=130,
           tooltip="How much of the way from entry to liquidation the mark has used: 0 % at entry, "
                   "100 % at liquidation; zones at your warning and danger thresholds"),
    Column("mark", "Mark", "cols", "price", width=96),
    Column("liquidation_price", "Liq. price", "cols", "price", width=96),
    Column("entry_price", "Entry", "cols", "price", width=96),
    Column("leverage", "Lev.", "cols", "leverage", width=54),
    Column("quantity", "Qty", "cols", "qty", width=90),
    Column("margin_ratio", "Margin ratio", "cols", "ratio", descending=True, width=96,
           tooltip="Maintenance margin ÷ margin balance, as the venues print it; 100 % = liquidation"),
    Column("isolated_margin", "Margin", "cols", "money", descending=True, width=100,
           tooltip="Isolated margin in the settlement currency. " + USD_SORT_NOTE),
    Column("unrealized_pnl", "uPnL", "cols", "money", width=100, signed=True,
           tooltip="Unrealized PnL in the settlement currency. " + USD_SORT_NOTE),
    Column("roe", "ROE", "cols", "pct", width=72, signed=True),
    Column("distance_price", "To liq. (price)", "cols", "price", width=96,
           tooltip="Room left before liquidation, in price (negative: crossed)"),
    Column("bankruptcy_price", "Bankruptcy", "cols", "price", width=96),
    Column("currencies", "Ccy", "book", "text", LEFT, width=52),
    Column("venue_liquidation_price", "Venue liq.", "cols", "price", width=96,
           tooltip="The venue's own liquidation price at the last import (— if never imported)"),
    Column("reconcile_diff_pct", "Δ vs venue", "cols", "signed_pct", width=84,
           tooltip="isodesk's liquidation price against the venue's, in %; beyond the tolerance it is flagged"),
    Column("notional", "Notional", "cols", "money", descending=True, width=110,
           tooltip="Size at the mark in the settlement currency (coins for inverse contracts). " + USD_SORT_NOTE),
    Column("break_even", "Break-even", "derived", "price", width=96,
           tooltip="The close price at which the PnL pays the fees: entry × (1 + f)/(1 − f) long, "
                   "entry × (1 − f)/(1 + f) short, f the venue's base taker rate, paid to open and to close "
                   "(isodesk.desk.fees)"),
    Column("auto_add_margin", "Auto-add", "book", "flag", CENTER, sortable=False, width=72,
           tooltip="The venue's auto-add-margin setting at the last import: the venue tops the isolated margin "
                   "up from the free balance before liquidating (blank: never imported, or the venue does not say)"),
    Column("adl_rank", "ADL", "book", "rank", CENTER, sortable=False, width=56,
           tooltip="The venue's auto-deleveraging rank at the last import, 0 (last in the queue) to 5 (first to "
                   "be deleveraged when the venue's insurance fund cannot cover a bankrupt position): Bybit "
                   "adlRankIndicator, OKX adl (blank: never imported, or the venue does not say)"),
    # funding (isodesk.desk.funding): negative = paid; the drift + towards the mark
    Column("funding_since_open", "Funding", "cols", "money", width=96, signed=True,
           tooltip="Funding paid (−) or received (+) since the position opened, settled by the venue's rule. "
                   + USD_SORT_NOTE),
    Column("next_funding_amount", "Next funding", "cols", "money", width=100, signed=True,
           tooltip="The next funding payment at the current mark and rate (− paid, + received). " + USD_SORT_NOTE),
    Column("liq_drift_pct_day", "Liq. drift", "cols", "pct_day", descending=True, width=96,
           tooltip="How far one day of funding at the current rate moves the liquidation price, in % of the "
                   "mark: + towards the mark (riskier), − away from it"),
    # the odds of liquidation (isodesk.desk.volatility): blank until the market has a realized volatility
    Column("liq_prob_24h", "24 h liq odds", "cols", "pct", descending=True, width=96,
           tooltip="Most likely to be liquidated in 24 h first: the probability that the mark touches the "
                   "liquidation price within 24 h, for a driftless log-normal walk at the market's realized "
                   "volatility (EWMA, half-life odds.half_life_s)"),
    Column("liq_prob_1h", "1 h liq odds", "cols", "pct", descending=True, width=84,
           tooltip="The probability that the mark touches the liquidation price within 1 hour (same model)"),
    Column("sigma_distance", "To liq. (σ)", "cols", "sigma", width=84,
           tooltip="Distance to liquidation in daily standard deviations of the log price (realized volatility)"),
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


def derived_values(key: str, snapshot: Snapshot) -> np.ndarray:
    """The array of a ``derived`` column: ``liq_used`` is :func:`way_used` of every row,
    ``break_even`` each row's :func:`~isodesk.desk.fees.break_even_price` (quote per coin)."""
    c = snapshot.cols
    if key == "liq_used":
        return np.asarray(way_used(c["entry_price"], c["mark"], c["liquidation_price"]), dtype=np.float64)
    if key == "break_even":
        return break_even_prices(c["entry_price"], long_rows(snapshot), taker_fees(snapshot))
    raise KeyError(f"no derived column {key!r}")


_PER_BOOK: dict[str, tuple[object, object]] = {}


def per_book(snapshot: Snapshot, name: str, make, fields: tuple[str, ...] = ()):
    """``make(snapshot.book)``, computed once per book object (a new ``BookInfo`` is made only when
    positions are added, removed or change status, so anything derived from the book alone can be
    kept until then).

    ``fields``: the ``BookInfo`` tuples the value depends on, if not all of it. A new book whose
    tuples are equal to the last one's keeps the value: a liquidation makes a new book (a status
    changed) with the same venues, symbols and currencies, and at 10,000 positions remaking what
    depends on them alone cost ~100 ms of the GUI thread per liquidation (one tuple comparison is
    ~0.1 ms).
    """
    book = snapshot.book
    hit = _PER_BOOK.get(name)
    if hit is not None:
        old = hit[0]
        if old is book or (fields and len(old) == len(book)
                           and all(getattr(old, f) == getattr(book, f) for f in fields)):
            if old is not book:
                _PER_BOOK[name] = (book, hit[1])
            return hit[1]
    value = make(book)
    _PER_BOOK[name] = (book, value)
    return value


def long_rows(snapshot: Snapshot) -> np.ndarray:
    """Per row: the position is long (bool, read-only; once per book)."""
    def make(book):
        out = np.fromiter((s == "long" for s in book.sides), dtype=bool, count=len(book))
        out.flags.writeable = False
        return out
    return per_book(snapshot, "long_rows", make, ("sides",))


def status_rows(snapshot: Snapshot, status: str) -> np.ndarray:
    """Per row: the position's status is ``status`` (``open``, ``closed``…; bool, read-only; once per book)."""
    def make(book):
        # one C-level comparison over an object array (a Python loop over 10,000 statuses was ~1 ms
        # of the GUI thread per status, at every liquidation)
        out = np.asarray(np.asarray(book.statuses, dtype=object) == status, dtype=bool).reshape(len(book))
        out.flags.writeable = False
        return out
    return per_book(snapshot, f"status:{status}", make)


_FEES: list[tuple[object, object, np.ndarray]] = []


def taker_fees(snapshot: Snapshot) -> np.ndarray:
    """Each row's taker fee rate (fraction, :func:`isodesk.desk.fees.taker_fee_rate` with the desk's
    catalog), computed once per book and catalog."""
    book, cat = snapshot.book, snapshot.catalog
    if _FEES and _FEES[0][1] is cat:
        old = _FEES[0][0]
        if old is book or (len(old) == len(book) and old.venues == book.venues  # type: ignore[attr-defined]
                           and old.contracts == book.contracts):  # type: ignore[attr-defined]
            _FEES[0] = (book, cat, _FEES[0][2])
            return _FEES[0][2]
    by_pair: dict[tuple[str, str], float] = {}  # one look-up per (venue, contract), not per position
    for pair in zip(book.venues, book.contracts, strict=True):
        if pair not in by_pair:
            by_pair[pair] = taker_fee_rate(pair[0], pair[1], cat)
    rates = np.array([by_pair[pair] for pair in zip(book.venues, book.contracts, strict=True)], dtype=np.float64)
    rates.flags.writeable = False
    _FEES[:] = [(book, cat, rates)]
    return rates


def derived_value(key: str, snapshot: Snapshot, row: int) -> float:
    """One row's value of a ``derived`` column (the cards' path: no array of every row)."""
    c = snapshot.cols
    if key == "liq_used":
        return way_used(float(c["entry_price"][row]), float(c["mark"][row]), float(c["liquidation_price"][row]))
    if key == "break_even":
        return break_even_price(float(c["entry_price"][row]), snapshot.book.sides[row] == "long",
                                float(taker_fees(snapshot)[row]))
    raise KeyError(f"no derived column {key!r}")


def column_values(column: Column, snapshot: Snapshot) -> np.ndarray:
    """The float64 array behind a numeric (``cols``) or ``derived`` column."""
    if column.source == "derived":
        return derived_values(column.key, snapshot)
    values = snapshot.cols.get(column.key)
    if values is None:  # a column spec newer than the snapshot (an older desk): nothing to show
        return np.full(len(snapshot), np.nan)
    return np.asarray(values, dtype=np.float64)


def format_value(column: Column, value: float, currency: str = "USDT", tolerance_pct: float = 0.5) -> str:
    """One numeric figure as the column shows it (the cards call this too, so both read alike)."""
    kind = column.kind
    if kind == "price":
        return fmt_price(value)
    if kind == "money":
        return fmt_money(value, currency, signed=column.signed)
    if kind == "used":
        return fmt_pct(value * 100, decimals=0)  # a gauge's reading: whole percent
    if kind in ("pct", "ratio"):
        return fmt_pct(value * 100, signed=column.signed and math.isfinite(value) and round(value * 100, 2) != 0)
    if kind == "distance":
        return fmt_distance(value)
    if kind == "signed_pct":
        flagged = math.isfinite(value) and abs(value) > tolerance_pct
        return fmt_pct(value, signed=True) + (" ⚠" if flagged else "")
    if kind == "pct_day":  # already a percentage, per day
        return fmt_pct(value, signed=True) + ("/day" if math.isfinite(value) else "")
    if kind == "sigma":  # a number of standard deviations
        return f"{value:.2f} σ" if math.isfinite(value) else DASH
    if kind == "leverage":
        return fmt_leverage(value)
    if kind == "qty":
        return fmt_qty(value)
    return str(value)


def figure(key: str, snapshot: Snapshot, row: int) -> str:
    """The text of the figure ``key`` (a column key) of one snapshot row."""
    column = COLUMNS[COLUMN_INDEX[key]]
    if column.source == "derived":
        value = derived_value(key, snapshot, row)
    else:
        values = snapshot.cols.get(key)
        value = math.nan if values is None else float(values[row])
    return format_value(column, value, snapshot.book.currencies[row], snapshot.reconcile_tolerance_pct)


CLOSED_TEXT = "CLOSED"


def level_text(level: int, stale: bool, status: str = "open") -> str:
    """A level cell's text: ``DANGER``, or ``DANGER · STALE`` when the price is stale (the level is
    kept); ``CLOSED`` for a position the trader closed."""
    if status == "closed":
        return CLOSED_TEXT
    return f"{level_name(level)} · {level_name(STALE)}" if stale else level_name(level)


def fmt_flag(value: bool | None) -> str:
    """A venue flag as a cell shows it: ``on``, ``off``, or blank where the venue did not say."""
    return "" if value is None else "on" if value else "off"


def book_value(snapshot: Snapshot, key: str, row: int) -> object:
    """One row of a tuple of ``snapshot.book`` (None where an older book has no such tuple)."""
    values = getattr(snapshot.book, key)
    return values[row] if row < len(values) else None


def cell_text(column: Column, snapshot: Snapshot, row: int) -> str:
    """The text of one cell."""
    kind = column.kind
    if column.source == "book":
        value = book_value(snapshot, column.key, row)
        if kind == "flag":
            return fmt_flag(value)  # type: ignore[arg-type]
        if kind == "rank":  # the venue's ADL rank 0–5, blank where never said
            return "" if value is None else f"{value}/5"
        return str(value).upper() if kind == "upper" else str(value)
    if column.source == "level":
        return level_text(int(snapshot.level[row]), bool(snapshot.stale[row]), snapshot.book.statuses[row])
    return figure(column.key, snapshot, row)


def row_texts(snapshot: Snapshot, row: int) -> tuple[str, ...]:
    """Every cell text of one snapshot row, in :data:`COLUMNS` order (:func:`cell_text` of each):
    what the model caches per row and version, so a repaint formats nothing."""
    return tuple([cell_text(column, snapshot, row) for column in COLUMNS])


def money_decimals_of(snapshot: Snapshot) -> np.ndarray:
    """Money decimals per row (by settlement currency; read-only, once per book)."""
    def make(book):
        decimals: dict[str, int] = {}
        out = np.array([decimals[c] if c in decimals else decimals.setdefault(c, money_decimals(c))
                        for c in book.currencies], dtype=np.int16)
        out.flags.writeable = False
        return out
    return per_book(snapshot, "money_dec", make, ("currencies",))


def display_key(column: Column, values: np.ndarray, money_dec: np.ndarray) -> np.ndarray:
    """``values`` rounded to what the column shows (NaN stays NaN): equal keys mean equal text."""
    kind = column.kind
    with np.errstate(invalid="ignore", over="ignore"):
        if kind == "price":  # the precision follows the magnitude, so the scale is per row
            a = np.abs(values)
            dec = np.where(a >= 100, 2, np.where(a >= 1, 4, 6))
        elif kind == "money":
            dec = money_dec
        elif kind == "used":
            dec = np.full(values.shape, 2)  # fraction: a whole percentage
        elif kind in ("pct", "ratio"):
            a = np.abs(values) * 100
            dec = np.where(a < 10, 4, 3)  # fraction: 2 or 1 decimals of the percentage
        elif kind == "distance":
            dec = np.full(values.shape, 4)  # fraction: always 2 decimals of the percentage
        elif kind in ("signed_pct", "pct_day"):
            dec = np.where(np.abs(values) < 10, 2, 1)  # already a percentage
        elif kind == "sigma":
            dec = np.full(values.shape, 2)
        elif kind == "leverage" or kind == "qty":
            dec = np.full(values.shape, 8)
        else:
            return values
        return np.round(values * np.power(10.0, dec))


_SCALES = {"used": 1e2, "distance": 1e4, "sigma": 1e2, "leverage": 1e8, "qty": 1e8}  # 10 ** decimals, fixed kinds


class DisplayKeys:
    """The :func:`display_key` of many columns at once, as one 2-D array (column × row).

    Built once per book (``money_dec``: :func:`money_decimals_of`); :meth:`keys` rounds every
    column of a snapshot in about fifteen whole-array numpy operations instead of about six per
    column. Fewer, larger operations matter beyond their own cost: each numpy call over a large
    array lets go of the GIL, and while the desk thread computes, taking it back can wait up to the
    interpreter's switch interval (5 ms) — a few hundred calls per snapshot were a frame or more.
    The keys are bit-for-bit :func:`display_key`'s (the scales are exact powers of ten).
    """

    def __init__(self, columns: tuple[Column, ...] | list[Column], money_dec: np.ndarray):
        self.columns = tuple(columns)
        n = len(money_dec)
        kinds = [c.kind for c in self.columns]

        def rows_of(*wanted: str) -> np.ndarray:
            return np.array([i for i, k in enumerate(kinds) if k in wanted], dtype=np.intp)

        self._price = rows_of("price")
        self._pct = rows_of("pct", "ratio")
        self._signed = rows_of("signed_pct", "pct_day")
        self._raw = rows_of(*{k for k in kinds if k not in ("price", "money", "pct", "ratio", "signed_pct", "pct_day")
                              and k not in _SCALES})
        scale = np.ones((len(self.columns), n), dtype=np.float64)
        for i, kind in enumerate(kinds):
            if kind == "money":
                scale[i] = np.power(10.0, money_dec)
            elif kind in _SCALES:
                scale[i] = _SCALES[kind]
        self._scale = scale

    def values(self, snapshot: Snapshot) -> np.ndarray:
        """The columns' values (:func:`column_values`) stacked: float64, column × row."""
        if not self.columns:
            return np.zeros((0, len(snapshot)), dtype=np.float64)
        return np.stack([column_values(c, snapshot) for c in self.columns])

    def keys(self, snapshot: Snapshot) -> np.ndarray:
        """Every column's values rounded to what it shows (NaN stays NaN), column × row: equal keys
        mean equal texts. Compare two of them with :func:`changed_columns_rows`."""
        values = self.values(snapshot)
        scale = self._scale.copy()
        with np.errstate(invalid="ignore", over="ignore"):
            if self._price.size:  # the precision follows the magnitude: per row
                a = np.abs(values[self._price])
                scale[self._price] = np.where(a >= 100, 1e2, np.where(a >= 1, 1e4, 1e6))
            if self._pct.size:  # fractions: 2 or 1 decimals of the percentage
                a = np.abs(values[self._pct]) * 100
                scale[self._pct] = np.where(a < 10, 1e4, 1e3)
            if self._signed.size:  # already percentages
                a = np.abs(values[self._signed])
                scale[self._signed] = np.where(a < 10, 1e2, 1e1)
            keys = np.round(values * scale)
        if self._raw.size:
            keys[self._raw] = values[self._raw]
        return keys


def changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per row: any column's key differs between two :meth:`DisplayKeys.keys` arrays (bool).

    Compared bit for bit, so NaN equals NaN; a zero that changed sign counts as a change (a
    repaint too many, never one too few)."""
    if not before.shape[0]:
        return np.zeros(before.shape[1], dtype=bool)
    return np.any(before.view(np.int64) != after.view(np.int64), axis=0)


def card_keys() -> tuple[str, ...]:
    """The numeric columns a card shows (a change in any of them repaints the card)."""
    return ("mark", "entry_price", "liquidation_price", "distance_frac", "margin_ratio", "isolated_margin",
            "unrealized_pnl", "roe", "leverage", "reconcile_diff_pct", "liq_used", "quantity", "notional",
            "break_even")


def total_equity_usd(snapshot) -> tuple[float, list[str]]:
    """The book's total equity in USD and the currencies that could not be priced.

    Each account's equity (free + isolated margin + uPnL, in its settlement currency) counts at 1
    for a stablecoin; a coin (BTC of an inverse account) at the mark of a position settled in that
    coin (the coin's USD price), else at the mark of its ``COINUSDT`` market; a coin with neither is
    left out and named. (Per book, the candidate rows of each coin are found once; per snapshot,
    the first of them with a finite mark prices it: O(coins), not O(positions) Python steps.)
    """
    marks = np.asarray(snapshot.cols["mark"], dtype=np.float64)
    finite = np.isfinite(marks)
    by_currency, by_market = per_book(snapshot, "equity_rows", _equity_rows,
                                       ("currencies", "venues", "symbols"))
    price: dict[str, float] = {}
    for currency, rows in by_currency:  # a position settled in the coin: the coin's USD price
        hits = rows[finite[rows]]
        if hits.size and currency not in price:
            price[currency] = float(marks[hits[0]])
    for coin, rows in by_market:  # else the first finite mark of the coin's market, in row order
        if coin in price:
            continue
        hits = rows[finite[rows]]
        if hits.size:
            price[coin] = float(marks[hits[0]])
    total, unpriced = 0.0, []
    for account in snapshot.accounts:
        currency = account.currency.upper()
        if is_stablecoin(currency):
            total += account.equity
        elif currency in price:
            total += account.equity * price[currency]
        elif account.equity:
            unpriced.append(currency)
    return total, sorted(set(unpriced))


def _equity_rows(book) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """Per book, for :func:`total_equity_usd`: the rows of each non-stable settlement currency and the
    rows of each market's coin (``market_of(venue, symbol)`` without ``USDT``), in row order; the
    coins in order of first appearance."""
    from isodesk.margin.markets import market_of

    currencies: dict[str, list[int]] = {}
    coins: dict[str, list[int]] = {}
    markets: dict[tuple[str, str], str] = {}
    for row, (currency, venue, symbol) in enumerate(zip(book.currencies, book.venues, book.symbols, strict=True)):
        if not is_stablecoin(currency):
            currencies.setdefault(currency, []).append(row)
        coin = markets.get((venue, symbol))
        if coin is None:
            coin = markets[(venue, symbol)] = market_of(venue, symbol).removesuffix("USDT")
        if coin:
            coins.setdefault(coin, []).append(row)
    return ([(c, np.asarray(r, dtype=np.intp)) for c, r in currencies.items()],
            [(c, np.asarray(r, dtype=np.intp)) for c, r in coins.items()])
