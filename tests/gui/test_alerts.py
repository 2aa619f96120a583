"""Alerts newest first, acknowledgement requests and marks."""

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal

from isodesk.desk.levels import Level
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
    demo_desk.tick()
    demo_desk.desk.drain_events()  # the start-up summaries
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


def _shown(qtbot, width: int, height: int) -> AlertsWidget:
    """An empty alerts list of ``width`` × ``height`` px, shown on screen."""
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget

def test_the_full_message_is_readable_and_selecting_an_alert_selects_its_position(qtbot):
    widget = _shown(qtbot, 380, 400)  # the dock's width at 1280×720
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


# -- the desk side of trust (tests/desk/test_alerts_trust.py): the list shows what the desk keeps -------------

XRP_LIQ = 0.692537313432836  # xrp-short of the demo book (its card and the desk agree: tests/gui/test_models.py)


def _xrp(demo_desk, distance, advance=1.0):
    """A tick putting xrp-short (a short) ``distance`` (fraction of the mark) below its liquidation price."""
    return demo_desk.tick({"XRPUSDT": XRP_LIQ / (1 + distance)}, advance=advance)


class _Desk(QObject):
    """The controller's two members the list uses (send, result), answering at once from a real desk."""

    result = Signal(object)

    def __init__(self, desk):
        super().__init__()
        self.desk = desk
        self.sent = []

    def send(self, command):
        self.sent.append(command)
        self.result.emit(self.desk.apply(command))
        return command.request_id


@pytest.mark.parametrize("sound", [False, True])
def test_sound_plays_exactly_on_danger_and_liquidation_with_the_setting_on(qtbot, demo_desk, sound):
    from isodesk.desk.settings import SetSettings

    beeps = []
    widget = AlertsWidget(beep=lambda: beeps.append(demo_desk.clock.now))
    qtbot.addWidget(widget)
    if sound:
        assert demo_desk.desk.apply(SetSettings((("alerts.sound", "on"),))).accepted
    demo_desk.tick()
    widget.add_events(demo_desk.desk.drain_events())  # the summaries: DANGER positions among them, no crossing
    assert beeps == []
    _xrp(demo_desk, 0.08)  # SAFE -> WARNING
    widget.add_events(demo_desk.desk.drain_events())
    assert beeps == []
    _xrp(demo_desk, 0.01)  # WARNING -> DANGER
    widget.add_events(demo_desk.desk.drain_events())
    assert beeps == ([demo_desk.clock.now] if sound else [])
    _xrp(demo_desk, -0.01)  # through the liquidation price
    events = demo_desk.desk.drain_events()
    assert [e.kind.value for e in events if e.label == "xrp-short"] == ["liquidation"]
    widget.add_events(events)
    assert len(beeps) == (2 if sound else 0)
    widget.add_events([_event(90, 7, "danger", "warning", 5.0)])  # an event the desk did not mark: silent
    assert len(beeps) == (2 if sound else 0)


def test_a_flapping_run_kept_as_one_alert_is_one_row_with_its_count(qtbot, demo_desk):
    from isodesk.desk.settings import SetSettings

    widget = AlertsWidget()
    qtbot.addWidget(widget)
    assert demo_desk.desk.apply(SetSettings((("levels.dwell_s", "0"),))).accepted
    demo_desk.tick()
    demo_desk.desk.drain_events()
    for i in range(10):
        _xrp(demo_desk, 0.08 if i % 2 == 0 else 0.2)
        widget.add_events(demo_desk.desk.drain_events())
    xrp = demo_desk.pid("xrp-short")
    stored = [a for a in demo_desk.store.alerts() if a.position_id == xrp]
    assert [(a.count, a.previous, a.level) for a in stored] == [(10, "warning", "safe")]
    assert widget.count() == 1
    assert widget.row_alert_ids(0) == [stored[0].id] and widget.row_count_text(0) == "×10"
    assert widget.unacknowledged == 1
    # the same alert read back from the book (a restart) is the same row
    again = AlertsWidget()
    qtbot.addWidget(again)
    again.set_alerts(stored, {xrp: "xrp-short"})
    assert again.count() == 1 and again.row_count_text(0) == "×10"
    assert again.tree.topLevelItem(0).text(COL_LEVEL) == "WARNING"  # the worse of its two levels
    assert again.unacknowledged == 1


def test_acknowledge_all_sends_one_command_to_the_desk(qtbot, demo_desk):
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    desk = _Desk(demo_desk.desk)
    widget.attach(desk)
    demo_desk.tick()
    _xrp(demo_desk, 0.08)
    _xrp(demo_desk, 0.01)
    widget.add_events(demo_desk.desk.drain_events())
    unacked = {a.id for a in demo_desk.store.alerts(unacknowledged_only=True)}
    assert widget.unacknowledged == len(unacked) >= 3
    asked = []
    widget.acknowledge_requested.connect(asked.append)
    qtbot.mouseClick(widget.ack_all_button, Qt.MouseButton.LeftButton)
    assert asked == []  # attached: no per-alert request
    assert [type(c).__name__ for c in desk.sent] == ["AcknowledgeAlerts"]
    assert set(desk.sent[0].alert_ids) == unacked
    assert demo_desk.store.alerts(unacknowledged_only=True) == []
    assert widget.unacknowledged == 0 and not widget.ack_all_button.isEnabled()


