"""Painting delegates: a whole position card, the table's way-to-liquidation gauge and level badge (QT-PRACTICES §5.4).

Numbers come straight from the snapshot arrays through ``RowRole`` (one ``data()`` call, plus
``PulseRole`` for the highlight). Colours, pens and fonts are built once per theme in a
:class:`Paints` cache; ``paint`` allocates none of them. Figures are the table's own cell texts,
taken from the model's per-row cache (:meth:`~isodesk.ui.models.PositionsModel.row_texts`,
formatted once per row version by :func:`~isodesk.ui.columns.row_texts`), so a card and a row
read alike and a repaint formats nothing.

One meaning of risk: the *level* (distance from mark to liquidation against the trader's
thresholds) colours the card's border, badge, tint and gauge. The gauge shows how much of the way
from entry to liquidation the mark has used (:func:`~isodesk.ui.columns.way_used`: 0 % at entry
or better, 100 % at the liquidation price), over a track whose zones start where the warning and
danger thresholds are reached (:func:`~isodesk.ui.columns.zone_starts`). The margin ratio is a
figure ("ratio 22.0 %"), as the venues print it. A stale position keeps its level's colours and
carries a grey STALE badge and the age of its last price.

A card's static chrome (tinted background, level border, selection ring, badges and the fixed
labels) depends only on the level, the stale flag and the selection, so it is rendered once into
an opaque pixmap per (level, stale, selected, background colour, cell size, device scale) and
blitted; the side/leverage chip is cached by its text. ``paint`` draws the gauge, the figures and
the pulse glow on top. Text widths and elided strings are cached per text (and width). Under a
transform that is not an integral scale plus an integral translation (a pixmap would be
resampled) the same chrome is painted directly.

Cards have one height and a width the card view adapts to its viewport
(:meth:`CardDelegate.set_cell_width`), never under :meth:`CardDelegate.min_cell_width`, the width
at which the widest figures still fit.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap, QStaticText
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from isodesk.desk.funding import funding_text
from isodesk.desk.levels import Level
from isodesk.formats import fmt_price
from isodesk.ui.columns import (
    CLOSED_TEXT,
    COLUMN_INDEX,
    COLUMNS,
    book_value,
    fmt_age,
    fmt_leverage,
    fmt_pct,
    row_texts,
    way_used,
    zone_starts,
)
from isodesk.ui.models import PulseRole, RowRole
from isodesk.ui.theme import LEVEL_NAMES, STALE, Theme, light_theme

CARD_SIZE = QSize(340, 178)
"""Logical size of a card cell at the default width (the view adapts the width; the height is fixed)."""
CARD_HEIGHT = CARD_SIZE.height()
CARD_MARGIN = 5
GLOW_STEPS = 12

_ARC_START = 225 * 16  # Qt angles: 1/16 degree, counter-clockwise from 3 o'clock
_ARC_SPAN = -270 * 16
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEVELS = (Level.SAFE, Level.WARNING, Level.DANGER, Level.LIQUIDATED, STALE)


def gauge_zones(snap, row: int) -> tuple[float, float, float]:
    """The gauge of one snapshot row: (used, warning start, danger start), fractions of the way
    from entry to liquidation (NaN used: no liquidation price)."""
    c = snap.cols
    entry, mark, liq = float(c["entry_price"][row]), float(c["mark"][row]), float(c["liquidation_price"][row])
    t = snap.thresholds
    warn, danger = zone_starts(entry, liq, snap.book.sides[row] == "long", t.warning, t.danger)
    return way_used(entry, mark, liq), float(warn), float(danger)


def _with_alpha(colour: QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved ``t`` of the way to ``b`` (opaque)."""
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def _pen(colour: QColor, width: float = 1.0, cap: Qt.PenCapStyle = Qt.PenCapStyle.SquareCap) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(width <= 1.0)
    pen.setCapStyle(cap)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    return pen


