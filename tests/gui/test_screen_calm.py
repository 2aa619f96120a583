"""A calm live view: cards fill the width, re-sorts never scroll, nothing moves under the pointer, one sort state."""

from __future__ import annotations

import dataclasses

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from isodesk.desk.levels import Level
from isodesk.desk.snapshot import frozen
from isodesk.ui.columns import COLUMN_INDEX, COLUMNS
from isodesk.ui.models import LevelRole, PositionIdRole, PositionsModel, SortKeyRole
from isodesk.ui.views import CARD_SPACING, CardView, PositionSelection, PositionsTable


def ids(model):
    return [model.index(r, 0).data(PositionIdRole) for r in range(model.rowCount())]


def test_cards_fill_the_width_at_every_window_size(qtbot, demo_desk):
    model = PositionsModel()
    view = CardView(model)
    qtbot.addWidget(view)
    model.apply(demo_desk.desk.snapshot)
    view.show()
    for width in (560, 700, 880, 1150, 1500, 1900):  # the grid's share of 1280…1920-wide windows
        view.resize(width, 600)
        qtbot.waitUntil(lambda w=width: view.width() == w)
        view.executeDelayedItemsLayout()
        viewport = view.viewport().width()
        first_row = [view.visualRect(model.index(r, 0)) for r in range(model.rowCount())]
        first_row = [r for r in first_row if r.top() == first_row[0].top()]
        assert len(first_row) == view.columns()
        right = max(r.right() for r in first_row)
        # no empty band: what is left is the spacing and less than a pixel per column of rounding
        assert viewport - (2 * CARD_SPACING + view.columns()) <= right < viewport, (width, right, viewport)
        assert view.card_size().width() >= view.delegate.min_cell_width()  # and nothing squeezed


def _tall_grid(qtbot, model, height=380):
    view = CardView(model)
    qtbot.addWidget(view)
    view.resize(900, height)
    view.show()
    qtbot.waitExposed(view)
    return view


def test_a_resort_never_scrolls_away_from_the_top(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    view = _tall_grid(qtbot, model)
    bar = view.verticalScrollBar()
    eth = demo_desk.pid("eth-big-long")  # far from liquidation: at the bottom of the grid
    assert view.select_position(eth)
    assert bar.value() > 0  # the trader asked for it: it is brought into view
    bar.setValue(0)  # ... and scrolls back to the riskiest
    before = model.view_row_of(eth)
    model.apply(demo_desk.tick({"ETHUSDT": 2_700.0}))  # the ETH positions change places
    assert model.view_row_of(eth) != before
    assert view.selected_position_id() == eth
    assert bar.value() == 0  # the selected card is not chased
    model.apply(demo_desk.tick({"SOLUSDT": 144.0}))  # a liquidation: a new book, a model reset
    assert view.selected_position_id() == eth
    assert bar.value() == 0


def test_nothing_moves_under_the_pointer(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    top = QWidget()
    layout = QVBoxLayout(top)
    view = CardView(model, top)
    elsewhere = QLabel("elsewhere", top)
    elsewhere.setMinimumHeight(80)
    layout.addWidget(view)
    layout.addWidget(elsewhere)
    qtbot.addWidget(top)
    top.resize(900, 700)
    top.show()
    qtbot.waitExposed(top)
    xrp = demo_desk.pid("xrp-short")
    row = model.view_row_of(xrp)
    order = ids(model)
    qtbot.mouseMove(view.viewport(), QPoint(60, 60))
    qtbot.waitUntil(model.order_held)
    model.apply(demo_desk.tick({"XRPUSDT": 0.687}))  # xrp turns DANGER: it belongs at the top...
    assert ids(model) == order  # ...but the cards stay where they are while the pointer is over them
    assert model.index(row, 0).data(LevelRole) == Level.DANGER  # the figures are live all the same
    qtbot.mouseMove(elsewhere, QPoint(10, 10))
    qtbot.waitUntil(lambda: not model.order_held())
    assert model.view_row_of(xrp) == 0  # the deferred re-sort, once the pointer left


def test_nearest_to_liquidation_is_level_first_then_distance(demo_desk):
    snap = demo_desk.desk.snapshot
    level = np.array(snap.level, dtype=np.int8)
    far = demo_desk.row(snap, "btc-hedge-short")  # the farthest from liquidation (20 %)...
    level[far] = Level.WARNING  # ...kept at WARNING (as a per-position threshold or hysteresis can)
    snap = dataclasses.replace(snap, level=frozen(level))
    model = PositionsModel()
    model.apply(snap)
    shown = [model.index(r, 0).data(LevelRole) for r in range(model.rowCount())]
    distance = [snap.cols["distance_frac"][snap.book.row_of(pid)] for pid in ids(model)]
    assert shown == sorted(shown, reverse=True)  # DANGER, then WARNING, then SAFE
    for lv in set(shown):
        within = [d for d, s in zip(distance, shown, strict=True) if s == lv]
        assert within == sorted(within)  # nearest first within a level
    hedge = model.view_row_of(demo_desk.pid("btc-hedge-short"))
    safe = [r for r, lv in enumerate(shown) if lv == Level.SAFE]
    assert hedge < min(safe) and distance[hedge] > max(distance[r] for r in safe)  # distance alone: last


def test_money_columns_sort_by_usd_value(demo_desk):
    snap = demo_desk.desk.snapshot
    model = PositionsModel()
    model.apply(snap)
    model.sort_by_key("isolated_margin")  # descending: the most collateral first
    col = COLUMN_INDEX["isolated_margin"]
    rows = [snap.book.row_of(pid) for pid in ids(model)]
    usd = [snap.cols["isolated_margin"][r] * (snap.cols["mark"][r] if snap.book.currencies[r] == "BTC" else 1.0)
           for r in rows]
    assert usd == sorted(usd, reverse=True)
    inverse = model.view_row_of(demo_desk.pid("btc-inverse-long"))  # 0.1 BTC ≈ 6,000 USD, not "0.1"
    assert 0 < inverse < model.rowCount() - 1
    assert model.index(inverse, col).data(SortKeyRole) == snap.cols["isolated_margin"][rows[inverse]] * 60_000.0
    assert "USD value" in model.headerData(col, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "USD value" in COLUMNS[COLUMN_INDEX["unrealized_pnl"]].tooltip


def test_one_sort_state_for_header_and_model(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    selection = PositionSelection(model, model)
    table = PositionsTable(model, selection=selection)
    qtbot.addWidget(table)
    table.show()
    header = table.horizontalHeader()
    with qtbot.waitSignal(model.sort_changed, timeout=1000):
        model.sort_by_key("labels")  # e.g. from the sort box
    assert header.sortIndicatorSection() == COLUMN_INDEX["labels"]
    col = COLUMN_INDEX["unrealized_pnl"]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(col) + 10, 5))
    assert model.sort_state()[0] == "unrealized_pnl"
    model.sort_by_key(None)
    assert header.sortIndicatorSection() == -1
    other = PositionsTable(model, selection=selection)  # a second view does not reset the sort
    qtbot.addWidget(other)
    model.sort_by_key("mark", True)
    assert other.horizontalHeader().sortIndicatorSection() == COLUMN_INDEX["mark"]
    assert other.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
