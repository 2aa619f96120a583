"""Alerts newest first, acknowledgement requests and marks."""

from PySide6.QtCore import Qt

from isodesk.store.records import Alert
from isodesk.ui.alerts import COL_ACK, COL_LEVEL, COL_MESSAGE, AlertsWidget
from isodesk.ui.theme import light_theme


def test_stored_alerts_then_live_events_newest_first(qtbot, demo_desk):
    widget = AlertsWidget(theme=light_theme())
    qtbot.addWidget(widget)
    stored = [Alert(101, 100.0, 7, "warning", "level", "old", False),
              Alert(102, 200.0, 7, "danger", "level", "newer", True)]
    widget.set_alerts(stored, {7: "xrp-short"})
    assert widget.alert_ids() == [102, 101]
    assert widget.unacknowledged == 1
    demo_desk.tick({"XRPUSDT": 0.64})
    demo_desk.tick({"XRPUSDT": 0.687})
    events = demo_desk.desk.drain_events()
    assert [e.level for e in events] == ["warning", "danger"]
    widget.add_events(events)
    assert widget.alert_ids()[:2] == [events[1].alert_id, events[0].alert_id]
    assert widget.unacknowledged == 3
    top = widget.tree.topLevelItem(0)
    assert top.text(COL_LEVEL) == "DANGER"
    assert top.foreground(COL_LEVEL).color() == light_theme().danger