class Paints:
    """Everything a card or cell paints with, built once per theme."""

    def __init__(self, theme: Theme):
        t = theme
        self.theme = t
        base = t.font
        size = base.pointSizeF()

        def font(delta: float, bold: bool = False, tabular: bool = True) -> QFont:
            f = QFont(base)
            f.setPointSizeF(max(size + delta, 6.0))
            f.setBold(bold)
            if not tabular:
                f.setFeature(QFont.Tag("tnum"), 0)
            return f

        self.f_symbol = font(2.0, True, False)
        self.f_small = font(-0.5, False, False)
        self.f_key = font(-0.5, False, False)
        self.f_value = font(0.5)
        self.f_value_bold = font(0.5, True)
        self.f_badge = font(-1.5, True, False)
        self.f_gauge = font(1.0, True)
        self.fm_gauge = QFontMetrics(self.f_gauge)
        self.fm_value_bold = QFontMetrics(self.f_value_bold)
        self.f_stamp = font(7.0, True, False)
        self.f_stamp.setLetterSpacing(QFont.SpacingType.PercentageSpacing, 112)
        self.f_cell = font(0.0)
        self.fm_symbol = QFontMetrics(self.f_symbol)
        self.fm_small = QFontMetrics(self.f_small)
        self.fm_value = QFontMetrics(self.f_value)
        self.fm_badge = QFontMetrics(self.f_badge)
        self.fm_stamp = QFontMetrics(self.f_stamp)
        self.text, self.muted = QColor(t.text), QColor(t.muted)
        self.bg, self.border = QColor(t.card_bg), QColor(t.card_border)
        self.bg_liquidated = QColor(t.card_liquidated_bg)
        self.level = {lv: QColor(t.level_color(lv)) for lv in _LEVELS}
        # opaque tints (a translucent fill over the view background would depend on the base colour)
        self.bg_level = {lv: _blend(t.card_bg, t.level_color(lv), a) for lv, a in
                         ((Level.SAFE, 0.0), (Level.WARNING, 0.10), (Level.DANGER, 0.12),
                          (Level.LIQUIDATED, 0.0), (STALE, 0.0))}
        self.bg_level[Level.LIQUIDATED] = QColor(t.card_liquidated_bg)
        self.bg_level[STALE] = _blend(t.card_bg, t.stale, 0.06)
        self.border_pen = {lv: _pen(self.level[lv], 2.0) for lv in (Level.WARNING, Level.DANGER)}
        self.border_pen[Level.SAFE] = _pen(self.border)
        self.border_pen[Level.LIQUIDATED] = _pen(self.level[Level.LIQUIDATED])
        self.border_pen[STALE] = _pen(self.level[STALE])
        self.selection_pen = _pen(t.selection, 2.0)
        self.badge_fill = {lv: QBrush(self.level[lv]) for lv in _LEVELS}
        self.badge_text = QColor(t.on_badge)
        self.badge_outline = {lv: _pen(self.level[lv]) for lv in _LEVELS}
        self.chip_pen = _pen(_blend(t.card_bg, t.muted, 0.45))
        self.chip_fill = QBrush(_blend(t.card_bg, t.muted, 0.10))
        zone_colours = (t.safe, t.warning, t.danger)
        # the gauge track: one pale segment per zone (safe, warning, danger) at the trader's thresholds
        self.zone_track = tuple(_pen(_blend(t.card_bg, c, 0.28), 7.0, Qt.PenCapStyle.FlatCap) for c in zone_colours)
        self.grey_track = _pen(_blend(t.card_bg, t.liquidated, 0.25), 7.0, Qt.PenCapStyle.FlatCap)
        self.track_brush = tuple(QBrush(_blend(t.card_bg, c, 0.28)) for c in zone_colours)
        # the gauge value: the level's colour (a stale price keeps its level)
        self.level_value = {lv: _pen(self.level[lv], 7.0, Qt.PenCapStyle.FlatCap) for lv in _LEVELS}
        self.level_brush = {lv: QBrush(self.level[lv]) for lv in _LEVELS}
        self.stale_badge_fill = QBrush(t.stale)
        self.tick_pen = _pen(_blend(t.card_bg, t.muted, 0.6))
        self.stamp_pen = _pen(t.stamp, 2.5)
        self.stamp_text = QColor(t.stamp)
        self.stamp_fill = QBrush(_with_alpha(t.card_bg, 120))
        self.glow = {lv: tuple(_pen(_with_alpha(self.level[lv], round(60 + 195 * (i / GLOW_STEPS))),
                                    1.0 + 3.0 * i / GLOW_STEPS) for i in range(GLOW_STEPS + 1))
                     for lv in _LEVELS}
        self.positive, self.negative = QColor(t.safe), QColor(t.danger)
        self.no_pen = QPen(Qt.PenStyle.NoPen)

    def signed_colour(self, value: float) -> QColor:
        """Green for a gain, red for a loss, the text colour for zero/NaN."""
        if not math.isfinite(value) or abs(value) < 1e-12:
            return self.text
        return self.positive if value > 0 else self.negative


def _snapshot_of(index: QModelIndex | QPersistentModelIndex):
    model = index.model()
    return model.snapshot() if model is not None and hasattr(model, "snapshot") else None


def draw_badge(painter: QPainter, p: Paints, rect: QRectF, level: int, text: str | None = None) -> None:
    """A level badge: filled for warning/danger/liquidated, outlined for safe (text always; ``text``
    replaces the level's name: ``CLOSED`` on a closed position's grey badge)."""
    text = LEVEL_NAMES.get(level, "?") if text is None else text
    painter.setFont(p.f_badge)
    if level in (Level.WARNING, Level.DANGER, Level.LIQUIDATED):
        painter.setPen(p.no_pen)
        painter.setBrush(p.badge_fill[level])
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(p.badge_text)
    else:
        painter.setPen(p.badge_outline[level])
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.setPen(p.level[level])
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def draw_stale_badge(painter: QPainter, p: Paints, rect: QRectF) -> None:
    """The stale mark: a grey filled ``STALE`` badge (beside the level badge, which keeps its colour)."""
    painter.setFont(p.f_badge)
    painter.setPen(p.no_pen)
    painter.setBrush(p.stale_badge_fill)
    painter.drawRoundedRect(rect, 4, 4)
    painter.setPen(p.badge_text)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, LEVEL_NAMES[STALE])


def badge_width(p: Paints, level: int, text: str | None = None) -> int:
    """The width of a level (or STALE) badge, or of a badge reading ``text``."""
    return p.fm_badge.horizontalAdvance(LEVEL_NAMES.get(level, "?") if text is None else text) + 14


_KEYS = ("mark", "liq", "entry", "size", "margin", "uPnL")
_ROW_H = 17
_ROWS_TOP = 54
_GAUGE = 72            # the gauge's box (logical px)
_GAUGE_TOP = 58
_KEYS_X = 88           # from the card's text left edge
_KEY_W = 44
_GAP = 8
_TEXT_CACHE_MAX = 4096
_PIXMAP_CACHE_MAX = 256
# the widest figures a card must show unclipped (the card view never makes a card narrower)
_WIDEST_VALUE = "−00,000,000.00"
_WIDEST_EXTRA = "100.00 % away"
_WIDEST_RATIO = "ratio 100.0 %"
_WIDEST_ROE = "ROE −1000.0 %"
_WIDEST_BREAK_EVEN = "break-even 0,000,000.00"
_WIDEST_NOTIONAL = "notional 000,000,000.00"


def card_figures(snap, row: int, texts=None) -> tuple[tuple[str, str], ...]:
    """The (value, beside) texts of a card's rows (:data:`_KEYS`: mark, liq, entry, size, margin, uPnL),
    the table's own cell texts of the same columns (``texts``: the row's cell texts, as the model
    caches them; made here when not given): the distance beside the liquidation price, the
    break-even beside the entry, the notional beside the size (``ct``: contracts of an inverse
    position), the margin ratio beside the margin, the ROE beside the uPnL."""
    t = row_texts(snap, row) if texts is None else texts
    c = _CARD_COLUMNS
    unit = " ct" if snap.book.contracts[row] == "inverse" else ""
    return (
        (t[c["mark"]], ""),
        (t[c["liquidation_price"]], t[c["distance_frac"]]),
        (t[c["entry_price"]], f"break-even {t[c['break_even']]}"),
        (t[c["quantity"]] + unit, f"notional {t[c['notional']]}"),
        (t[c["isolated_margin"]], f"ratio {t[c['margin_ratio']]}"),
        (t[c["unrealized_pnl"]], f"ROE {t[c['roe']]}"),
    )


