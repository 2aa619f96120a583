"""The scenario editor over a real desk thread: shocks, whatif parity, saved scenarios, replay, collateral."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from isodesk.cli import main as cli_main
from isodesk.desk.scenario_jobs import GRID_DEFAULT, scenario_to_dict
from isodesk.desk.session import DeskConfig
from isodesk.desk.whatif import scenario_book
from isodesk.feeds.replay import read_path_csv
from isodesk.margin.scenario import Scenario, Shock, evaluate, uniform_grid
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.ui.columns import DASH, fmt_money, fmt_pct, fmt_price
from isodesk.ui.scenario_editor import ScenarioEditor, replay_path
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

CRASH = resource_path("paths", "crash-30pct-rebound.csv")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "book.db"


@pytest.fixture
def controller(qtbot, db):
    """A bare desk thread over the demo book (13 positions, 4 accounts) with a silent scripted feed."""
    c = DeskController(DeskConfig(db=str(db), demo=True, step_ms=50, feed_factory=lambda store: ScriptedFeed()))
    c.start()
    yield c
    c.shutdown()
    assert c.thread.isFinished()


@pytest.fixture
def editor(qtbot, controller, light):
    ed = ScenarioEditor(controller, theme=light)
    qtbot.addWidget(ed)
    ed.resize(1400, 900)
    with qtbot.waitSignal(ed.outcome_shown, timeout=5000):
        ed.show()
    return ed


def read_store(db):
    """A second connection on the same database (the desk's is in its thread)."""
    store = Store.open(db)
    try:
        return scenario_book(store), store.balances(), store.positions(None)
    finally:
        store.close()


def settle(qtbot, editor, change=None, timeout=5000):
    """Make a change, then wait until the editor shows the outcome of exactly its current scenario."""
    if change is not None:
        change()

    def current():
        assert not editor.busy
        assert editor.outcome is not None and editor.outcome.scenario == editor.scenario()

    qtbot.waitUntil(current, timeout=timeout)
    return editor.outcome


def iso_states(editor):
    m = editor.position_model
    return {m.text(r, "Position"): m.text(r, "Isolated") for r in range(m.rowCount())}


def test_dragging_the_market_slider_marks_the_dying_positions(qtbot, editor, db, light):
    book_before, balances, positions = read_store(db)
    assert editor.market_combo.currentText() == "BTCUSDT"
    settle(qtbot, editor, lambda: editor.market_slider.setValue(-20))
    assert editor.market_spin.value() == -20.0
    assert editor.scenario() == Scenario(market_shock=("BTCUSDT", -20.0))

    expected = evaluate(book_before, Scenario(market_shock=("BTCUSDT", -20.0)))
    dying = {book_before.labels[r] for r in np.flatnonzero(expected.isolated.liquidated)}
    assert {"btc-core-long", "sol-degen-long", "btc-bybit-long"} <= dying
    shown = {label for label, state in iso_states(editor).items() if state.startswith("LIQUIDATED")}
    assert shown == dying

    model = editor.position_model
    danger = QColor(light.danger)
    for r in range(model.rowCount()):
        bg = model.data(model.index(r, 0), Qt.ItemDataRole.BackgroundRole)
        fg = model.data(model.index(r, model.column("Isolated")), Qt.ItemDataRole.ForegroundRole)
        if model.text(r, "Position") in dying:
            assert bg is not None and bg.rgb() == danger.rgb()
            assert fg.rgb() == danger.rgb()
        else:
            assert bg is None
    # cross: bybit:USDT is liquidated whole; its neighbours would have saved their positions
    assert model.text(model.rows.index(next(r for r in model.rows if r.cells[0] == "btc-bybit-long")),
                      "Cross margin") == "pool lost"
    assert model.text(0, "Cross margin") == "saves it"  # btc-core-long on binance
    assert "8 of 13" in editor.headline.text() and "bybit:USDT" in editor.headline.text()
    # the real book did not move
    _, balances_after, positions_after = read_store(db)
    assert balances_after == balances and positions_after == positions


def test_result_tables_equal_whatif_json(qtbot, editor, db, capsys):
    pid = editor.position_id("btc-core-long")

    def edit():
        editor.shock_spin("ETHUSDT").setValue(-25.0)
        editor.beta_spin("SOLUSDT").setValue(1.5)
        editor.margin_spin(pid).setValue(2000.0)
        editor.leverage_spin(editor.position_id("doge-long")).setValue(4.0)
        editor.market_spin.setValue(-12.5)

    settle(qtbot, editor, edit)
    assert cli_main(["whatif", "--db", str(db), "--market", "BTCUSDT=-12.5%", "--shock", "ETHUSDT=-25%",
                     "--beta", "SOLUSDT=1.5", "--margin", "btc-core-long=2000", "--leverage", "doge-long=4",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pm, am, tm = editor.position_model, editor.account_model, editor.totals_model
    assert pm.rowCount() == len(doc["isolated"]["positions"]) == 13
    for r, p in enumerate(doc["isolated"]["positions"]):
        ccy = p["currency"]
        assert pm.text(r, "Position") == p["label"] and pm.text(r, "Account") == p["account"]
        assert pm.text(r, "Shocked") == fmt_price(p["shocked_mark"])
        ratio = p["margin_ratio"]
        assert pm.text(r, "Ratio") == (DASH if ratio is None else fmt_pct(ratio * 100))
        assert pm.text(r, "Liq. price") == fmt_price(p["liquidation_price"])
        assert pm.text(r, "uPnL") == fmt_money(p["unrealized_pnl"], ccy, signed=True)
        assert pm.text(r, "Loss") == fmt_money(p["loss"], ccy)
        assert pm.value(r, "Loss") == pytest.approx(p["loss"], rel=1e-12, abs=1e-12)
        assert pm.text(r, "Isolated").startswith("LIQUIDATED") == p["liquidated"]
    crosses = doc["cross"]["accounts"]
    for a, acc in enumerate(doc["isolated"]["accounts"]):
        ccy, cross = acc["currency"], crosses[a]
        assert am.text(a, "Account") == acc["name"]
        assert am.text(a, "Equity now") == fmt_money(acc["equity_now"], ccy)
        held = sum(1 for p in doc["isolated"]["positions"] if p["account"] == acc["name"])
        assert am.text(a, "Iso lost") == f"{acc['positions_lost']}/{held}"
        assert am.text(a, "Iso loss") == fmt_money(acc["total_loss"], ccy)
        assert am.text(a, "Iso equity") == fmt_money(acc["equity_after"], ccy)
        assert (am.text(a, "Cross") == "LIQUIDATED") == cross["liquidated"]
        assert am.text(a, "Cross loss") == fmt_money(cross["total_loss"], ccy)
        assert am.text(a, "Cross equity") == fmt_money(cross["equity_after"], ccy)
    for r, ccy in enumerate(doc["isolated"]["total_loss"]):
        assert tm.text(r, "Currency") == ccy
        assert tm.text(r, "Equity now") == fmt_money(doc["isolated"]["equity_now"][ccy], ccy)
        assert tm.text(r, "Isolated loss") == fmt_money(doc["isolated"]["total_loss"][ccy], ccy)
        assert tm.text(r, "Isolated equity") == fmt_money(doc["isolated"]["equity_after"][ccy], ccy)
        assert tm.text(r, "Cross loss") == fmt_money(doc["cross"]["total_loss"][ccy], ccy)
        assert tm.text(r, "Cross equity") == fmt_money(doc["cross"]["equity_after"][ccy], ccy)
    # and the whole outcome is the CLI's, number for number
    assert editor.outcome.to_dict() == doc


def test_only_the_newest_answer_is_rendered(qtbot, editor):
    shown = []
    editor.outcome_shown.connect(lambda payload: shown.append(payload[0].scenario.market_shock))
    editor.market_spin.setValue(-10.0)
    editor.run_now()
    editor.market_spin.setValue(-30.0)
    settle(qtbot, editor, editor.run_now)
    qtbot.wait(250)  # let the stale answer (and the debounced duplicate) arrive
    assert ("BTCUSDT", -10.0) not in shown
    assert shown and shown[-1] == ("BTCUSDT", -30.0)


def test_save_load_rename_delete(qtbot, editor):
    pid = editor.position_id("eth-big-long")

    def edit():
        editor.shock_spin("SOLUSDT").setValue(-33.3)
        editor.beta_spin("DOGEUSDT").setValue(1.8)
        editor.margin_spin(pid).setValue(-400.0)
        editor.leverage_spin(editor.position_id("btc-scalp-short")).setValue(10.0)
        editor.market_combo.setCurrentText("ETHUSDT")
        editor.market_spin.setValue(-17.0)

    settle(qtbot, editor, edit)
    values, before = editor.scenario_values(), editor.outcome.to_dict()
    editor.save_button.click()
    assert editor.name_bar.isVisible()
    qtbot.keyClicks(editor.name_edit, "eth dump")
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        editor.name_ok.click()
    assert editor.saved_names == ("eth dump",) and editor.saved_combo.currentText() == "eth dump"
    assert not editor.name_bar.isVisible()

    settle(qtbot, editor, editor.reset)
    assert editor.scenario_values() != values
    with qtbot.waitSignal(editor.outcome_shown, timeout=5000,
                          check_params_cb=lambda p: scenario_to_dict(p[0].scenario) == scenario_to_dict(
                              editor.scenario()) and editor.market_spin.value() == -17.0):
        editor.load_button.click()
    assert editor.scenario_values() == values
    assert editor.outcome.to_dict() == before

    editor.rename_button.click()
    editor.name_edit.setText("eth crash")
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        editor.name_ok.click()
    assert editor.saved_names == ("eth crash",) and editor.saved_combo.currentText() == "eth crash"
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        editor.delete_button.click()
    assert editor.saved_names == () and not editor.load_button.isEnabled()


def test_editing_never_changes_the_real_book(qtbot, editor, db):
    _, balances, positions = read_store(db)
    pid = editor.position_id("btc-core-long")
    settle(qtbot, editor, lambda: editor.margin_spin(pid).setValue(3000.0))
    settle(qtbot, editor, lambda: editor.leverage_spin(pid).setValue(2.0))
    settle(qtbot, editor, lambda: editor.preset_buttons["-30"].click())
    settle(qtbot, editor, lambda: editor.preset_buttons["grid"].click())
    settle(qtbot, editor, lambda: editor.open_replay(CRASH))
    settle(qtbot, editor, lambda: editor.replay_slider.setValue(3))
    _, balances_after, positions_after = read_store(db)
    assert balances_after == balances and positions_after == positions


def test_plot_curves_and_liquidation_markers(qtbot, editor, db):
    book, _, _ = read_store(db)
    settle(qtbot, editor, lambda: editor.market_slider.setValue(-20))
    assert len(editor.curves) == 2 * len(book.accounts)
    for curve in editor.curves.values():
        x, y = curve.getData()
        assert len(x) == len(y) == 101 and x[0] == -50 and x[-1] == 50
    grid = uniform_grid(book, np.asarray(GRID_DEFAULT))
    a = book.accounts.index("binance-usdm:USDT")
    _, y = editor.curves[("binance-usdm:USDT", "cross")].getData()
    equity_now = editor.outcome.equity_now[a]
    np.testing.assert_allclose(y, grid.cross_equity[:, a] / equity_now * 100.0)
    want = sorted((float(s), book.labels[r]) for r, s in enumerate(grid.liquidation_shock)
                  if math.isfinite(s) and -50 <= s <= 50)
    got = sorted((x, label) for x, _, label in editor.marker_positions())
    assert [label for _, label in got] == [label for _, label in want]
    np.testing.assert_allclose([x for x, _ in got], [x for x, _ in want])
    assert editor.shock_line.value() == -20.0
    # in money: only the USDT accounts, in USDT
    editor.unit_combo.setCurrentIndex(editor.unit_combo.findData("USDT"))
    _, y = editor.curves[("binance-usdm:USDT", "isolated")].getData()
    np.testing.assert_allclose(y, grid.isolated_equity[:, a])
    assert not editor.curves[("hyperliquid:USDC", "isolated")].isVisible()


def test_replay_scrubs_to_the_liquidations_of_the_path(qtbot, editor, db, monkeypatch):
    monkeypatch.setattr(ScenarioEditor, "ask_path_file", classmethod(lambda cls, parent: str(CRASH)))
    book, _, _ = read_store(db)
    path = replay_path(read_path_csv(CRASH), book, CRASH.name)
    assert len(path) > 300
    assert path.moves[0].shocks["BTCUSDT"] == Shock.pct(0.0)
    settle(qtbot, editor, editor.open_button.click)
    assert editor.replay_slider.maximum() == len(path) == editor.replay_slider.value()
    expected = evaluate(book, Scenario(path=path.moves))
    dying = {book.labels[r] for r in np.flatnonzero(expected.isolated.liquidated)}
    assert {"btc-core-long", "eth-big-long", "sol-degen-long"} <= dying
    shown = {label for label, state in iso_states(editor).items() if state.startswith("LIQUIDATED @")}
    assert shown == dying
    steps = {book.labels[r]: int(s) for r, s in enumerate(expected.isolated.liquidated_step) if s}
    assert all(iso_states(editor)[label] == f"LIQUIDATED @{s}" for label, s in steps.items())
    # scrub back to the start: nothing has moved yet; forward again
    settle(qtbot, editor, lambda: editor.replay_slider.setValue(1))
    assert not any(state.startswith("LIQUIDATED") for state in iso_states(editor).values())
    settle(qtbot, editor, lambda: editor.replay_slider.setValue(len(path)))
    assert {label for label, s in iso_states(editor).items() if s.startswith("LIQUIDATED")} == dying
    assert "step" in editor.step_label.text()
    # a shock edit leaves the path
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-5.0))
    assert editor.path is None and not editor.replay_slider.isEnabled()


def test_apply_collateral_edits_after_confirmation(qtbot, editor, db):
    _, balances, _ = read_store(db)
    pid = editor.position_id("btc-core-long")
    settle(qtbot, editor, lambda: editor.margin_spin(pid).setValue(500.0))
    assert editor.apply_button.isEnabled()
    editor.apply_button.click()
    assert editor.confirm_bar.isVisible() and "btc-core-long" in editor.confirm_text.text()
    _, not_yet, _ = read_store(db)
    assert not_yet == balances  # asking moved nothing
    with qtbot.waitSignal(editor.answered, timeout=5000) as blocker:
        editor.confirm_button.click()
    assert blocker.args[0].accepted, blocker.args[0].reason
    assert not editor.confirm_bar.isVisible()
    assert "added 500" in editor.apply_report.text()
    store = Store.open(db)
    try:
        margin = store.position(pid).isolated_margin
    finally:
        store.close()
    assert margin == Decimal("6700")  # 6,200 + 500: the book changed, by design
    # the editor re-reads the book: the edit is now part of it, not counted twice
    qtbot.waitUntil(lambda: editor.book is not None and float(editor.book.batch.margin[
        editor.book.row(pid)]) == 6700.0, timeout=5000)
    assert editor.margin_spin(pid).value() == 0.0


def test_play_walks_the_path_to_its_end(qtbot, editor):
    settle(qtbot, editor, editor.preset_buttons["grid"].click)
    assert editor.replay_slider.maximum() == 9 and editor.market_group.title() != "Market shock"
    editor.replay_slider.setValue(1)
    editor.play_timer.setInterval(20)
    editor.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not editor.play_button.isChecked(), timeout=5000)
    assert editor.replay_slider.value() == 9
    outcome = settle(qtbot, editor)
    assert outcome.steps == 9
    assert outcome.scenario.path[-1].market_shock == ("BTCUSDT", 16.0)
    # the shorts die on the way up, the longs on the way down: both are marked with their step
    states = iso_states(editor)
    assert states["btc-core-long"] == "ok"  # −16 % is not enough for it (liquidation at −17 %)
    assert states["sol-degen-long"].startswith("LIQUIDATED @")
    assert any(label.endswith("short") and s.startswith("LIQUIDATED @") for label, s in states.items())