def test_acknowledge_by_button_and_double_click(qtbot, demo_desk):
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.set_alerts([Alert(5, 1.0, None, "danger", "level", "a", False),
                       Alert(6, 2.0, None, "warning", "level", "b", False)], {})
    widget.show()
    assert widget.select_alert(5)
    with qtbot.waitSignal(widget.acknowledge_requested, timeout=1000) as blocker:
        qtbot.mouseClick(widget.ack_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [5]
    with qtbot.waitSignal(widget.unacknowledged_changed, timeout=1000):
        assert widget.mark_acknowledged(5)
    assert widget.unacknowledged == 1
    assert widget.tree.topLevelItem(1).text(COL_ACK) == "✓"
    assert not widget.ack_button.isEnabled()
    with qtbot.assertNotEmitted(widget.acknowledge_requested):
        widget.acknowledge_selected()  # already acknowledged
    item = widget.tree.topLevelItem(0)
    with qtbot.waitSignal(widget.acknowledge_requested, timeout=1000) as blocker:
        widget.tree.itemDoubleClicked.emit(item, 0)
    assert blocker.args == [6]
    assert not widget.mark_acknowledged(999)


# -- alerts a trader can trust (issue 12) ---------------------------------------------------------------

def _event(alert_id, pid, level, previous, ts, label="doge-long", kind="level"):
    from isodesk.desk.events import EventKind, PositionEvent

    return PositionEvent(kind=EventKind(kind), position_id=pid, label=label, symbol="DOGEUSDT", level=level,
                         previous=previous, ts=ts, price=0.15, message=f"{label} {level} #{alert_id}",
                         alert_id=alert_id)


def test_flapping_collapses_into_one_row_with_a_count(qtbot):
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    flaps = [_event(i, 7, "warning" if i % 2 else "safe", "safe" if i % 2 else "warning", 100.0 + i)
             for i in range(1, 11)]
    other = _event(50, 8, "warning", "safe", 104.5, label="eth-long")  # another position in between
    widget.add_events([*flaps[:5], other, *flaps[5:]])
    assert widget.count() == 2
    row = widget.alert_ids().index(10)
    assert widget.row_alert_ids(row) == list(range(1, 11))
    assert widget.row_count_text(row) == "×10"
    assert widget.tree.topLevelItem(row).text(COL_LEVEL) == "WARNING"  # the worst of the run
    assert widget.unacknowledged == 11
    widget.add_events([_event(11, 7, "danger", "warning", 120.0)])  # an escalation gets its own row
    assert widget.count() == 3 and widget.alert_ids()[0] == 11
    widget.add_events([_event(12, 7, "warning", "danger", 121.0)])  # easing joins the danger row
    assert widget.count() == 3 and widget.row_count_text(0) == "×2"
    # acknowledging a row asks for every alert it holds, through the desk
    assert widget.select_alert(10)
    asked = []
    widget.acknowledge_requested.connect(asked.append)
    widget.acknowledge_selected()
    assert asked == list(range(1, 11))
    for alert_id in asked:
        widget.mark_acknowledged(alert_id)
    assert widget.unacknowledged == 3
    assert widget.tree.topLevelItem(widget.alert_ids().index(10)).text(COL_ACK) == "✓"


def test_acknowledge_all_by_button_and_shortcut_asks_for_every_alert(qtbot):
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.set_alerts([Alert(5, 1.0, 3, "danger", "level", "a", False), Alert(6, 2.0, None, "warning", "level", "b",
                                                                               True)], {3: "sol"})
    widget.add_events([_event(7, 9, "warning", "safe", 3.0, label="x")])
    widget.show()
    asked = []
    widget.acknowledge_requested.connect(asked.append)
    assert widget.ack_all_button.isEnabled()
    qtbot.mouseClick(widget.ack_all_button, Qt.MouseButton.LeftButton)
    assert sorted(asked) == [5, 7]


def test_rows_do_not_move_under_the_pointer(qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

    top = QWidget()
    layout = QVBoxLayout(top)
    widget = AlertsWidget(top)
    elsewhere = QLabel("elsewhere", top)
    layout.addWidget(widget)
    layout.addWidget(elsewhere)
    qtbot.addWidget(top)
    top.resize(400, 500)
    top.show()
    qtbot.waitExposed(top)
    widget.add_events([_event(1, 7, "warning", "safe", 1.0), _event(2, 8, "danger", "warning", 2.0, label="eth")])
    under = widget.tree.topLevelItem(0)
    qtbot.mouseMove(widget.tree.viewport(), widget.tree.visualItemRect(under).center())
    qtbot.waitUntil(widget.pointer.inside)
    widget.add_events([_event(3, 9, "danger", "warning", 3.0, label="sol")])
    assert widget.count() == 2 and widget.tree.topLevelItem(0) is under  # the row under the pointer stays
    assert widget.held() == 1 and "1 new" in widget.count_label.text()
    assert widget.unacknowledged == 3  # counted all the same
    qtbot.mouseMove(elsewhere, QPoint(5, 5))
    qtbot.waitUntil(lambda: widget.count() == 3)
    assert widget.alert_ids()[0] == 3


def test_the_full_message_is_readable_and_selecting_an_alert_selects_its_position(qtbot):
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.resize(380, 400)  # the dock's width at 1280×720
    widget.show()
    qtbot.waitExposed(widget)
    message = ("doge-long rose to DANGER: 3.00 % from liquidation at 0.144942 (mark 0.149421); "
               "the venue's own liquidation price is 0.1449")
    widget.set_alerts([Alert(5, 1.0, 42, "danger", "level", message, False)], {42: "doge-long"})
    item = widget.tree.topLevelItem(0)
    assert item.text(COL_MESSAGE) == message
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QFontMetrics

    width = widget.tree.columnWidth(COL_MESSAGE)
    assert QFontMetrics(widget.tree.font()).horizontalAdvance(message) > width  # would not fit on one line
    needed = QFontMetrics(widget.tree.font()).boundingRect(QRect(0, 0, width - 8, 10_000),
                                                           Qt.TextFlag.TextWordWrap, message).height()
    assert widget.tree.visualItemRect(item).height() >= needed  # the row is tall enough: the text wraps
    assert widget.tree.wordWrap() and widget.tree.textElideMode() == Qt.TextElideMode.ElideNone
    with qtbot.waitSignal(widget.position_selected, timeout=1000) as chosen:
        widget.tree.setCurrentItem(item)
    assert chosen.args == [42]