_COLUMN_ALIGN = tuple(c.align for c in COLUMNS)
# where a column's text sits, as plain ints (enum flag operations cost a Python call each): 0 left, 1 right, 2 centre
_COLUMN_PLACE = tuple(1 if a & Qt.AlignmentFlag.AlignRight else 2 if a & Qt.AlignmentFlag.AlignHCenter else 0
                      for a in _COLUMN_ALIGN)
_LEFT_INT = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_CARD_COLUMNS = {key: COLUMN_INDEX[key] for key in ("mark", "liquidation_price", "distance_frac", "entry_price",
                                                    "break_even", "quantity", "notional", "isolated_margin",
                                                    "margin_ratio", "unrealized_pnl", "roe", "liq_used")}


def _texts_of(model, snap, row: int):
    """The cell texts of a snapshot row: the model's cache when it has one, else formatted now."""
    cached = getattr(model, "row_texts", None)
    return cached(row) if cached is not None and model.snapshot() is snap else row_texts(snap, row)


def odds_note(snap, row: int) -> str:
    """The card's odds of liquidation (:mod:`isodesk.desk.volatility`): ``24 h odds 23 % · 1.4 σ``;
    "" without a realized volatility yet, or a snapshot without the odds columns."""
    cols = snap.cols
    if "liq_prob_24h" not in cols:
        return ""
    p24 = float(cols["liq_prob_24h"][row])
    if not math.isfinite(p24):
        return ""
    sigma = float(cols["sigma_distance"][row])
    return f"24 h odds {fmt_pct(p24 * 100)}" + (f" · {sigma:.1f} σ" if math.isfinite(sigma) else "")


def odds_alarming(snap, row: int) -> bool:
    """True when the row's 24 h probability of liquidation is past the trader's ``odds.alert_pct``."""
    p24 = float(snap.cols["liq_prob_24h"][row]) if "liq_prob_24h" in snap.cols else math.nan
    limit = getattr(getattr(snap, "settings", None), "odds_alert_pct", 20.0)
    return math.isfinite(p24) and p24 * 100 > limit


def ladder_note(snap, row: int) -> str:
    """The card's ladder line for a position its venue liquidates in steps (above its first tier:
    :mod:`isodesk.desk.ladder`): the share the first step removes and its mark, ``liq in steps: 17 % at
    48,246.18``; "" for one that goes at once, or a snapshot without the ladder columns."""
    cols = snap.cols
    if "ladder_first_frac" not in cols:
        return ""
    frac = float(cols["ladder_first_frac"][row])
    if not math.isfinite(frac):
        return ""
    return f"liq in steps: {frac * 100:.0f} % at {fmt_price(float(cols['ladder_first_mark'][row]))}"


def auto_add_text(snap, row: int) -> str:
    """The header chip of the venue's auto-add-margin flag (``auto-add on``/``off``), "" where never said."""
    flag = book_value(snap, "auto_add_margin", row)
    return "" if flag is None else ("auto-add on" if flag else "auto-add off")


def adl_text(snap, row: int) -> str:
    """The header chip's ADL rank (``ADL 3/5``: the venue's auto-deleveraging rank at the last import,
    Bybit ``adlRankIndicator``, OKX ``adl``), "" where never said."""
    rank = book_value(snap, "adl_rank", row)
    return "" if rank is None else f"ADL {rank}/5"


def _cached(cache: dict, key, make):
    """``cache[key]``, made on first use; the cache is emptied when it grows past its bound."""
    value = cache.get(key)
    if value is None:
        if len(cache) >= _TEXT_CACHE_MAX:
            cache.clear()
        value = cache[key] = make()
    return value


class _CardHead(NamedTuple):
    """A card's header and second line as drawn (texts already elided to their widths)."""

    symbol: str
    sym_w: int
    chip: str
    chip_w: int
    auto: str
    auto_w: int
    note: str
    note_colour: QColor
    note_font: QFont
    who: str
    line2_width: float


_SETTLED = frozenset({(1, 0), (2, 0), (2, 1), (3, 0), (4, 0)})
"""The figure slots (row, 0 value / 1 extra) that move only when the position changes: the liquidation
price, the entry and its break-even, the size and the margin (drawn into the static layer)."""
_MOVING = frozenset({(0, 0), (1, 1), (3, 1), (4, 1), (5, 0), (5, 1)})
"""The slots that move with the mark: the mark, the distance, the notional, the ratio, the uPnL and ROE."""
_STATIC_LAYER_MAX = 96  # card pixmaps of ~0.2 MB each at 340 px: a few screens' worth


class _CardCache:
    """Per-theme caches of a card delegate: chrome and chip pixmaps, text widths, elided strings."""

    def __init__(self):
        self.chrome: dict[tuple, QPixmap] = {}
        self.chips: dict[tuple, QPixmap] = {}
        self.static: dict[tuple, QPixmap] = {}  # a card's static layer by everything it shows
        self.width_symbol: dict[str, int] = {}
        self.width_small: dict[str, int] = {}
        self.elided_symbol: dict[tuple[str, int], str] = {}
        self.elided_small: dict[tuple[str, int], str] = {}
        self.pixmap_dpi: int | None = None


