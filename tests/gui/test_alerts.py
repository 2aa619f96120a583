"""Alerts newest first, acknowledgement requests and marks."""

from PySide6.QtCore import Qt

from isodesk.store.records import Alert
from isodesk.ui.alerts import COL_ACK, COL_LEVEL, AlertsWidget
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
