"""The venue's liquidation price beside isodesk's, in the table and on the card."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from isodesk.desk import Level
from isodesk.ui.columns import COLUMN_INDEX
from isodesk.ui.models import PositionsModel
from isodesk.ui.views import CardView


def test_reconciliation_is_shown_and_flagged(qtbot, demo_desk, light):
    store = demo_desk.store
    near, far = demo_desk.pid("btc-core-long"), demo_desk.pid("eth-big-long")
    ours = demo_desk.desk.risk_of(near)["liquidation_price"]  # 49,799.20
    store.add_venue_report(ts=1.0, position_id=near, venue="binance-usdm",
                           venue_liquidation_price=Decimal("49780"), venue_margin=None, changes={})
    store.add_venue_report(ts=1.0, position_id=far, venue="binance-usdm",
                           venue_liquidation_price=Decimal("2400"), venue_margin=None, changes={})
    demo_desk.desk.reload()
    snap = demo_desk.tick()
    model = PositionsModel()
    model.apply(snap)
    col = COLUMN_INDEX["reconcile_diff_pct"]
    near_text = model.index(model.view_row_of(near), col).data(Qt.ItemDataRole.DisplayRole)
    far_text = model.index(model.view_row_of(far), col).data(Qt.ItemDataRole.DisplayRole)
    assert near_text == f"+{(ours - 49780) / 49780 * 100:.2f} %"  # +0.04 %: within the 0.5 % tolerance
    assert far_text.endswith("⚠")  # 2,449.80 against 2,400: +2.1 %
    untouched = model.index(model.view_row_of(demo_desk.pid("xrp-short")), col).data(Qt.ItemDataRole.DisplayRole)
    assert untouched == "—"
    view = CardView(model, theme=light)
    qtbot.addWidget(view)
    view.resize(1100, 2400)
    view.show()
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    amber = light.level_color(Level.WARNING)

    def amber_pixels(pid: int) -> int:
        card = view.card_rect(pid)  # a SAFE card: amber can only come from the flagged venue note
        hits = 0
        for y in range(card.top() + 30, card.top() + 52):
            for x in range(card.left(), card.right()):
                c = image.pixelColor(x, y)
                hits += abs(c.red() - amber.red()) + abs(c.green() - amber.green()) + abs(c.blue() - amber.blue()) < 60
        return hits

    assert amber_pixels(far) > 20
    assert amber_pixels(near) == 0