class CardDelegate(QStyledItemDelegate):
    """Paints one position card from the snapshot row (header, gauge, prices, margin, PnL, level, pulse)."""

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self._paints = Paints(theme or light_theme())
        self._cache = _CardCache()
        self._cell = QSize(max(CARD_SIZE.width(), self.min_cell_width()), CARD_HEIGHT)

    def set_theme(self, theme: Theme) -> None:
        """Rebuild the paint cache for a theme."""
        self._paints = Paints(theme)
        self._cache = _CardCache()

    def min_cell_width(self) -> int:
        """The narrowest cell in which every figure of a card fits (from the font's metrics)."""
        p = self._paints
        value = p.fm_value.horizontalAdvance(_WIDEST_VALUE)
        extra = max(p.fm_value_bold.horizontalAdvance(_WIDEST_EXTRA),
                    *(p.fm_small.horizontalAdvance(t) for t in (_WIDEST_RATIO, _WIDEST_ROE, _WIDEST_BREAK_EVEN,
                                                                _WIDEST_NOTIONAL)))
        return 12 + _KEYS_X + _KEY_W + value + _GAP + extra + 10 + 2 * CARD_MARGIN

    def cell_size(self) -> QSize:
        """The current (uniform) cell size."""
        return QSize(self._cell)

    def set_cell_width(self, width: int) -> bool:
        """Make every cell ``width`` wide (at least :meth:`min_cell_width`); True if it changed."""
        width = max(int(width), self.min_cell_width())
        if width == self._cell.width():
            return False
        self._cell = QSize(width, CARD_HEIGHT)
        return True

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        """The card size, one for every card (uniform item sizes)."""
        return QSize(self._cell)

    def card_rect(self, cell: QRect) -> QRect:
        """The painted card inside a cell (the margin holds the selection ring and the glow)."""
        return cell.adjusted(CARD_MARGIN, CARD_MARGIN, -CARD_MARGIN, -CARD_MARGIN)

    def gauge_rect(self, cell: QRect) -> QRectF:
        """The gauge's box inside a cell (its arc is inset by 4 px)."""
        r = QRectF(self.card_rect(cell))
        return QRectF(r.left() + 12, r.top() + _GAUGE_TOP, _GAUGE, _GAUGE)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Paint the card of ``index``'s position: cached chrome, then the gauge and the figures."""
        if not index.isValid():
            return
        model = index.model()
        fast = getattr(model, "card_row", None)
        if fast is not None:
            found = fast(index.row())
            if found is None:
                return
            snap, row, pulse = found
        else:
            snap = _snapshot_of(index)
            row = index.data(RowRole) if snap is not None else None
            if row is None:
                return
            pulse = index.data(PulseRole) or 0.0
        texts = _texts_of(model, snap, row)
        p = self._paints
        cache = self._cache
        level = int(snap.level[row])
        stale = bool(snap.stale[row])
        closed = snap.book.statuses[row] == "closed"  # kept by the desk for the "closed" filter; never open
        liquidated = level == Level.LIQUIDATED  # a closed row is not open either: greyed the same way
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        cell = option.rect
        r = QRectF(self.card_rect(cell))
        cols = snap.cols
        book = snap.book
        figures_colour = p.muted if (liquidated or stale) else p.text
        left, top, right = r.left() + 12, r.top(), r.right() - 10

        # header: symbol, then the SIDE lev× chip and the venue's auto-add flag (the badges are in the chrome)
        badges = badge_width(p, level, CLOSED_TEXT if closed else None) + (badge_width(p, STALE) + 4 if stale else 0)
        chip = f"{book.sides[row].upper()} {fmt_leverage(float(cols['leverage'][row]))}"
        chip_w = _cached(cache.width_small, chip, lambda: p.fm_small.horizontalAdvance(chip)) + 12
        auto = " · ".join(t for t in (auto_add_text(snap, row), adl_text(snap, row)) if t)  # the venue's flags
        auto_w = _cached(cache.width_small, auto, lambda: p.fm_small.horizontalAdvance(auto)) + 12 if auto else 0
        symbol = book.symbols[row]
        sym_room = int(right - badges - 16 - chip_w - (auto_w + 6 if auto else 0) - left)
        sym_w = max(min(_cached(cache.width_symbol, symbol, lambda: p.fm_symbol.horizontalAdvance(symbol)), sym_room),
                    0)
        symbol_text = _cached(cache.elided_symbol, (symbol, sym_w + 1),
                              lambda: p.fm_symbol.elidedText(symbol, Qt.TextElideMode.ElideRight, sym_w + 1))

        # second line: label · venue · currency, and the stale age or the venue's liquidation check
        currency = book.currencies[row]
        note, note_colour, note_font = "", p.muted, p.f_small
        if closed:
            note = f"closed {fmt_age(snap.clock - float(cols['mark_ts'][row]))} ago"  # its mark: the close price
        elif stale:
            age = fmt_age(snap.clock - float(cols["mark_ts"][row]))
            note, note_colour, note_font = f"no price for {age}", p.level[STALE], p.f_badge
        elif math.isfinite(float(cols["reconcile_diff_pct"][row])):
            diff = float(cols["reconcile_diff_pct"][row])
            flagged = abs(diff) > snap.reconcile_tolerance_pct
            note = f"{'⚠ ' if flagged else '✓ '}venue liq {fmt_pct(diff, signed=True)}"
            note_colour = p.level[Level.WARNING] if flagged else p.muted
        elif not liquidated:
            note = ladder_note(snap, row)  # above the first tier: the venue liquidates it in steps
            odds = odds_note(snap, row)  # the 24 h odds of liquidation (desk.volatility), first past the alert line
            if not note and odds and odds_alarming(snap, row):
                note, note_colour = odds, p.level[Level.WARNING]
            if not note:  # funding since open and the liquidation price's drift (desk.funding)
                note = funding_text(cols, row, currency, snap.clock, short=True)
            if not note:
                note = odds
        note_w = 0
        if note:
            note_w = (p.fm_badge if note_font is p.f_badge else p.fm_small).horizontalAdvance(note)
        who = f"{book.labels[row]} · {book.venues[row]} · {currency}"
        line2_width = right - left
        who_w = int(line2_width - note_w - 12)
        who_text = _cached(cache.elided_small, (who, who_w),
                           lambda: p.fm_small.elidedText(who, Qt.TextElideMode.ElideRight, who_w))
        head = _CardHead(symbol_text, sym_w, chip, chip_w, auto, auto_w, note, note_colour, note_font, who_text,
                         line2_width)

        # figures (the keys are in the chrome), formatted as the table formats them
        upnl = float(cols["unrealized_pnl"][row])
        roe = float(cols["roe"][row])
        level_colour = p.level[level] if level in (Level.WARNING, Level.DANGER) else figures_colour
        signed = (lambda v: figures_colour) if (liquidated or stale) else p.signed_colour
        figures = card_figures(snap, row, texts)
        styles = (
            (figures_colour, figures_colour, p.f_small),
            (level_colour, level_colour, p.f_value_bold),
            (figures_colour, p.muted, p.f_small),
            (figures_colour, p.muted, p.f_small),
            (figures_colour, p.muted, p.f_small),
            (signed(upnl), signed(roe), p.f_small),
        )

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        scale = self._pixmap_scale(painter)
        layer = scale and self.static_layer
        if layer:  # chrome, header, second line and the figures that rarely move, drawn once per look
            painter.drawPixmap(cell.topLeft(), self._static_pixmap(option, cell, r, level, stale, selected, scale,
                                                                   closed, liquidated, head, figures, styles))
        elif scale:
            painter.drawPixmap(cell.topLeft(), self._chrome_pixmap(option, cell, level, stale, selected, scale,
                                                                   closed))
        else:
            self._draw_chrome(painter, p, r, level, stale, selected, closed)
        if 0.0 < pulse < 1.0:
            glow = math.sin(math.pi * pulse)
            painter.setPen(p.glow[level][round(glow * GLOW_STEPS)])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(r.adjusted(-2, -2, 2, 2), 8, 8)
        if not layer:
            self._draw_head(painter, r, head, level, liquidated, scale)

        # gauge: the zone track at the trader's thresholds, the value arc in the level's colour
        used, warn, danger = gauge_zones(snap, row)
        box = QRectF(left, top + _GAUGE_TOP, _GAUGE, _GAUGE)
        arc = box.adjusted(4, 4, -4, -4)
        if liquidated:
            painter.setPen(p.grey_track)
            painter.drawArc(arc, _ARC_START, _ARC_SPAN)
        else:
            start = _ARC_START
            bounds = (0.0, warn, danger, 1.0) if math.isfinite(warn) and math.isfinite(danger) else (0.0, 1.0, 1.0, 1.0)
            for z in range(3):
                span = round(_ARC_SPAN * (bounds[z + 1] - bounds[z]))
                if span:
                    painter.setPen(p.zone_track[z])
                    painter.drawArc(arc, start, span)
                start += span
        shown = 1.0 if liquidated and not closed else used
        if math.isfinite(shown):
            span = round(_ARC_SPAN * min(max(shown, 0.0), 1.0))
            if span:
                painter.setPen(p.level_value[level])
                painter.drawArc(arc, _ARC_START, span)
        painter.setFont(p.f_gauge)
        painter.setPen(figures_colour)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                         "100 %" if liquidated and not closed else texts[_CARD_COLUMNS["liq_used"]])
        self._draw_figures(painter, r, figures, styles, _MOVING if layer else None)

        if liquidated and not closed:
            self._stamp(painter, p, r)
        painter.restore()

    static_layer = True
    """Draw a card's chrome, header, second line and its rarely moving figures into one cached pixmap
    per look (:meth:`_static_pixmap`), and only the gauge and the moving figures per paint (False:
    everything per paint, as before; tests compare the two pixel for pixel)."""

    def _draw_head(self, painter: QPainter, r: QRectF, head: _CardHead, level: int, liquidated: bool,
                   scale: int) -> None:
        """The header (symbol, side/leverage chip, the venue's flags) and the second line of a card."""
        p = self._paints
        left, top = r.left() + 12, r.top()
        painter.setFont(p.f_symbol)
        painter.setPen(p.muted if liquidated else p.text)
        painter.drawText(QRectF(left, top + 8, head.sym_w + 1, 24), _LEFT, head.symbol)
        chip_rect = QRectF(left + head.sym_w + 8, top + 12, head.chip_w, 16)
        if scale:
            painter.drawPixmap(QPointF(chip_rect.left() - 1, chip_rect.top() - 1),
                               self._chip_pixmap(head.chip, head.chip_w, level, liquidated, scale))
        else:
            self._draw_chip(painter, p, chip_rect, head.chip, p.muted if liquidated else p.text)
        if head.auto:
            auto_rect = QRectF(chip_rect.right() + 6, top + 12, head.auto_w, 16)
            if scale:
                painter.drawPixmap(QPointF(auto_rect.left() - 1, auto_rect.top() - 1),
                                   self._chip_pixmap(head.auto, head.auto_w, level, True, scale))
            else:
                self._draw_chip(painter, p, auto_rect, head.auto, p.muted)
        line2 = QRectF(left, top + 33, head.line2_width, 16)
        if head.note:
            painter.setFont(head.note_font)
            painter.setPen(head.note_colour)
            painter.drawText(line2, _RIGHT, head.note)
        painter.setFont(p.f_small)
        painter.setPen(p.muted)
        painter.drawText(line2, _LEFT, head.who)

    def _draw_figures(self, painter: QPainter, r: QRectF, figures, styles, which: frozenset | None) -> None:
        """The figure rows of a card (value, and the extra beside it); ``which``: only these
        (row, 0 for the value / 1 for the extra) slots, None for all."""
        left, top, right = r.left() + 12, r.top(), r.right() - 10
        key_x = left + _KEYS_X
        value_right = self._value_right(left, right)
        value_x = key_x + _KEY_W
        extra_x = value_right + _GAP
        p = self._paints
        y = top + _ROWS_TOP
        for i, ((value, extra), (value_colour, extra_colour, extra_font)) in enumerate(zip(figures, styles,
                                                                                             strict=True)):
            if which is None or (i, 0) in which:
                painter.setFont(p.f_value_bold if i == 1 else p.f_value)
                painter.setPen(value_colour)
                painter.drawText(QRectF(value_x, y, value_right - value_x, _ROW_H), _RIGHT, value)
            if extra and (which is None or (i, 1) in which):
                painter.setFont(extra_font)
                painter.setPen(extra_colour)
                painter.drawText(QRectF(extra_x, y, right - extra_x, _ROW_H), _RIGHT, extra)
            y += _ROW_H

    def _static_pixmap(self, option: QStyleOptionViewItem, cell: QRect, r: QRectF, level: int, stale: bool,
                       selected: bool, scale: int, closed: bool, liquidated: bool, head: _CardHead, figures,
                       styles) -> QPixmap:
        """The cell's pixmap of everything but the gauge and the moving figures, cached by what it shows
        (every text, colour and state drawn, the cell size and the device scale)."""
        base = option.palette.color(QPalette.ColorRole.Base)
        settled = tuple((figures[i][k], styles[i][k].rgba(), styles[i][2] is self._paints.f_value_bold)
                        for i, k in _SETTLED)
        key = (level, stale, selected, closed, liquidated, base.rgba(), cell.width(), cell.height(), scale,
               head[:7], head.note_colour.rgba(), head.note_font is self._paints.f_badge, head.who, head.line2_width,
               settled)
        cache = self._cache.static
        pixmap = cache.get(key)
        if pixmap is None:
            if len(cache) >= _STATIC_LAYER_MAX:
                cache.clear()
            pixmap = QPixmap(self._chrome_pixmap(option, cell, level, stale, selected, scale, closed))
            pp = QPainter(pixmap)
            pp.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            pp.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            pp.translate(-cell.left(), -cell.top())  # the card's own coordinates: the same pixels as on the view
            self._draw_head(pp, r, head, level, liquidated, scale)
            self._draw_figures(pp, r, figures, styles, _SETTLED)
            pp.end()
            cache[key] = pixmap
        return pixmap

    def clipped(self, snap, row: int, cell_width: int) -> list[str]:
        """The figures of a card that would not fit their place in a cell ``cell_width`` wide (the
        geometry :meth:`paint` uses); empty when every figure shows whole."""
        p = self._paints
        r = QRectF(self.card_rect(QRect(0, 0, cell_width, CARD_HEIGHT)))
        left, right = r.left() + 12, r.right() - 10
        value_x = left + _KEYS_X + _KEY_W
        value_right = self._value_right(left, right)
        extra_x = value_right + _GAP
        out = []
        for i, (value, extra) in enumerate(card_figures(snap, row)):
            value_fm = p.fm_value_bold if i == 1 else p.fm_value
            extra_fm = p.fm_value_bold if i == 1 else p.fm_small
            if value_fm.horizontalAdvance(value) > value_right - value_x:
                out.append(value)
            if extra and extra_fm.horizontalAdvance(extra) > right - extra_x:
                out.append(extra)
        return out

    def _value_right(self, left: float, right: float) -> float:
        """Where the value column ends: half the room after the keys, never less than the widest value."""
        key_end = left + _KEYS_X + _KEY_W
        p = self._paints
        widest = p.fm_value.horizontalAdvance(_WIDEST_VALUE)
        return key_end + max(widest, (right - key_end - _GAP) / 2)

    # -- chrome ----------------------------------------------------------------------------------------

    def _pixmap_scale(self, painter: QPainter) -> int:
        """The device scale when cached pixmaps can be blitted pixel for pixel, else 0 (paint directly)."""
        t = painter.deviceTransform()
        s = t.m11()
        if (t.type().value > 2 or s != t.m22() or s < 1 or not s.is_integer()  # 2: TxScale
                or not t.dx().is_integer() or not t.dy().is_integer()):
            return 0
        cache = self._cache
        if cache.pixmap_dpi is None:
            cache.pixmap_dpi = QPixmap(1, 1).logicalDpiY()
        device = painter.device()
        if device is None or device.logicalDpiY() != cache.pixmap_dpi:  # fonts would differ in size
            return 0
        return int(s)

    def _chrome_pixmap(self, option: QStyleOptionViewItem, cell: QRect, level: int, stale: bool, selected: bool,
                       scale: int, closed: bool = False) -> QPixmap:
        base = option.palette.color(QPalette.ColorRole.Base)
        key = (level, stale, selected, base.rgba(), cell.width(), cell.height(), scale, closed)
        cache = self._cache.chrome
        pixmap = cache.get(key)
        if pixmap is None:
            if len(cache) >= _PIXMAP_CACHE_MAX:
                cache.clear()
            pixmap = QPixmap(cell.width() * scale, cell.height() * scale)
            pixmap.setDevicePixelRatio(scale)
            # opaque over the view's base colour where possible: blits are copies, text keeps subpixel AA
            pixmap.fill(base if base.alpha() == 255 else QColor(Qt.GlobalColor.transparent))
            pp = QPainter(pixmap)
            pp.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            pp.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            self._draw_chrome(pp, self._paints, QRectF(self.card_rect(QRect(0, 0, cell.width(), cell.height()))),
                              level, stale, selected, closed)
            pp.end()
            cache[key] = pixmap
        return pixmap

    def _chip_pixmap(self, chip: str, chip_w: int, level: int, liquidated: bool, scale: int) -> QPixmap:
        key = (chip, level, scale)
        cache = self._cache.chips
        pixmap = cache.get(key)
        if pixmap is None:
            if len(cache) >= _PIXMAP_CACHE_MAX:
                cache.clear()
            p = self._paints
            pixmap = QPixmap((chip_w + 2) * scale, 18 * scale)
            pixmap.setDevicePixelRatio(scale)
            pixmap.fill(p.bg_level[level])  # the chip sits on the card's (opaque) fill
            pp = QPainter(pixmap)
            pp.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            pp.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
            self._draw_chip(pp, p, QRectF(1, 1, chip_w, 16), chip, p.muted if liquidated else p.text)
            pp.end()
            cache[key] = pixmap
        return pixmap

    @staticmethod
    def _draw_chip(painter: QPainter, p: Paints, rect: QRectF, chip: str, colour: QColor) -> None:
        painter.setFont(p.f_small)
        painter.setPen(p.chip_pen)
        painter.setBrush(p.chip_fill)
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(colour)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, chip)

    def _draw_chrome(self, painter: QPainter, p: Paints, r: QRectF, level: int, stale: bool, selected: bool,
                     closed: bool = False) -> None:
        """Everything of a card that depends only on its level, stale flag, selection and whether it was
        closed (``r``: the card rect)."""
        painter.setPen(p.no_pen)
        painter.setBrush(p.bg_level[level])
        painter.drawRoundedRect(r, 7, 7)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        border = p.border_pen[level]
        inset = border.widthF() / 2
        painter.setPen(border)
        painter.drawRoundedRect(r.adjusted(inset, inset, -inset, -inset), 7, 7)
        if selected:
            painter.setPen(p.selection_pen)
            painter.drawRoundedRect(r.adjusted(-3, -3, 3, 3), 9, 9)
        left, top, right = r.left() + 12, r.top(), r.right() - 10
        text = CLOSED_TEXT if closed else None
        badge_w = badge_width(p, level, text)
        draw_badge(painter, p, QRectF(right - badge_w, top + 11, badge_w, 18), level, text)
        if stale:
            stale_w = badge_width(p, STALE)
            draw_stale_badge(painter, p, QRectF(right - badge_w - 4 - stale_w, top + 11, stale_w, 18))
        painter.setFont(p.f_small)
        painter.setPen(p.muted)
        caption = QRectF(left - 10, top + _GAUGE_TOP + _GAUGE - 2, _GAUGE + 20, 14)
        painter.drawText(caption, Qt.AlignmentFlag.AlignCenter, "of the way")
        painter.drawText(caption.translated(0, 13), Qt.AlignmentFlag.AlignCenter, "to liquidation")
        painter.setFont(p.f_key)
        key_x = left + _KEYS_X
        for i, key in enumerate(_KEYS):
            painter.drawText(QRectF(key_x, top + _ROWS_TOP + i * _ROW_H, _KEY_W + 8, _ROW_H), _LEFT, key)

    @staticmethod
    def _stamp(painter: QPainter, p: Paints, r: QRectF) -> None:
        painter.save()
        painter.translate(r.center().x() + 30, r.center().y() + 14)
        painter.rotate(-12)
        text = "LIQUIDATED"
        w = p.fm_stamp.horizontalAdvance(text) + 24
        h = p.fm_stamp.height() + 8
        box = QRectF(-w / 2, -h / 2, w, h)
        painter.setPen(p.stamp_pen)
        painter.setBrush(p.stamp_fill)
        painter.drawRoundedRect(box, 5, 5)
        painter.setFont(p.f_stamp)
        painter.setPen(p.stamp_text)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