def test_a_refused_acknowledgement_marks_nothing(qtbot):
    from isodesk.desk.commands import Result

    class Refusing(QObject):
        result = Signal(object)

        def send(self, command):
            self.result.emit(Result(command.request_id, False, "alert_ids: no alert with id 7; nothing acknowledged"))
            return command.request_id

    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.attach(Refusing())
    widget.add_events([_event(7, 9, "warning", "safe", 3.0), _event(8, 9, "danger", "warning", 4.0)])
    widget.acknowledge_all()
    assert widget.unacknowledged == 2


def test_the_models_risk_order_is_the_desks(demo_desk):
    from isodesk.ui.models import risk_order

    demo_desk.tick()
    snap = demo_desk.tick({"SOLUSDT": 160.0})  # sol-degen-long far from liquidation now, DANGER for the dwell
    row = demo_desk.row(snap, "sol-degen-long")
    assert snap.level[row] == Level.DANGER and snap.cols["distance_frac"][row] > 0.05
    distance_only = np.argsort(np.where(np.isnan(snap.cols["distance_frac"]), np.inf, snap.cols["distance_frac"]),
                               kind="stable")
    assert list(distance_only) != list(snap.order_by_risk)  # the case where level-first matters
    assert list(risk_order(snap)) == list(snap.order_by_risk)


def _recounted(widget):
    """The unacknowledged count computed from scratch: every shown row's ids not acknowledged, plus held ones."""
    shown = sum(len(widget.row_alert_ids(i)) - len(widget._rows[i].acked) for i in range(widget.count()))
    return shown + sum(1 for e in widget._pending if e.alert_id is not None and not e.acknowledged)


def test_a_long_list_measures_only_what_changes_and_keeps_its_count(qtbot, monkeypatch):
    """Adding to a list of thousands of rows measures the new row's message only (the wrapped height
    is stored in the item, so Qt lays out and scrolls without calling Python per row), and the
    unacknowledged count kept as rows change equals a recount."""
    import isodesk.ui.alerts as alerts

    monkeypatch.setattr(alerts, "MAX_ROWS", 300)
    widget = _shown(qtbot, 380, 500)
    stored = [Alert(i, float(i), 1000 + i, "warning", "level", f"p{i} rose to WARNING #{i}", i % 3 == 0)
              for i in range(1, 501)]
    widget.set_alerts(stored, {1000 + i: f"p{i}" for i in range(1, 501)})
    assert widget.count() == 300  # the newest MAX_ROWS rows
    assert widget.unacknowledged == _recounted(widget) == sum(1 for a in stored[-300:] if not a.acknowledged)
    measured = []
    size = widget._wrap.size
    monkeypatch.setattr(widget._wrap, "size", lambda text, width=None: measured.append(text) or size(text, width))
    widget.add_events([_event(900, 7, "danger", "warning", 900.0, label="doge-long")])
    assert measured == ["doge-long danger #900"]  # one row measured, not 300
    item = widget.tree.topLevelItem(0)
    assert item.sizeHint(COL_MESSAGE) == size("doge-long danger #900")
    assert widget.tree.itemDelegateForColumn(COL_MESSAGE) is None  # no Python delegate asked per row
    # flapping joins rows, acknowledgements and the trim keep the count exact
    widget.add_events([_event(901 + i, 7, "warning" if i % 2 else "danger", "danger", 901.0 + i) for i in range(6)])
    widget.mark_all_acknowledged([900, 901, 10, 499])
    widget.add_events([_event(1000 + i, 2000 + i, "warning", "safe", 1000.0 + i, label=f"q{i}") for i in range(50)])
    assert widget.count() == 300
    assert widget.unacknowledged == _recounted(widget)
    widget.acknowledge_requested.connect(lambda alert_id: widget.mark_acknowledged(alert_id))
    widget.acknowledge_all()
    assert widget.unacknowledged == _recounted(widget) == 0


