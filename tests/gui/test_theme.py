"""Theme: explicit palettes, distinct risk colours, tabular digits; the system choice is safe offscreen."""

import pytest
from PySide6.QtGui import QFont, QPalette

from isodesk.desk.levels import Level
from isodesk.ui.theme import STALE, apply_theme, dark_theme, light_theme, resolve_scheme


def _lum(c):
    def ch(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())


def contrast(a, b):
    hi, lo = sorted((_lum(a), _lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("make", [light_theme, dark_theme])
def test_risk_colours_are_distinct_and_readable_on_the_card(make):
    t = make()
    colours = [t.level_color(lv).name() for lv in (Level.SAFE, Level.WARNING, Level.DANGER, Level.LIQUIDATED)]
    assert len(set(colours)) == 4
    assert t.level_color(STALE) == t.stale
    for lv in (Level.SAFE, Level.DANGER, Level.LIQUIDATED):
        assert contrast(t.level_color(lv), t.card_bg) >= 3.0
    assert contrast(t.text, t.card_bg) >= 7.0


def test_apply_theme_sets_fusion_and_the_palette(qapp):
    t = apply_theme(qapp, "dark")
    assert qapp.style().name().lower() == "fusion"
    assert qapp.palette().color(QPalette.ColorRole.Window) == t.palette.color(QPalette.ColorRole.Window)
    assert t.dark
    t = apply_theme(qapp, "system")  # offscreen reports Unknown: light
    assert t.name == resolve_scheme("system") == "light"
    assert apply_theme(qapp, "light").font.featureValue(QFont.Tag("tnum")) == 1
    with pytest.raises(ValueError, match="theme must be one of"):
        apply_theme(qapp, "sepia")
