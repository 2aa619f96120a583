"""The What-if workspace's top-up controls, driven through the real widgets over a real desk thread:
the policy typed in, the venue auto-add box, what the page shows against the pure core's answer,
the file as recorded replayed with the same options; the real book never moves."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from isodesk.desk.session import DeskConfig
from isodesk.desk.whatif import scenario_book
from isodesk.margin.scenario import Scenario, evaluate
from isodesk.margin.topup import parse_policy, with_top_ups
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.ui.whatif import WhatIfWorkspace
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

CRASH = resource_path("paths", "crash-30pct-rebound.csv")
POLICY = "below=3%,to=8%,cap=500,reserve=2000"


@pytest.fixture
def db(tmp_path):
    return tmp_path / "book.db"


@pytest.fixture
def controller(qtbot, db):
    """A bare desk thread over the demo book (13 positions, 4 accounts) with a scripted feed."""
    feed = ScriptedFeed()
    c = DeskController(DeskConfig(db=str(db), demo=True, step_ms=50, feed_factory=lambda store: feed))
    c.start()
    yield c
    c.shutdown()
    assert c.thread.isFinished()


@pytest.fixture
def editor(qtbot, controller, light):
    """The What-if workspace over that desk, shown (its first outcome arrived)."""
    ed = WhatIfWorkspace(controller, theme=light)
    qtbot.addWidget(ed)
    ed.resize(1280, 640)
    with qtbot.waitSignal(ed.outcome_shown, timeout=5000):
        ed.show()
    return ed


def read_store(db):
    """The book as scenarios see it, the balances and the positions, through a second connection."""
    store = Store.open(db)
    try:
        return scenario_book(store), store.balances(), store.positions(None)
    finally:
        store.close()


def _shown(qtbot, editor, auto_add, policy, timeout=10000):
    def current():
        assert not editor.busy
        out = editor.outcome
        assert out is not None and out.scenario == editor.scenario()
        assert out.rescue_options == (auto_add, policy) and (out.rescue is not None) == bool(auto_add or policy)

    qtbot.waitUntil(current, timeout=timeout)
    return editor.outcome


def _type_policy(qtbot, editor, text):
    line = editor.top_up_bar.policy_edit
    line.setFocus()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


def test_a_typed_policy_reports_who_it_saves_as_the_core_computes(qtbot, editor, db):
    book_before, balances, positions = read_store(db)
    editor.market_slider.setValue(-20)
    _shown(qtbot, editor, False, None)
    _type_policy(qtbot, editor, POLICY)
    out = _shown(qtbot, editor, False, POLICY)
    expected = with_top_ups(evaluate(book_before, Scenario(market_shock=("BTCUSDT", -20.0))), auto_add=False,
                            policy=parse_policy(POLICY))
    assert out.rescue.saved.tolist() == expected.rescue.saved.tolist()
    assert np.allclose(out.rescue.policy_add, expected.rescue.policy_add)
    lost, saved = int(expected.rescue.lost_without.sum()), int(expected.rescue.saved.sum())
    assert lost == 8 and saved >= 1  # a single −20 % jump: the policy lifts some of the 8 back
    text = editor.headline.text()
    assert "Top-ups" in text and f"{saved} of {lost}</b> liquidated positions saved" in text and "by policy" in text
    # the real book did not move
    _, balances_after, positions_after = read_store(db)
    assert balances_after == balances and positions_after == positions


def test_a_bad_policy_is_shown_and_not_sent_then_the_auto_add_box(qtbot, editor, db):
    editor.market_slider.setValue(-20)
    _shown(qtbot, editor, False, None)
    _type_policy(qtbot, editor, "below=8%,to=3%,cap=500,reserve=2000")
    bar = editor.top_up_bar
    assert bar.problem.isVisible() and "must be above the trigger" in bar.problem.text()
    assert bar.policy is None and editor.outcome.rescue is None
    # the demo book was never imported from a venue: no position is flagged, the venues add nothing
    bar.auto_add_box.click()
    out = _shown(qtbot, editor, True, None)
    assert out.rescue.auto_add.sum() == 0 and not out.rescue.saved.any()
    assert "0 of 8</b> liquidated positions saved" in editor.headline.text()
    assert "spending nothing" in editor.headline.text()


def test_the_file_as_recorded_is_replayed_with_the_policy(qtbot, editor, db):
    editor.open_replay(CRASH)
    qtbot.waitUntil(lambda: not editor.path_outcome_pending and editor.path_outcome is not None, timeout=30000)
    assert editor.path_outcome.top_ups is None
    _type_policy(qtbot, editor, POLICY)

    def answered():
        assert not editor.path_outcome_pending and editor.path_outcome is not None
        assert editor.path_outcome.top_ups is not None

    qtbot.waitUntil(answered, timeout=60000)
    top = editor.path_outcome.top_ups
    assert top["policy"] == POLICY
    gone = {p.label for p in editor.path_outcome.liquidated}
    assert set(top["saved"]) | set(top["lost_anyway"]) == gone
    assert "top-ups save" in editor.path_bar.outcome_text
    # the book the desk holds received nothing
    store = Store.open(db)
    try:
        assert not [e for e in store.ledger() if e.kind == "add_margin" and "replay" in e.memo]
        assert scenario_book(store).batch.margin.tolist() == read_store(db)[0].batch.margin.tolist()
    finally:
        store.close()
