"""The Risk settings dialog on the real window: it shows the desk's settings, refuses what the desk's
rules refuse before sending, and a saved threshold moves the running desk's levels at once."""

from __future__ import annotations

import json
import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox

from isodesk.desk import Level
from isodesk.desk.session import DeskConfig
from isodesk.desk.settings import SetSettings
from isodesk.store import Store
from isodesk.ui.mainwindow import MainWindow, ui_settings
from isodesk.ui.models import LevelRole
from isodesk.ui.settings_dialog import SettingsDialog
from tests.desk.fakes import ScriptedFeed


@pytest.fixture
def window(qtbot, tmp_path):
    feed = ScriptedFeed()
    config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20, feed_factory=lambda store: feed)
    w = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme="light")
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    with qtbot.waitSignal(w.snapshot_applied, timeout=5000):
        w.start()
    yield w
    w.close()
    assert w.controller.thread.isFinished()


def _open(window, qtbot) -> SettingsDialog:
    action = window.findChild(type(window.act_pause), "settings")
    assert action is not None and action.shortcut().toString() == "Ctrl+,"
    with qtbot.waitSignal(window.forms_opened, timeout=2000) as opened:
        action.trigger()
    form = opened.args[0]
    assert isinstance(form, SettingsDialog) and form.isVisible()
    return form


def _level_of(window, pid: int) -> int:
    return window.model.data(window.model.index_of(pid), LevelRole)


def test_the_dialog_shows_the_desks_settings(window, qtbot):
    form = _open(window, qtbot)
    values = {key: (w.isChecked() if isinstance(w, QCheckBox) else w.value()) for key, w in form.fields.items()}
    assert values == {"levels.warning_pct": 10.0, "levels.danger_pct": 3.0, "levels.hysteresis_pct": 0.5,
                      "levels.dwell_s": 5.0, "desk.stale_after_s": 60.0, "venues.reconcile_tolerance_pct": 0.5,
                      "prices.retention_s": 86400.0, "alerts.sound": False,
                      "odds.half_life_s": 3600.0, "odds.alert_pct": 20.0}
    assert not form.save_button.isEnabled()  # nothing changed yet


def test_saving_a_threshold_moves_the_running_desks_levels_at_once(window, qtbot, tmp_path):
    snap = window.model.snapshot()
    distance = snap.cols["distance_frac"]
    safe = [r for r in range(len(snap)) if snap.level[r] == Level.SAFE and math.isfinite(distance[r])
            and not snap.stale[r]]
    row = min(safe, key=lambda r: distance[r])
    pid, d_pct = int(snap.book.position_ids[row]), float(distance[row]) * 100
    assert _level_of(window, pid) == Level.SAFE
    form = _open(window, qtbot)
    warning: QDoubleSpinBox = form.fields["levels.warning_pct"]
    danger: QDoubleSpinBox = form.fields["levels.danger_pct"]
    warning.setValue(math.ceil(d_pct) + 2)
    danger.setValue(math.ceil(d_pct) + 1)
    assert form.save_button.isEnabled()
    assert form.note.text().startswith("To save: levels.warning_pct 10 % → ")
    with qtbot.waitSignal(form.saved, timeout=5000):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert form.status.text().startswith("Saved: levels.warning_pct 10 % → ")
    qtbot.waitUntil(lambda: _level_of(window, pid) == Level.DANGER, timeout=5000)
    assert window.model.snapshot().thresholds.danger == pytest.approx((math.ceil(d_pct) + 1) / 100)
    # in the book, where `isodesk config` reads it
    store = Store.open(tmp_path / "book.db")
    try:
        stored = json.loads(store.db.execute("SELECT value FROM settings WHERE key = 'desk.thresholds'")
                            .fetchall()[0][0])
    finally:
        store.close()
    assert stored["danger"] == pytest.approx((math.ceil(d_pct) + 1) / 100)
    assert not form.save_button.isEnabled()  # saved: nothing left to save


def test_the_form_refuses_what_the_desk_would_refuse(window, qtbot):
    form = _open(window, qtbot)
    form.fields["levels.danger_pct"].setValue(12.0)  # above the 10 % warning
    assert not form.save_button.isEnabled()
    assert form.note.text() == "levels.danger_pct: 12 % must be less than levels.warning_pct (10 %)"
    assert form.save() is None  # nothing is sent
    form.fields["levels.warning_pct"].setValue(15.0)
    assert form.save_button.isEnabled() and form.problem() == ""
    form.fields["levels.hysteresis_pct"].setValue(12.0)
    assert not form.save_button.isEnabled() and form.note.text().startswith("levels.hysteresis_pct: 12 %")


def test_restore_defaults_and_the_sound_switch(window, qtbot):
    form = _open(window, qtbot)
    form.fields["alerts.sound"].setChecked(True)
    form.fields["levels.dwell_s"].setValue(12.5)
    assert form.changes() == [("levels.dwell_s", "12.5"), ("alerts.sound", "on")]
    with qtbot.waitSignal(form.saved, timeout=5000):
        form.save()
    qtbot.waitUntil(lambda: window.model.snapshot().settings.sound is True, timeout=5000)
    assert window.model.snapshot().settings.dwell_s == 12.5
    form.restore_defaults()
    assert form.changes() == [("levels.dwell_s", "5"), ("alerts.sound", "off")]


def test_the_dialog_follows_a_change_made_elsewhere(window, qtbot):
    form = _open(window, qtbot)
    with qtbot.waitSignal(window.controller.result, timeout=5000):  # as `isodesk config set` would
        window.controller.send(SetSettings((("levels.warning_pct", "12"),)))
    qtbot.waitUntil(lambda: form.fields["levels.warning_pct"].value() == 12.0, timeout=5000)
    assert form.changes() == []


def test_the_desks_refusal_is_shown(window, qtbot, monkeypatch):
    form = _open(window, qtbot)
    form.fields["levels.warning_pct"].setValue(20.0)
    # a desk that refuses (the book is read-only, say): the answer is shown as it is
    monkeypatch.setattr("isodesk.ui.settings_dialog.SetSettings", lambda changes: SetSettings((("nope", "1"),)))
    with qtbot.waitSignal(window.controller.result, timeout=5000):
        form.save()
    assert form.status.text().startswith("Not saved: 'nope' is not a setting")
    assert form.save_button.isEnabled()


def test_a_value_finer_than_the_box_is_not_a_change(window, qtbot):
    with qtbot.waitSignal(window.controller.result, timeout=5000):
        window.controller.send(SetSettings((("levels.warning_pct", "10.125"),)))
    qtbot.waitUntil(lambda: window.model.snapshot().settings.warning_pct == 10.125, timeout=5000)
    form = _open(window, qtbot)
    assert form.changes() == [] and not form.save_button.isEnabled()
