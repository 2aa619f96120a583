"""The painted cards: level colours where the card is, a stamp when liquidated, neighbours untouched."""

import pytest
from PySide6.QtCore import QMargins, QRect
from PySide6.QtGui import QColor, QImage

from isodesk.ui.delegates import CARD_SIZE
from isodesk.ui.models import PositionsModel
from isodesk.ui.theme import dark_theme, light_theme
from isodesk.ui.views import CardView


def count_near(image: QImage, rect: QRect, colour: QColor, tol: int = 10) -> int:
    """Pixels of ``rect`` within ``tol`` of ``colour`` on every channel."""
    n = 0
    r0, g0, b0 = colour.red(), colour.green(), colour.blue()
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            c = image.pixelColor(x, y)
            if abs(c.red() - r0) <= tol and abs(c.green() - g0) <= tol and abs(c.blue() - b0) <= tol:
                n += 1
    return n


def crop(image: QImage, rect: QRect) -> QImage:
    return image.copy(rect)


@pytest.fixture(params=["light", "dark"])
def cards(request, qtbot, demo_desk):
    theme = light_theme() if request.param == "light" else dark_theme()
    model = PositionsModel(pulse_ms=10_000)  # the pulse stays on while we look at colours...
    view = CardView(model, theme=theme)
    view.setPalette(theme.palette)
    qtbot.addWidget(view)
    view.resize(1060, 1000)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    qtbot.waitExposed(view)

    def grab():
        qtbot.wait(1)
        return view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)

    return model, view, theme, grab


def settle(model):
    model._pulses.clear()  # ...and is switched off to compare neighbours pixel for pixel


def test_warning_then_danger_then_liquidated_colour_the_card(cards, demo_desk):
    model, view, theme, grab = cards
    xrp, eth = demo_desk.pid("xrp-short"), demo_desk.pid("eth-swing-short")
    image = grab()
    rect = view.card_rect(xrp)
    assert rect.size() == view.card_size().shrunkBy(QMargins(5, 5, 5, 5))
    assert rect.height() == CARD_SIZE.height() - 10
    assert count_near(image, rect, theme.warning) < 40  # safe: no amber
    neighbour_before = crop(image, view.card_rect(eth))

    model.apply(demo_desk.tick({"XRPUSDT": 0.64}))  # 8.2 % from liquidation: warning
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    amber = count_near(image, rect, theme.warning)
    assert amber > 800, amber  # the 2-px border and the badge
    assert crop(image, view.card_rect(eth)) == neighbour_before

    model.apply(demo_desk.tick({"XRPUSDT": 0.685}))  # 1.1 %: danger
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    assert count_near(image, rect, theme.danger) > 800
    assert count_near(image, rect, theme.warning) < 40
    assert crop(image, view.card_rect(eth)) == neighbour_before

    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # liquidated
    settle(model)
    image = grab()
    rect = view.card_rect(xrp)
    assert count_near(image, rect, theme.stamp, tol=12) > 300
    assert count_near(image, rect, theme.danger) < 300  # the red border is gone; only the stamp is red-ish


def test_the_pulse_glows_outside_the_card(qtbot, demo_desk):
    theme = light_theme()
    model = PositionsModel(pulse_ms=10_000)
    view = CardView(model, theme=theme)
    qtbot.addWidget(view)
    view.resize(1060, 1000)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    xrp = demo_desk.pid("xrp-short")
    model.apply(demo_desk.tick({"XRPUSDT": 0.64}))
    model._pulses[xrp] = model._clock.elapsed() - 5_000  # mid-pulse: full glow
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    cell = view.visualRect(model.index_of(xrp))
    ring = QRect(cell.left() + 2, cell.top() + 40, 2, 60)  # the margin left of the card
    glow = [image.pixelColor(x, y) for x in range(ring.left(), ring.right() + 1)
            for y in range(ring.top(), ring.bottom() + 1)]
    assert any(abs(c.red() - theme.warning.red()) < 40 and c.blue() < 150 for c in glow)