_STATIC_CACHE_MAX = 20_000
_TEXT_MARGIN = 4  # px between a cell's edge and its text (Qt's item views use 3 + 1)


_SELECTED = QStyle.StateFlag.State_Selected.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value


def cell_background(painter: QPainter, option: QStyleOptionViewItem, tint, rect: QRect | None = None) -> QColor | None:
    """Fill a table cell's background — the selection highlight, else the row's level ``tint`` (a
    ``QColor`` or None) — and return the colour its text takes on it (None: the palette's text)."""
    state = option.state.value
    if state & _SELECTED:
        group = (QPalette.ColorGroup.Disabled if not state & _ENABLED
                 else QPalette.ColorGroup.Active if state & _ACTIVE else QPalette.ColorGroup.Inactive)
        brush = option.palette.brush(group, QPalette.ColorRole.Highlight)
        painter.fillRect(option.rect if rect is None else rect, brush)
        return option.palette.color(group, QPalette.ColorRole.HighlightedText)
    if tint is not None:
        painter.fillRect(option.rect if rect is None else rect, tint)
    return None


class _CellDelegate(QStyledItemDelegate):
    """A table cell painted over its background and selection, from the model's cached row look."""

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self._paints = Paints(theme or light_theme())

    def set_theme(self, theme: Theme) -> None:
        """Rebuild the paint cache for a theme."""
        self._paints = Paints(theme)

    @property
    def paints(self) -> Paints:
        """The colours, pens and fonts of the current theme."""
        return self._paints

    def _background(self, painter: QPainter, option: QStyleOptionViewItem,
                    index: QModelIndex | QPersistentModelIndex) -> tuple[object, int] | None:
        """Paint the cell's background and selection; the (snapshot, row) to draw, or None."""
        model = index.model() if index.isValid() else None
        look = model.row_look(index.row()) if model is not None and hasattr(model, "row_look") else None
        if look is not None:
            cell_background(painter, option, look.tint)
            return model.snapshot(), look.row
        snap = _snapshot_of(index)
        row = index.data(RowRole) if index.isValid() else None
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        return None if snap is None or row is None else (snap, row)


