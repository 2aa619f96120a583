"""Painting delegates: a whole position card, the table's margin-ratio gauge and level badge (QT-PRACTICES §5.4).

Numbers come straight from the snapshot arrays through ``RowRole`` (one ``data()`` call, plus
``PulseRole`` for the highlight). Colours, pens and fonts are built once per theme in a
:class:`Paints` cache; ``paint`` allocates none of them.

The margin-ratio gauge (maintenance ÷ margin balance, 100 % = liquidation) has three zones:
green below 50 %, amber from 50 % to 80 %, red from 80 %. The card's border and badge follow the
*level* (the distance to liquidation), which turns red long before the ratio does — hence the
distance is printed beside the liquidation price, in % and in price.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from isodesk.desk.levels import Level
from isodesk.ui.columns import MINUS, fmt_age, fmt_leverage, fmt_money, fmt_pct, fmt_price
from isodesk.ui.models import PulseRole, RowRole
from isodesk.ui.theme import LEVEL_NAMES, STALE, Theme, light_theme

CARD_SIZE = QSize(340, 172)
"""Logical size of a card cell, margin for the selection ring and the pulse glow included."""
CARD_MARGIN = 5
ZONES = (0.5, 0.8)
"""Margin-ratio zone boundaries of the gauge: green < 50 % ≤ amber < 80 % ≤ red."""
GLOW_STEPS = 12

_ARC_START = 225 * 16  # Qt angles: 1/16 degree, counter-clockwise from 3 o'clock
_ARC_SPAN = -270 * 16
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEVELS = (Level.SAFE, Level.WARNING, Level.DANGER, Level.LIQUIDATED, STALE)


def zone_of(ratio: float) -> int:
    """0 (green), 1 (amber) or 2 (red) for a margin ratio (fraction)."""
    return 0 if ratio < ZONES[0] else 1 if ratio < ZONES[1] else 2


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
        self.zone = tuple(QColor(c) for c in zone_colours)
        self.zone_track = tuple(_pen(_blend(t.card_bg, c, 0.22), 7.0, Qt.PenCapStyle.FlatCap) for c in zone_colours)
        self.zone_value = tuple(_pen(c, 7.0, Qt.PenCapStyle.FlatCap) for c in zone_colours)
        self.stale_track = _pen(_blend(t.card_bg, t.stale, 0.25), 7.0, Qt.PenCapStyle.FlatCap)
        self.stale_value = _pen(t.stale, 7.0, Qt.PenCapStyle.FlatCap)
        self.zone_brush = tuple(QBrush(c) for c in zone_colours)
        self.track_brush = tuple(QBrush(_blend(t.card_bg, c, 0.22)) for c in zone_colours)
        self.stale_brush = QBrush(t.stale)
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


def draw_badge(painter: QPainter, p: Paints, rect: QRectF, level: int) -> None:
    """A level badge: filled for warning/danger/liquidated, outlined for safe/stale (text always)."""
    text = LEVEL_NAMES.get(level, "?")
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


class CardDelegate(QStyledItemDelegate):
    """Paints one position card from the snapshot row (header, gauge, prices, margin, PnL, level, pulse)."""

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self._paints = Paints(theme or light_theme())

    def set_theme(self, theme: Theme) -> None:
        """Rebuild the paint cache for a theme."""
        self._paints = Paints(theme)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        """The constant card size (uniform item sizes)."""
        return CARD_SIZE

    def card_rect(self, cell: QRect) -> QRect:
        """The painted card inside a cell (the margin holds the selection ring and the glow)."""
        return cell.adjusted(CARD_MARGIN, CARD_MARGIN, -CARD_MARGIN, -CARD_MARGIN)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Paint the card of ``index``'s position."""
        snap = _snapshot_of(index)
        if snap is None or not index.isValid():
            return
        row = index.data(RowRole)
        if row is None:
            return
        pulse = index.data(PulseRole) or 0.0
        p = self._paints
        level = STALE if snap.stale[row] else int(snap.level[row])
        liquidated = level == Level.LIQUIDATED
        cols = snap.cols
        book = snap.book
        r = QRectF(self.card_rect(option.rect))
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)

        # frame: level tint and border, selection ring, pulse glow
        painter.setPen(p.no_pen)
        painter.setBrush(p.bg_level[level])
        painter.drawRoundedRect(r, 7, 7)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        border = p.border_pen[level]
        inset = border.widthF() / 2
        painter.setPen(border)
        painter.drawRoundedRect(r.adjusted(inset, inset, -inset, -inset), 7, 7)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(p.selection_pen)
            painter.drawRoundedRect(r.adjusted(-3, -3, 3, 3), 9, 9)
        if 0.0 < pulse < 1.0:
            glow = math.sin(math.pi * pulse)
            pen = p.glow[level if level != STALE else Level.DANGER][round(glow * GLOW_STEPS)]
            painter.setPen(pen)
            painter.drawRoundedRect(r.adjusted(-2, -2, 2, 2), 8, 8)

        text = p.muted if liquidated else p.text
        left, top, right = r.left() + 12, r.top(), r.right() - 10

        # header: symbol, SIDE lev× chip, badge
        badge_w = p.fm_badge.horizontalAdvance(LEVEL_NAMES[level]) + 14
        badge = QRectF(right - badge_w, top + 11, badge_w, 18)
        draw_badge(painter, p, badge, level)
        chip = f"{book.sides[row].upper()} {fmt_leverage(float(cols['leverage'][row]))}"
        chip_w = p.fm_small.horizontalAdvance(chip) + 12
        symbol = book.symbols[row]
        sym_room = int(badge.left() - 16 - chip_w - left)
        sym_w = min(p.fm_symbol.horizontalAdvance(symbol), sym_room)
        painter.setFont(p.f_symbol)
        painter.setPen(text)
        painter.drawText(QRectF(left, top + 8, sym_w + 1, 24), _LEFT,
                         p.fm_symbol.elidedText(symbol, Qt.TextElideMode.ElideRight, sym_w + 1))
        chip_rect = QRectF(left + sym_w + 8, top + 12, chip_w, 16)
        painter.setFont(p.f_small)
        painter.setPen(p.chip_pen)
        painter.setBrush(p.chip_fill)
        painter.drawRoundedRect(chip_rect, 3, 3)
        painter.setPen(text)
        painter.drawText(chip_rect, Qt.AlignmentFlag.AlignCenter, chip)

        # second line: label · venue, and the entry price or the stale age
        line2 = QRectF(left, top + 33, right - left, 16)
        if level == STALE:
            age = fmt_age(snap.clock - float(cols["mark_ts"][row]))
            note, note_colour = f"stale price · {age}", p.level[STALE]
        else:
            note, note_colour = f"entry {fmt_price(float(cols['entry_price'][row]))}", p.muted
        note_w = p.fm_small.horizontalAdvance(note)
        painter.setPen(note_colour)
        painter.drawText(line2, _RIGHT, note)
        painter.setPen(p.muted)
        who = f"{book.labels[row]} · {book.venues[row]}"
        painter.drawText(line2, _LEFT, p.fm_small.elidedText(who, Qt.TextElideMode.ElideRight,
                                                             int(line2.width() - note_w - 12)))

        # gauge
        ratio = float(cols["margin_ratio"][row])
        self._gauge(painter, p, QRectF(left, top + 60, 72, 72), ratio, greyed=level == STALE or liquidated)
        painter.setFont(p.f_small)
        painter.setPen(p.muted)
        painter.drawText(QRectF(left - 10, top + 134, 92, 16), Qt.AlignmentFlag.AlignCenter, "margin ratio")

        # figures
        currency = book.currencies[row]
        mark = float(cols["mark"][row])
        liq = float(cols["liquidation_price"][row])
        move = liq - mark
        move_pct = move / mark * 100 if math.isfinite(mark) and mark else math.nan
        upnl = float(cols["unrealized_pnl"][row])
        roe = float(cols["roe"][row])
        roe_text = f"ROE {fmt_pct(roe * 100, signed=True, decimals=0 if abs(roe) >= 1 else None)}"
        key_x, key_w, value_right, extra_right = left + 86, 40, left + 226, right
        rows = (
            ("mark", fmt_price(mark), text, "", text),
            ("liq", fmt_price(liq), text, fmt_pct(move_pct, signed=True),
             p.muted if liquidated else p.level[level] if level in (Level.WARNING, Level.DANGER) else text),
            ("to liq", _signed_price(move), text, "", text),
            ("margin", fmt_money(float(cols["isolated_margin"][row]), currency), text, currency, p.muted),
            ("uPnL", fmt_money(upnl, currency, signed=True), p.muted if liquidated else p.signed_colour(upnl),
             roe_text, p.muted if liquidated else p.signed_colour(roe)),
        )
        y = top + 58
        for key, value, value_colour, extra, extra_colour in rows:
            painter.setFont(p.f_key)
            painter.setPen(p.muted)
            painter.drawText(QRectF(key_x, y, key_w + 8, 19), _LEFT, key)
            painter.setFont(p.f_value)
            painter.setPen(value_colour)
            painter.drawText(QRectF(key_x + key_w, y, value_right - key_x - key_w, 19),
                             _RIGHT, value)
            if extra:
                painter.setFont(p.f_value_bold if key == "liq" else p.f_small)
                painter.setPen(extra_colour)
                painter.drawText(QRectF(value_right + 4, y, extra_right - value_right - 4, 19),
                                 _RIGHT, extra)
            y += 19

        if liquidated:
            self._stamp(painter, p, r)
        painter.restore()

    @staticmethod
    def _gauge(painter: QPainter, p: Paints, box: QRectF, ratio: float, *, greyed: bool) -> None:
        arc = box.adjusted(4, 4, -4, -4)
        start = _ARC_START
        bounds = (0.0, *ZONES, 1.0)
        for z in range(3):
            span = round(_ARC_SPAN * (bounds[z + 1] - bounds[z]))
            painter.setPen(p.stale_track if greyed else p.zone_track[z])
            painter.drawArc(arc, start, span)
            start += span
        if math.isfinite(ratio):
            shown = min(max(ratio, 0.0), 1.0)
            span = round(_ARC_SPAN * shown)
            if span:
                painter.setPen(p.stale_value if greyed else p.zone_value[zone_of(ratio)])
                painter.drawArc(arc, _ARC_START, span)
        painter.setFont(p.f_gauge)
        painter.setPen(p.muted if greyed else p.text)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, fmt_pct(ratio * 100, decimals=1))

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


