"""The real main window with the desk in its worker thread: snapshots, levels, liquidation, shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from isodesk.desk import Level
from isodesk.desk.session import DeskConfig
from isodesk.ui.columns import COLUMN_INDEX
from isodesk.ui.mainwindow import MainWindow, ui_settings
from isodesk.ui.models import LevelRole
from tests.desk.fakes import ScriptedFeed


@pytest.fixture
def feed():
    return ScriptedFeed()


@pytest.fixture
def make_window(qtbot, tmp_path, feed):
    """Builds the window on a demo database with a scripted feed; closes it (joining the thread) after."""
    made = []

    def make(theme: str | None = "light"):
        config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20, feed_factory=lambda store: feed)
        window = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme=theme)
        qtbot.addWidget(window)
        window.resize(1400, 900)
        window.show()
        with qtbot.waitSignal(window.snapshot_applied, timeout=5000):
            window.start()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()
        assert window.controller.thread.isFinished()


def _level(window, label):
    model = window.model
    snap = model.snapshot()
    pid = int(snap.book.position_ids[snap.book.labels.index(label)])
    return model.data(model.index_of(pid), LevelRole)


def _push(feed, qtbot, window, market, price):
    feed.push(market, price, time.time())
    wanted = feed.pushed
    qtbot.waitUntil(lambda: window.model.snapshot().feed.accepted >= wanted, timeout=5000)


def test_snapshots_arrive_from_the_worker_thread(make_window):
    window = make_window()
    snap = window.model.snapshot()
    assert len(snap) == 13
    assert window.model.rowCount() == 13
    assert window.controller.thread.isRunning()
    # the default order is nearest to liquidation first
    first = window.model.position_id(0)
    assert first == int(snap.book.position_ids[snap.order_by_risk[0]])


def test_crossing_warning_then_liquidation_leaves_neighbours_alone(make_window, feed, qtbot):
    window = make_window()
    # btc-core-long: 0.5 BTC long at 62,000 with 6,200 margin → liquidation ≈ 49,799; warning within 10 %
    _push(feed, qtbot, window, "BTCUSDT", 60_000.0)
    assert _level(window, "btc-core-long") == Level.SAFE
    neighbour_before = _level(window, "eth-big-long")
    _push(feed, qtbot, window, "BTCUSDT", 54_000.0)
    assert _level(window, "btc-core-long") == Level.WARNING
    window.cards.scrollTo(window.model.index_of(_pid(window, "btc-core-long")))
    card = window.cards.card_rect(_pid(window, "btc-core-long"))
    assert card.intersects(window.cards.viewport().rect())
    assert _has_colour(window.cards.viewport().grab().toImage(), card, window.theme.level_color(Level.WARNING))
    with qtbot.waitSignal(window.notified, timeout=5000):
        _push(feed, qtbot, window, "BTCUSDT", 49_000.0)
    qtbot.waitUntil(lambda: _level(window, "btc-core-long") == Level.LIQUIDATED, timeout=5000)
    snap = window.model.snapshot()
    assert snap.book.statuses[snap.book.labels.index("btc-core-long")] == "liquidated"
    assert _level(window, "eth-big-long") == neighbour_before
    assert snap.book.statuses[snap.book.labels.index("btc-hedge-short")] == "open"
    assert window.alerts.unacknowledged >= 1


def test_filter_and_sort(make_window, qtbot):
    window = make_window()
    qtbot.keyClicks(window.filter_text, "hyperliquid")
    assert window.model.rowCount() == 4
    window.filter_text.clear()
    window.filter_level.setCurrentIndex(window.filter_level.findData("danger"))
    assert window.model.rowCount() == 2
    window.filter_level.setCurrentIndex(0)
    window.sort_box.setCurrentIndex(window.sort_box.findData("labels"))
    labels = [window.model.snapshot().book.labels[window.model.snapshot().book.row_of(window.model.position_id(i))]
              for i in range(window.model.rowCount())]
    assert labels == sorted(labels)


def test_view_and_theme_persist(make_window, tmp_path, qtbot):
    window = make_window()
    window.set_view("table")
    window.set_theme("dark")
    window.close()
    again = make_window(theme=None)
    assert again.view_name() == "table"
    assert again.theme.dark


def test_every_menu_action_has_a_shortcut(make_window):
    window = make_window()

    def actions(menu):
        for action in menu.actions():
            if action.menu() is not None:
                yield from actions(action.menu())
            elif not action.isSeparator():
                yield action

    items = [a for top in window.menuBar().actions() for a in actions(top.menu())]
    assert len(items) >= 15
    assert [a.text() for a in items if a.shortcut().isEmpty()] == []
    # and the menu shows it: Qt renders the shortcut beside the text of an action that has one
    assert window.act_pause.shortcut().toString() == "Ctrl+P"


def _pid(window, label):
    snap = window.model.snapshot()
    return int(snap.book.position_ids[snap.book.labels.index(label)])


def _has_colour(image: QImage, rect, colour, tolerance: int = 40, minimum: int = 30) -> bool:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    rect = rect.intersected(image.rect())
    hits = 0
    for y in range(rect.top(), rect.bottom(), 2):
        for x in range(rect.left(), rect.right(), 2):
            c = image.pixelColor(x, y)
            distance = abs(c.red() - colour.red()) + abs(c.green() - colour.green()) + abs(c.blue() - colour.blue())
            hits += distance < tolerance
    return hits >= minimum


@pytest.mark.slow
def test_screenshot_command_writes_the_window(tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "isodesk", "screenshot", str(out), "--db", str(tmp_path / "s.db"),
                           "--demo", "--after", "1", "--size", "1200x800"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 800)
    # the riskiest demo position is DANGER: its card (top-left) carries the danger red
    from isodesk.ui.theme import light_theme

    red = light_theme().level_color(Level.DANGER)
    from PySide6.QtCore import QRect

    assert _has_colour(image, QRect(0, 60, 600, 300), red)


def test_acknowledging_an_alert_goes_through_the_desk(make_window, feed, qtbot, tmp_path):
    window = make_window()
    _push(feed, qtbot, window, "SOLUSDT", 150.0)
    _push(feed, qtbot, window, "SOLUSDT", 144.0)  # sol-degen-long (liq ≈ 147.24) is liquidated
    qtbot.waitUntil(lambda: any("LIQUIDATED" in window.alerts.tree.topLevelItem(i).text(2)  # after the summaries
                                for i in range(window.alerts.count())), timeout=5000)
    before = window.alerts.unacknowledged
    alert_id = next(a for a in window.alerts.alert_ids() if a is not None)
    with qtbot.waitSignal(window.controller.result, timeout=5000):
        window.alerts.acknowledge_requested.emit(alert_id)
    assert window.alerts.unacknowledged == before - 1
    from isodesk.store import Store

    store = Store.open(tmp_path / "book.db")
    try:
        acked = {a.id for a in store.alerts() if a.acknowledged}
    finally:
        store.close()
    assert alert_id in acked


def test_margin_top_up_from_the_window_then_undo(make_window, qtbot, tmp_path):
    window = make_window()
    pid = _pid(window, "btc-hedge-short")  # in profit: taking the top-up back out stays within the venue's rule
    assert window.cards.select_position(pid)
    with qtbot.waitSignal(window.forms_opened, timeout=2000) as opened:
        window.act_add.trigger()
    dialog = opened.args[0]
    qtbot.keyClicks(dialog.amount, "250.5")
    qtbot.waitUntil(lambda: dialog.confirm_button.isEnabled(), timeout=3000)
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000):
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    row = lambda: window.model.snapshot().book.row_of(pid)  # noqa: E731
    qtbot.waitUntil(lambda: window.model.snapshot().cols["isolated_margin"][row()] == 3_910.5, timeout=5000)
    with qtbot.waitSignal(window.controller.result, timeout=5000) as answer:
        window.act_undo.trigger()
    assert answer.args[0].accepted, answer.args[0].reason
    qtbot.waitUntil(lambda: window.model.snapshot().cols["isolated_margin"][row()] == 3_660.0, timeout=5000)
    with qtbot.waitSignal(window.controller.result, timeout=5000) as answer:
        window.act_undo.trigger()
    assert not answer.args[0].accepted
    assert "no collateral adjustment to undo" in window.statusBar().currentMessage()


def test_position_actions_need_a_selection(make_window):
    window = make_window()
    window.cards.clearSelection()
    window.chart.show_position(None)
    assert window.collateral_dialog("add") is None
    assert "select a position first" in window.statusBar().currentMessage()
    assert window.open_position_dialog() is not None


def test_what_if_page_opens_on_the_live_book(make_window, qtbot):
    # the What-if dock became a workspace page (issue 12): tests/gui/test_whatif_page.py has the rest
    window = make_window()
    assert not window.whatif.isVisible()
    assert "Ctrl+Shift+W" in [k.toString() for k in window.act_whatif.shortcuts()]
    with qtbot.waitSignal(window.whatif.book_loaded, timeout=5000) as loaded:
        window.act_whatif.trigger()
    assert window.whatif.isVisible()
    assert len(loaded.args[0].labels) == 13


# -- one selection, one sort state, a calm order (issue 12) ----------------------------------------------

def test_one_selection_for_table_cards_chart_and_the_margin_dialog(make_window, qtbot):
    window = make_window()
    window.set_view("table")
    table = window.table
    assert table.selectionModel() is window.cards.selectionModel()
    pid = _pid(window, "eth-hl-long")
    row = window.model.view_row_of(pid)
    cell = table.visualRect(window.model.index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())
    assert window.table.selected_position_id() == pid
    assert window.cards.selected_position_id() == pid  # the card is selected
    assert window.chart.position_id() == pid  # the chart shows it
    assert "eth-hl-long" in window.chart_dock.windowTitle()
    with qtbot.waitSignal(window.forms_opened, timeout=2000) as opened:
        qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # Add margin… (Ctrl+M)
    assert opened.args[0].position_id == pid  # the dialog opens on it
    opened.args[0].close()


def test_the_sort_box_and_the_table_header_show_one_sort_state(make_window, qtbot):
    window = make_window()
    window.set_view("table")
    header = window.table.horizontalHeader()
    col = COLUMN_INDEX["unrealized_pnl"]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(header.sectionViewportPosition(col) + 10, 5))
    assert window.sort_box.currentData() == "unrealized_pnl"  # the header click shows in the sort box
    assert window.sort_order.isEnabled()
    window.sort_box.setCurrentIndex(window.sort_box.findData("isolated_margin"))
    assert header.sortIndicatorSection() == COLUMN_INDEX["isolated_margin"]  # and the box in the header
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    qtbot.mouseClick(window.sort_order, Qt.MouseButton.LeftButton)  # the direction button
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    window.sort_box.setCurrentIndex(0)
    assert header.sortIndicatorSection() == -1
    assert window.model.sort_state() == (None, False)


@pytest.mark.qt_log_ignore("This plugin does not support raise", "This plugin does not support grabbing")
def test_the_order_waits_while_a_menu_is_open(make_window, feed, qtbot):
    window = make_window()
    window.model._reorder_ms = 0  # the live re-sort rate limit (1 s) is not what this test is about
    xrp = _pid(window, "xrp-short")
    before = window.model.view_row_of(xrp)
    assert before > 0
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Position")
    menu.popup(window.mapToGlobal(QPoint(40, 40)))
    qtbot.waitUntil(window.model.order_held)
    assert "order held" in window.count_label.text()
    _push(feed, qtbot, window, "XRPUSDT", 0.687)  # xrp turns DANGER
    assert _level(window, "xrp-short") == Level.DANGER
    assert window.model.view_row_of(xrp) == before  # nothing moved while the menu is open
    menu.hide()
    qtbot.waitUntil(lambda: window.model.view_row_of(xrp) <= 2)  # DANGER rows first, once it closed


def test_selecting_an_alert_selects_its_position_and_acknowledge_all_goes_through_the_desk(make_window, feed,
                                                                                             qtbot, tmp_path):
    window = make_window()
    _push(feed, qtbot, window, "XRPUSDT", 0.64)  # xrp-short: warning
    _push(feed, qtbot, window, "ETHUSDT", 2_600.0)  # the ETH longs move towards their lines
    qtbot.waitUntil(lambda: window.alerts.count() >= 1, timeout=5000)
    xrp = _pid(window, "xrp-short")
    item = next(window.alerts.tree.topLevelItem(i) for i in range(window.alerts.count())
                if "xrp-short" in window.alerts.tree.topLevelItem(i).text(2))
    window.alerts.tree.setCurrentItem(item)
    assert window.selected_position() == xrp
    assert window.cards.selected_position_id() == xrp and window.chart.position_id() == xrp
    from isodesk.store import Store

    def unacknowledged_in_book() -> int:
        store = Store.open(tmp_path / "book.db")
        try:
            return sum(not a.acknowledged for a in store.alerts())
        finally:
            store.close()

    qtbot.waitUntil(lambda: window.alerts.unacknowledged == unacknowledged_in_book() >= 1, timeout=5000)
    window.act_ack_all.trigger()
    qtbot.waitUntil(lambda: window.alerts.unacknowledged == 0, timeout=5000)
    assert unacknowledged_in_book() == 0