class TextCellDelegate(QStyledItemDelegate):
    """The table's text cells, painted from the model's cached row look (:meth:`~isodesk.ui.models.
    PositionsModel.row_look`): one Python call per cell instead of a ``data()`` call per role, and
    the text drawn as a cached ``QStaticText`` (laid out once per text and font) instead of a text
    layout per paint. Looks as the standard delegate does with the model's roles: the level tint or
    the selection behind, the column's alignment, the text colour and font of the cell (italic for a
    stale price, bold for the first column), elided at the right when it does not fit.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self._fonts: dict[str, QFont] | None = None  # from the view's font at the first paint
        self._text_colour = QColor()  # the palette's text colour, with the fonts
        self._statics: dict[tuple[str, str], tuple[QStaticText, float, float]] = {}
        self._elided: dict[tuple[str, str, int], str] = {}

    def reset_fonts(self) -> None:
        """Forget the fonts, text colour and laid-out texts (the view's font or palette changed: a theme)."""
        self._fonts = None
        self._statics.clear()
        self._elided.clear()

    def _make_fonts(self, option: QStyleOptionViewItem) -> dict[str, QFont]:
        base = option.font
        italic, bold = QFont(base), QFont(base)
        italic.setItalic(True)
        bold.setBold(True)
        self._text_colour = option.palette.color(QPalette.ColorRole.Text)
        self._fonts = {"": QFont(base), "italic": italic, "bold": bold}
        return self._fonts

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """The cell's background, then its cached text at the column's alignment."""
        model = index.model() if index.isValid() else None
        look = model.row_look(index.row()) if model is not None and hasattr(model, "row_look") else None
        if look is None:
            super().paint(painter, option, index)
            return
        rect = option.rect
        on = cell_background(painter, option, look.tint, rect)
        fonts = self._fonts if self._fonts is not None else self._make_fonts(option)
        self.draw_text(painter, fonts, look, index.column(), rect.x(), rect.y(), rect.width(), rect.height(), on)

    def fonts(self, option: QStyleOptionViewItem) -> dict[str, QFont]:
        """The cell fonts by style (``""``, ``"italic"``, ``"bold"``), made from ``option.font`` at the first use."""
        return self._fonts if self._fonts is not None else self._make_fonts(option)

    def draw_text(self, painter: QPainter, fonts: dict[str, QFont], look, column: int, left: int, top: int,
                  width: int, height: int, on: QColor | None) -> None:
        """Draw a cell's cached text (``look``: the row's :class:`~isodesk.ui.models.RowLook`) in the cell
        at (``left``, ``top``), ``width`` × ``height`` logical px, at the column's alignment, in ``on`` (the
        selection's text colour) or the cell's colour; elided at the right when it does not fit."""
        text = look.texts[column]
        room = width - 2 * _TEXT_MARGIN
        if not text or room <= 0:
            return
        style = look.first_font if column == 0 else look.font
        font = fonts[style]
        key = (text, style)
        laid = self._statics.get(key)
        if laid is None:
            if len(self._statics) >= _STATIC_CACHE_MAX:
                self._statics.clear()
                self._elided.clear()
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=font)
            size = static.size()
            laid = self._statics[key] = (static, size.width(), size.height())
        static, text_w, text_h = laid
        painter.setFont(font)
        colour = on if on is not None else look.colours[column]
        painter.setPen(colour if colour is not None else self._text_colour)
        if text_w > room:  # rare: a column made narrow by hand
            ekey = (text, style, room)
            elided = self._elided.get(ekey)
            if elided is None:
                elided = self._elided[ekey] = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, room)
            painter.drawText(QRectF(left + _TEXT_MARGIN, top, room, height), _LEFT_INT, elided)
            return
        where = _COLUMN_PLACE[column] if column < len(_COLUMN_PLACE) else 1
        x = (left + width - _TEXT_MARGIN - text_w if where == 1
             else left + (width - text_w) / 2 if where == 2 else left + _TEXT_MARGIN)
        painter.drawStaticText(QPointF(x, top + (height - text_h) / 2), static)