def _signed_price(value: float) -> str:
    if not math.isfinite(value):
        return fmt_price(value)
    text = fmt_price(abs(value))
    return f"{MINUS}{text}" if value < 0 else f"+{text}"


class GaugeDelegate(QStyledItemDelegate):
    """The table's margin-ratio cell: a zoned bar (ticks at 50 % and 80 %) and the value as text."""

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self._paints = Paints(theme or light_theme())

    def set_theme(self, theme: Theme) -> None:
        """Rebuild the paint cache for a theme."""
        self._paints = Paints(theme)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Background and selection as usual, then the bar and the value."""
        snap = _snapshot_of(index)
        row = index.data(RowRole) if index.isValid() else None
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if snap is None or row is None:
            return
        p = self._paints
        ratio = float(snap.cols["margin_ratio"][row])
        greyed = bool(snap.stale[row]) or int(snap.level[row]) == Level.LIQUIDATED
        rect = QRectF(option.rect).adjusted(6, 0, -6, 0)
        text_w = 50.0
        bar = QRectF(rect.left(), rect.center().y() - 3, max(rect.width() - text_w - 6, 10.0), 6)
        painter.save()
        bounds = (0.0, *ZONES, 1.0)
        for z in range(3):
            seg = QRectF(bar.left() + bar.width() * bounds[z], bar.top(), bar.width() * (bounds[z + 1] - bounds[z]),
                         bar.height())
            painter.fillRect(seg, p.track_brush[z])
        if math.isfinite(ratio):
            fill = QRectF(bar.left(), bar.top(), bar.width() * min(max(ratio, 0.0), 1.0), bar.height())
            painter.fillRect(fill, p.stale_brush if greyed else p.zone_brush[zone_of(ratio)])
        painter.setPen(p.tick_pen)
        for z in ZONES:
            x = round(bar.left() + bar.width() * z) + 0.5
            painter.drawLine(QPointF(x, bar.top() - 2), QPointF(x, bar.bottom() + 2))
        painter.setFont(p.f_cell)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(option.palette.highlightedText().color() if selected else p.text)
        painter.drawText(QRectF(rect.right() - text_w, rect.top(), text_w, rect.height()),
                         _RIGHT, fmt_pct(ratio * 100))
        painter.restore()


class LevelDelegate(QStyledItemDelegate):
    """The table's level cell: a badge with the level's name in its colour."""

    def __init__(self, parent=None, theme: Theme | None = None):
        super().__init__(parent)
        self._paints = Paints(theme or light_theme())

    def set_theme(self, theme: Theme) -> None:
        """Rebuild the paint cache for a theme."""
        self._paints = Paints(theme)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex):
        """Background and selection as usual, then the badge."""
        snap = _snapshot_of(index)
        row = index.data(RowRole) if index.isValid() else None
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if snap is None or row is None:
            return
        p = self._paints
        level = STALE if snap.stale[row] else int(snap.level[row])
        w = p.fm_badge.horizontalAdvance(LEVEL_NAMES[level]) + 14
        rect = QRectF(option.rect)
        badge = QRectF(rect.center().x() - w / 2, rect.center().y() - 8, w, 16)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        draw_badge(painter, p, badge, level)
        painter.restore()