def test_row_heights_follow_the_message_column_when_it_narrows(qtbot):
    widget = _shown(qtbot, 700, 400)
    message = ("doge-long rose to DANGER: 3.00 % from liquidation at 0.144942 (mark 0.149421); "
               "the venue's own liquidation price is 0.1449")
    widget.set_alerts([Alert(5, 1.0, 42, "danger", "level", message, False)], {42: "doge-long"})
    item = widget.tree.topLevelItem(0)
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QFontMetrics

    def needed():
        width = widget.tree.columnWidth(COL_MESSAGE) - 8
        return QFontMetrics(widget.tree.font()).boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap,
                                                             message).height()

    wide = needed()
    widget.resize(300, 400)  # the message column narrows: the message takes more lines
    qtbot.waitUntil(lambda: needed() > wide)
    qtbot.waitUntil(lambda: widget.tree.visualItemRect(item).height() >= needed())


def _drained(qtbot, widget):
    qtbot.waitUntil(lambda: not widget._backlog and not widget._drain_timer.isActive(), timeout=10_000)


def _rows_shown(widget):
    return [(tuple(widget.row_alert_ids(i)), tuple(widget.tree.topLevelItem(i).text(c) for c in range(5)))
            for i in range(widget.count())]


def test_a_burst_ends_as_adding_its_events_one_at_a_time_does(qtbot):
    """A burst is shown in batches (one insertion per slice): new rows, rows that collect a flapping
    position's changes and move up, repeated deliveries — the list ends as event-by-event adding makes it."""
    events = []
    for i in range(90):
        pid = 100 + i % 50
        level, previous = ("danger", "warning") if i % 3 else ("warning", "safe")
        events.append(_event(1 + i, pid, level, previous, 1000.0 + i, label=f"p{pid}"))
    events.append(events[5])  # delivered twice: counted once
    one_by_one = AlertsWidget()
    qtbot.addWidget(one_by_one)
    for event in events:
        one_by_one.add_events([event])
        _drained(qtbot, one_by_one)
    burst = AlertsWidget()
    qtbot.addWidget(burst)
    burst.add_events(events)
    _drained(qtbot, burst)
    assert burst.count() == one_by_one.count() > 50  # escalations start rows of their own
    assert _rows_shown(burst) == _rows_shown(one_by_one)
    assert burst.alert_ids()[0] == 90  # the newest event's row on top
    assert burst.unacknowledged == _recounted(burst) == one_by_one.unacknowledged == 90


def test_a_burst_longer_than_the_list_shows_its_newest_rows(qtbot, monkeypatch):
    """The list keeps the newest MAX_ROWS rows of a burst, newest first, and its count and lookups only
    know those."""
    import isodesk.ui.alerts as alerts

    monkeypatch.setattr(alerts, "MAX_ROWS", 40)
    widget = AlertsWidget()
    qtbot.addWidget(widget)
    widget.add_events([_event(1 + i, 100 + i, "warning", "safe", 1000.0 + i, label=f"p{i}") for i in range(300)])
    _drained(qtbot, widget)
    assert widget.alert_ids() == list(range(300, 260, -1))
    assert [widget.tree.topLevelItem(i).text(COL_MESSAGE) for i in (0, 39)] == ["p299 warning #300",
                                                                                "p260 warning #261"]
    assert widget.unacknowledged == _recounted(widget) == 40
    assert set(widget._row_of_id) == set(range(261, 301)) and len(widget._latest) == 40


def test_new_alerts_past_a_full_list_drop_the_oldest_row_without_scrolling_to_it(qtbot, monkeypatch):
    """Qt makes the first row current when the list takes the focus; new rows push it down until it is
    trimmed. Letting it go must not scroll the list to the bottom (nor measure every row on the way)."""
    import isodesk.ui.alerts as alerts

    monkeypatch.setattr(alerts, "MAX_ROWS", 200)
    widget = _shown(qtbot, 380, 400)
    widget.set_alerts([Alert(i, float(i), 1000 + i, "warning", "level", f"p{i} rose to WARNING #{i}", False)
                       for i in range(1, 201)], {1000 + i: f"p{i}" for i in range(1, 201)})
    oldest = widget.tree.topLevelItem(199)
    widget.tree.setCurrentItem(oldest)  # as Qt's focus handling does with the first row it saw
    widget.tree.scrollToTop()
    assert widget.tree.verticalScrollBar().value() == 0
    widget.add_events([_event(500 + i, 3000 + i, "warning", "safe", 500.0 + i, label=f"q{i}") for i in range(5)])
    _drained(qtbot, widget)
    assert widget.count() == 200
    assert widget.alert_ids()[:5] == [504, 503, 502, 501, 500]
    assert 1 not in widget.alert_ids()  # the oldest went
    assert widget.tree.currentItem() is None
    assert widget.tree.verticalScrollBar().value() == 0  # still looking at the newest alerts
    # a row the trader chose stays chosen when it moves to the top
    chosen = widget._rows[10]
    widget.tree.setCurrentItem(chosen.item)
    widget.add_events([_event(600, chosen.position_id, "warning", "safe", 600.0, label=chosen.label)])
    _drained(qtbot, widget)
    assert widget.tree.currentItem() is chosen.item and widget._rows[0] is chosen