class GaugeDelegate(_CellDelegate):
    """The table's way-to-liquidation cell: a bar over the zone track, filled in the level's colour, and the figure."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Background and selection as usual, then the bar and the value."""
        found = self._background(painter, option, index)
        if found is None:
            return
        snap, row = found
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        draw_gauge_cell(painter, self._paints, option.rect, snap, row, _texts_of(index.model(), snap, row),
                        option.palette.highlightedText().color() if selected else None)


def draw_gauge_cell(painter: QPainter, p: Paints, cell: QRect, snap, row: int, texts, on: QColor | None) -> None:
    """The way-to-liquidation cell of snapshot ``row`` in ``cell`` (logical px; its background already
    painted): the zone track, the bar in the level's colour and the figure (``texts``: the row's cell
    texts) in ``on`` (a selected row's text colour) or the muted/text colour."""
    level = int(snap.level[row])
    liquidated = level == Level.LIQUIDATED and snap.book.statuses[row] != "closed"  # closed: as it was
    used, warn, danger = gauge_zones(snap, row)
    if liquidated:
        used = 1.0
    rect = QRectF(cell).adjusted(6, 0, -6, 0)
    text_w = 44.0
    bar = QRectF(rect.left(), rect.center().y() - 3, max(rect.width() - text_w - 6, 10.0), 6)
    painter.save()
    bounds = (0.0, warn, danger, 1.0) if math.isfinite(warn) and math.isfinite(danger) else (0.0, 1.0, 1.0, 1.0)
    for z in range(3):
        seg = QRectF(bar.left() + bar.width() * bounds[z], bar.top(), bar.width() * (bounds[z + 1] - bounds[z]),
                     bar.height())
        if seg.width() > 0:
            painter.fillRect(seg, p.track_brush[z])
    if math.isfinite(used):
        fill = QRectF(bar.left(), bar.top(), bar.width() * min(max(used, 0.0), 1.0), bar.height())
        painter.fillRect(fill, p.level_brush[level])
    painter.setFont(p.f_cell)
    painter.setPen(on if on is not None else p.muted if bool(snap.stale[row]) or liquidated else p.text)
    text = "100 %" if liquidated else texts[_CARD_COLUMNS["liq_used"]]
    painter.drawText(QRectF(rect.right() - text_w, rect.top(), text_w, rect.height()), _RIGHT, text)
    painter.restore()


class LevelDelegate(_CellDelegate):
    """The table's level cell: a badge with the level's name in its colour, and a STALE badge beside it."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Background and selection as usual, then the badge(s)."""
        found = self._background(painter, option, index)
        if found is None:
            return
        snap, row = found
        draw_level_cell(painter, self._paints, option.rect, snap, row)


def draw_level_cell(painter: QPainter, p: Paints, cell: QRect, snap, row: int) -> None:
    """The level cell of snapshot ``row`` in ``cell`` (logical px; its background already painted): the
    level's badge (``CLOSED`` for a closed position), centred, and a STALE badge beside it."""
    level = int(snap.level[row])
    stale = bool(snap.stale[row])
    text = CLOSED_TEXT if snap.book.statuses[row] == "closed" else None
    w = badge_width(p, level, text)
    sw = badge_width(p, STALE) if stale else 0
    total = w + (sw + 4 if stale else 0)
    rect = QRectF(cell)
    x = rect.center().x() - total / 2
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    draw_badge(painter, p, QRectF(x, rect.center().y() - 8, w, 16), level, text)
    if stale:
        draw_stale_badge(painter, p, QRectF(x + w + 4, rect.center().y() - 8, sw, 16))
    painter.restore()
