"""Colours, palettes and fonts shared by the cards, the table, the chart and the alerts (QT-PRACTICES §7, §11).

Fusion everywhere, with an explicit light or dark ``QPalette`` (never a global stylesheet): the
delegates inherit the palette and read the risk colours from the :class:`Theme`. The ``system``
choice reads ``QStyleHints.colorScheme()``; offscreen it reports ``Unknown`` and we fall back to
light, so screenshots and tests never depend on the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette

from isodesk.desk.levels import Level

STALE = 4
"""The stale mark (after the real levels): its colour, badge and level-filter value. A stale position keeps
its own :class:`Level` everywhere else (``LevelRole``, card and row colours)."""

LEVEL_NAMES = {Level.SAFE: "SAFE", Level.WARNING: "WARNING", Level.DANGER: "DANGER",
               Level.LIQUIDATED: "LIQUIDATED", STALE: "STALE"}

THEME_NAMES = ("system", "light", "dark")


def level_name(level: int) -> str:
    """The badge text of a level value (``SAFE`` … ``LIQUIDATED``, ``STALE``)."""
    return LEVEL_NAMES.get(level, "?")


@dataclass(frozen=True, eq=False)
class Theme:
    """One resolved theme: palette, risk colours, card colours, fonts, chart pens.

    Colours are built once here; painters copy nothing per paint. ``eq=False``: themes compare by
    identity (a view rebuilds its caches when it is handed a different object).
    """

    name: str
    palette: QPalette
    safe: QColor
    warning: QColor
    danger: QColor
    liquidated: QColor
    stamp: QColor
    stale: QColor
    on_badge: QColor
    card_bg: QColor
    card_border: QColor
    card_liquidated_bg: QColor
    text: QColor
    muted: QColor
    selection: QColor
    chart_bg: QColor
    chart_fg: QColor
    mark_line: QColor
    entry_line: QColor
    font: QFont = field(default_factory=QFont)

    def level_color(self, level: int) -> QColor:
        """The colour of a level value (a :class:`Level` or :data:`STALE`)."""
        return {Level.SAFE: self.safe, Level.WARNING: self.warning, Level.DANGER: self.danger,
                Level.LIQUIDATED: self.liquidated}.get(level, self.stale)

    def tint(self, level: int, alpha: int = 28) -> QColor:
        """The level colour at a low alpha, for backgrounds (a new QColor: call once per theme, not per paint)."""
        c = QColor(self.level_color(level))
        c.setAlpha(alpha)
        return c

    @property
    def dark(self) -> bool:
        """True for the dark palette."""
        return self.name == "dark"

    def number_font(self, point_delta: float = 0.0, *, bold: bool = False) -> QFont:
        """The tabular-digits font, ``point_delta`` points larger, optionally bold (a new QFont: cache it)."""
        f = QFont(self.font)
        if point_delta:
            f.setPointSizeF(max(self.font.pointSizeF() + point_delta, 6.0))
        f.setBold(bold)
        return f

    def pen(self, role: str, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine):
        """A pyqtgraph pen for ``mark``, ``entry``, ``liquidation``, ``bankruptcy`` or ``axis``."""
        import pyqtgraph as pg

        colour = {"mark": self.mark_line, "entry": self.entry_line, "liquidation": self.danger,
                  "bankruptcy": self.stamp, "axis": self.chart_fg}[role]
        return pg.mkPen(colour, width=width, style=style)


def _hex(value: str) -> QColor:
    return QColor(value)


def _palette(window: str, base: str, alt: str, text: str, button: str, highlight: str, hl_text: str,
             mid: str, disabled: str, link: str) -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: window, QPalette.ColorRole.WindowText: text, QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: alt, QPalette.ColorRole.ToolTipBase: base,
        QPalette.ColorRole.ToolTipText: text, QPalette.ColorRole.PlaceholderText: disabled,
        QPalette.ColorRole.Text: text, QPalette.ColorRole.Button: button, QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: "#ff5555", QPalette.ColorRole.Highlight: highlight,
        QPalette.ColorRole.HighlightedText: hl_text, QPalette.ColorRole.Link: link,
        QPalette.ColorRole.Mid: mid, QPalette.ColorRole.Midlight: alt, QPalette.ColorRole.Dark: mid,
        QPalette.ColorRole.Shadow: "#000000", QPalette.ColorRole.Light: base,
    }
    for role, colour in roles.items():
        p.setColor(role, _hex(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, _hex(disabled))
    return p


def _tabular_font() -> QFont:
    app_font = QGuiApplication.font() if QGuiApplication.instance() is not None else QFont()
    f = QFont(app_font)
    if f.pointSizeF() <= 0:
        f.setPointSizeF(9.0)
    f.setFeature(QFont.Tag("tnum"), 1)
    return f


def light_theme() -> Theme:
    """The light theme (GitHub-Primer-like neutrals; risk colours dark enough for text on white)."""
    palette = _palette(window="#f3f4f6", base="#ffffff", alt="#f6f8fa", text="#1f2328", button="#eef0f3",
                       highlight="#0969da", hl_text="#ffffff", mid="#d0d7de", disabled="#8c959f", link="#0969da")
    return Theme(
        name="light", palette=palette,
        safe=_hex("#1a7f37"), warning=_hex("#bf7a00"), danger=_hex("#cf222e"), liquidated=_hex("#6e7781"),
        stamp=_hex("#b3121f"), stale=_hex("#8c959f"), on_badge=_hex("#ffffff"),
        card_bg=_hex("#ffffff"), card_border=_hex("#d0d7de"), card_liquidated_bg=_hex("#eceef1"),
        text=_hex("#1f2328"), muted=_hex("#656d76"), selection=_hex("#0969da"),
        chart_bg=_hex("#ffffff"), chart_fg=_hex("#57606a"), mark_line=_hex("#0969da"), entry_line=_hex("#6e7781"),
        font=_tabular_font())


def dark_theme() -> Theme:
    """The dark theme (risk colours lifted for contrast on near-black cards)."""
    palette = _palette(window="#0d1117", base="#161b22", alt="#1c2129", text="#e6edf3", button="#21262d",
                       highlight="#2f81f7", hl_text="#ffffff", mid="#30363d", disabled="#6e7681", link="#58a6ff")
    return Theme(
        name="dark", palette=palette,
        safe=_hex("#3fb950"), warning=_hex("#d29922"), danger=_hex("#f85149"), liquidated=_hex("#8b949e"),
        stamp=_hex("#ff6b61"), stale=_hex("#6e7681"), on_badge=_hex("#0d1117"),
        card_bg=_hex("#161b22"), card_border=_hex("#30363d"), card_liquidated_bg=_hex("#1b1f24"),
        text=_hex("#e6edf3"), muted=_hex("#8d96a0"), selection=_hex("#2f81f7"),
        chart_bg=_hex("#0d1117"), chart_fg=_hex("#8d96a0"), mark_line=_hex("#58a6ff"), entry_line=_hex("#8b949e"),
        font=_tabular_font())


def resolve_scheme(name: str) -> str:
    """``light`` or ``dark`` for a setting value; ``system`` follows the platform (Unknown → light)."""
    if name in ("light", "dark"):
        return name
    if name != "system":
        raise ValueError(f"theme must be one of {', '.join(THEME_NAMES)}; got {name!r}")
    if QGuiApplication.instance() is None:
        return "light"
    scheme = QGuiApplication.styleHints().colorScheme()
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


def make_theme(name: str) -> Theme:
    """The :class:`Theme` for ``light``, ``dark`` or ``system`` without touching the application."""
    return dark_theme() if resolve_scheme(name) == "dark" else light_theme()


def apply_theme(app, name: str) -> Theme:
    """Fusion, the palette of ``name`` (``light``/``dark``/``system``) on ``app``; returns the :class:`Theme`.

    For ``light``/``dark`` also asks the platform to match (``setColorScheme``, Qt ≥ 6.8; a no-op
    offscreen); for ``system`` it hands the choice back to the platform (``Unknown``).
    """
    if name not in THEME_NAMES:
        raise ValueError(f"theme must be one of {', '.join(THEME_NAMES)}; got {name!r}")
    hints = QGuiApplication.styleHints() if app is not None else None
    if hints is not None and hasattr(hints, "setColorScheme"):
        # "system" first hands the scheme back to the platform, so the read below is the platform's
        wanted = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(name, Qt.ColorScheme.Unknown)
        hints.setColorScheme(wanted)
    resolved = resolve_scheme(name)
    theme = dark_theme() if resolved == "dark" else light_theme()
    if app is not None:
        if app.style().name().lower() != "fusion":
            app.setStyle("Fusion")
        app.setPalette(theme.palette)
    return theme
