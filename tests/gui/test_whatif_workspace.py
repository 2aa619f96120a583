"""The What-if workspace over a real desk thread: shocks, whatif parity, needs, cell edits, saved
scenarios, replay, collateral, pinned marks."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from datetime import datetime
from decimal import Decimal

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit

from isodesk.cli import main as cli_main
from isodesk.desk.scenario_jobs import GRID_DEFAULT, scenario_to_dict
from isodesk.desk.session import DeskConfig
from isodesk.desk.whatif import scenario_book
from isodesk.feeds.replay import read_path_csv
from isodesk.margin.scenario import Scenario, Shock, evaluate, price_path, uniform_grid
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.ui.columns import DASH, fmt_money, fmt_pct, fmt_price
from isodesk.ui.whatif import WhatIfWorkspace
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

CRASH = resource_path("paths", "crash-30pct-rebound.csv")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "book.db"


@pytest.fixture
def feed():
    return ScriptedFeed()


@pytest.fixture
def controller(qtbot, db, feed):
    """A bare desk thread over the demo book (13 positions, 4 accounts) with a scripted feed."""
    c = DeskController(DeskConfig(db=str(db), demo=True, step_ms=50, feed_factory=lambda store: feed))
    c.start()
    yield c
    c.shutdown()
    assert c.thread.isFinished()


@pytest.fixture
def editor(qtbot, controller, light):
    ed = WhatIfWorkspace(controller, theme=light)
    qtbot.addWidget(ed)
    ed.resize(1280, 640)
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
    m = editor.positions
    return {m.text(r, "Position"): m.text(r, "Isolated") for r in range(m.rowCount())}


def type_into_cell(qtbot, editor, label, header, text):
    """Type ``text`` into a position's cell through the view's own editor, then press Enter."""
    view, model = editor.positions_view, editor.positions
    index = model.index(model.view_row(editor.position_id(label)), model.column(header))
    view.scrollTo(index)
    view.setCurrentIndex(index)
    view.edit(index)
    line = view.indexWidget(index)  # the editor the delegate opened on this cell
    assert isinstance(line, QLineEdit) and line.objectName() == "cell-editor" and line.isVisible()
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)
    # the delegate commits on the next turn of the event loop (a queued call), then closes the editor
    qtbot.waitUntil(lambda: view.state() != QAbstractItemView.State.EditingState, timeout=2000)


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

    model = editor.positions
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
    assert model.text(model.view_row(editor.position_id("btc-bybit-long")), "Cross margin") == "pool lost"
    assert model.text(0, "Cross margin") == "saves it"  # btc-core-long on binance
    assert "8 of 13" in editor.headline.text() and "bybit:USDT" in editor.headline.text()
    # the real book did not move
    _, balances_after, positions_after = read_store(db)
    assert balances_after == balances and positions_after == positions


def test_result_tables_equal_whatif_json(qtbot, editor, db, capsys):
    def edit():
        assert editor.edit_market("ETHUSDT", "Own shock", "-25")
        assert editor.edit_market("SOLUSDT", "Beta", "1.5")
        assert editor.edit_cell(editor.position_id("btc-core-long"), "Margin ±", "2000")
        assert editor.edit_cell(editor.position_id("doge-long"), "New lev.", "4")
        editor.market_spin.setValue(-12.5)

    settle(qtbot, editor, edit)
    assert cli_main(["whatif", "--db", str(db), "--market", "BTCUSDT=-12.5%", "--shock", "ETHUSDT=-25%",
                     "--beta", "SOLUSDT=1.5", "--margin", "btc-core-long=2000", "--leverage", "doge-long=4",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    pm, am, tm = editor.positions, editor.account_model, editor.totals_model
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
        assert pm.text(r, "Needs") == fmt_money(p["margin_needed"], ccy)
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
        assert am.text(a, "Iso needs") == fmt_money(acc["margin_needed"], ccy)
        assert (am.text(a, "Cross") == "LIQUIDATED") == cross["liquidated"]
        assert am.text(a, "Cross loss") == fmt_money(cross["total_loss"], ccy)
        assert am.text(a, "Cross equity") == fmt_money(cross["equity_after"], ccy)
        assert am.text(a, "Cross needs") == fmt_money(cross["pool_needed"], ccy)
    for r, ccy in enumerate(doc["isolated"]["total_loss"]):
        assert tm.text(r, "Currency") == ccy
        assert tm.text(r, "Equity now") == fmt_money(doc["isolated"]["equity_now"][ccy], ccy)
        assert tm.text(r, "Isolated loss") == fmt_money(doc["isolated"]["total_loss"][ccy], ccy)
        assert tm.text(r, "Isolated equity") == fmt_money(doc["isolated"]["equity_after"][ccy], ccy)
        assert tm.text(r, "Cross loss") == fmt_money(doc["cross"]["total_loss"][ccy], ccy)
        assert tm.text(r, "Cross equity") == fmt_money(doc["cross"]["equity_after"][ccy], ccy)
    # and the whole outcome is the CLI's, number for number
    assert editor.outcome.to_dict() == doc


def _cli_needs(db, capsys, *argv):
    """The 'needs' column of `isodesk whatif` (text table), by position label."""
    assert cli_main(["whatif", "--db", str(db), *argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("position"))
    names = lines[head].split()
    needs = {}
    for line in lines[head + 2:]:
        if not line.strip():
            break
        cells = line.split()
        needs[cells[0]] = cells[names.index("needs") - len(names)]  # counted from the right: ccy is last
    return needs


def test_the_needs_column_is_the_clis_figure_for_the_demo_book(qtbot, editor, db, capsys):
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-20.0))
    needs = _cli_needs(db, capsys, "--market", "BTCUSDT=-20%")
    model = editor.positions
    assert len(needs) == model.rowCount() == 13
    shown = {model.text(r, "Position"): model.text(r, "Needs") for r in range(model.rowCount())}
    assert shown == needs
    assert any(v != "0.00" for v in needs.values())  # the crash makes some positions need more
    # the raw figure is the margin that just survives: the CLI survives with it and dies a cent under it
    r = model.view_row(editor.position_id("btc-core-long"))
    need = model.value(r, "Needs")
    held = model.value(r, "Margin")
    assert need > held
    code = cli_main(["whatif", "--db", str(db), "--market", "BTCUSDT=-20%", "--json",
                     "--margin", f"btc-core-long={Decimal(repr(need - held)).quantize(Decimal('0.01'), 'ROUND_UP')}"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert not next(p for p in doc["isolated"]["positions"] if p["label"] == "btc-core-long")["liquidated"]


def test_typing_into_a_margin_cell_changes_the_result_as_whatif_margin_does(qtbot, editor, db, capsys):
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-20.0))
    assert iso_states(editor)["btc-core-long"] == "LIQUIDATED"
    settle(qtbot, editor, lambda: type_into_cell(qtbot, editor, "btc-core-long", "Margin ±", "+1500"))
    pid = editor.position_id("btc-core-long")
    assert editor.scenario().margin_edits == {pid: 1500.0}
    assert cli_main(["whatif", "--db", str(db), "--market", "BTCUSDT=-20%", "--margin", "btc-core-long=+1500",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert editor.outcome.to_dict() == doc
    row = editor.positions.view_row(pid)
    assert editor.positions.text(row, "Margin ±") == "+1,500.00"
    assert editor.positions.text(row, "Isolated") == "ok"  # 6,200 + 1,500 survives what 6,200 did not
    # the new leverage cell, typed the same way
    settle(qtbot, editor, lambda: type_into_cell(qtbot, editor, "doge-long", "New lev.", "2x"))
    assert editor.scenario().leverage_edits == {editor.position_id("doge-long"): 2.0}
    # Delete clears the current editable cell
    view = editor.positions_view
    view.setCurrentIndex(editor.positions.index(row, editor.positions.column("Margin ±")))
    settle(qtbot, editor, lambda: qtbot.keyClick(view, Qt.Key.Key_Delete))
    assert editor.scenario().margin_edits == {}


REFUSED = [
    ("btc-core-long", "Margin ±", "1,5", "btc-core-long margin ±: '1,5' has a comma"),
    ("btc-core-long", "Margin ±", "-6200", "btc-core-long margin ±: removing 6,200.00 USDT leaves no margin"),
    ("btc-core-long", "Margin ±", "1e13", "more than the largest amount isodesk keeps"),
    ("btc-core-long", "Margin ±", "abc", "btc-core-long margin ±: 'abc' is not a decimal number"),
    ("doge-long", "New lev.", "0.5", "doge-long new leverage: 0.5× is outside 1× to 200×"),
    ("doge-long", "New lev.", "80", "doge-long new leverage: 80× is above the 75× maximum of its bracket"),
]


def test_a_refused_cell_says_why_and_changes_nothing(qtbot, editor):
    before = editor.scenario()
    for label, header, text, reason in REFUSED:
        editor._say("")
        type_into_cell(qtbot, editor, label, header, text)
        assert editor.status.isVisible() and reason in editor.status.text(), (text, editor.status.text())
        assert editor.scenario() == before and not editor.debounce.isActive()


def test_give_it_what_it_needs_from_the_row_menu(qtbot, editor):
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-20.0))
    model = editor.positions
    row = model.view_row(editor.position_id("sol-degen-long"))
    assert model.text(row, "Isolated") == "LIQUIDATED"
    gap = Decimal(repr(model.value(row, "Needs") - model.value(row, "Margin")))
    menu = editor.position_menu(row)
    give = next(a for a in menu.actions() if a.objectName() == "give-needs")
    assert give.isEnabled() and f"+{gap.quantize(Decimal('0.01'), 'ROUND_CEILING')} USDT" in give.text()
    settle(qtbot, editor, give.trigger)
    assert model.text(row, "Isolated") == "ok"
    menu.deleteLater()


def test_marks_of_when_and_take_the_live_marks(qtbot, editor, feed, controller):
    taken = editor.taken_at
    assert taken is not None and abs(taken - time.time()) < 30
    assert editor.marks_bar.label.text() == f"Marks of {datetime.fromtimestamp(taken):%H:%M:%S}"
    btc = editor.book.markets.index("BTCUSDT")
    old_mark = float(editor.book.marks[btc])
    # the live price moves; the page keeps its marks (and says of when) until told otherwise
    new_price = round(old_mark * 0.95, 2)
    feed.push("BTCUSDT", new_price, time.time())
    wanted = feed.pushed
    qtbot.waitUntil(lambda: feed.accepted >= wanted, timeout=5000)
    qtbot.wait(200)  # the desk's step stores it
    outcome = settle(qtbot, editor, lambda: editor.market_spin.setValue(-1.0))
    assert float(outcome.book.marks[btc]) == old_mark
    qtbot.waitUntil(lambda: int(time.time()) > int(taken), timeout=2000)  # a later second to show
    with qtbot.waitSignal(editor.marks_taken, timeout=5000) as took:
        qtbot.mouseClick(editor.marks_bar.take_button, Qt.MouseButton.LeftButton)
    assert took.args[0] > taken and took.args[0] == editor.taken_at
    assert editor.marks_bar.label.text() == f"Marks of {datetime.fromtimestamp(editor.taken_at):%H:%M:%S}"
    outcome = settle(qtbot, editor)
    assert float(outcome.book.marks[btc]) == new_price
    assert editor.markets.data(editor.markets.index(btc, 1)) == fmt_price(new_price)
    assert editor.scenario().market_shock == ("BTCUSDT", -1.0)  # the shock is kept


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
    def edit():
        editor.edit_market("SOLUSDT", "Own shock", "-33.3")
        editor.edit_market("DOGEUSDT", "Beta", "1.8")
        editor.edit_cell(editor.position_id("eth-big-long"), "Margin ±", "-400")
        editor.edit_cell(editor.position_id("btc-scalp-short"), "New lev.", "10")
        editor.market_combo.setCurrentText("ETHUSDT")
        editor.market_spin.setValue(-17.0)

    settle(qtbot, editor, edit)
    values, before = editor.scenario_values(), editor.outcome.to_dict()
    saved = editor.saved
    saved.save_button.click()
    assert saved.name_bar.isVisible()
    qtbot.keyClicks(saved.name_edit, "eth dump")
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        saved.name_ok.click()
    assert editor.saved_names == ("eth dump",) and saved.combo.currentText() == "eth dump"
    assert not saved.name_bar.isVisible()

    settle(qtbot, editor, editor.reset)
    assert editor.scenario_values() != values
    with qtbot.waitSignal(editor.outcome_shown, timeout=5000,
                          check_params_cb=lambda p: scenario_to_dict(p[0].scenario) == scenario_to_dict(
                              editor.scenario()) and editor.market_spin.value() == -17.0):
        saved.load_button.click()
    assert editor.scenario_values() == values
    assert editor.outcome.to_dict() == before

    saved.rename_button.click()
    saved.name_edit.setText("eth crash")
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        saved.name_ok.click()
    assert editor.saved_names == ("eth crash",) and saved.combo.currentText() == "eth crash"
    with qtbot.waitSignal(editor.scenarios_listed, timeout=5000):
        saved.delete_button.click()
    assert editor.saved_names == () and not saved.load_button.isEnabled()


def test_editing_never_changes_the_real_book(qtbot, editor, db):
    _, balances, positions = read_store(db)
    pid = editor.position_id("btc-core-long")
    settle(qtbot, editor, lambda: editor.edit_cell(pid, "Margin ±", "3000"))
    settle(qtbot, editor, lambda: editor.edit_cell(pid, "New lev.", "2"))
    settle(qtbot, editor, lambda: editor.presets.buttons["-30"].click())
    settle(qtbot, editor, lambda: editor.presets.buttons["grid"].click())
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
    assert editor.plot.shock_line.value() == -20.0
    # in money: only the USDT accounts, in USDT
    editor.plot.set_unit("USDT")
    _, y = editor.curves[("binance-usdm:USDT", "isolated")].getData()
    np.testing.assert_allclose(y, grid.isolated_equity[:, a])
    assert not editor.curves[("hyperliquid:USDC", "isolated")].isVisible()


def test_replay_scrubs_to_the_liquidations_of_the_path(qtbot, editor, db, monkeypatch):
    monkeypatch.setattr(WhatIfWorkspace, "ask_path_file", classmethod(lambda cls, parent: str(CRASH)))
    book, _, _ = read_store(db)
    path = price_path(read_path_csv(CRASH), book, CRASH.name)
    assert len(path) > 300
    assert path.moves[0].shocks["BTCUSDT"] == Shock.pct(0.0)
    settle(qtbot, editor, editor.presets.buttons["open"].click)
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
    assert editor.path_bar.step_label.toolTip().startswith(f"step {len(path)}/{len(path)} · ")
    assert "UTC" in editor.path_bar.step_label.toolTip()
    # a shock edit leaves the path
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-5.0))
    assert editor.path is None and not editor.replay_slider.isEnabled()


def test_the_path_file_as_recorded_is_the_step_replays_outcome(qtbot, editor, db, tmp_path, capsys):
    """Opening a path file asks the desk for the file's whole-path outcome (the fast replay, on the
    desk's thread): the same events, liquidations and statuses as ``isodesk replay --step``."""
    settle(qtbot, editor, lambda: editor.open_replay(CRASH))

    def answered():
        assert not editor.path_outcome_pending and editor.path_outcome is not None

    qtbot.waitUntil(answered, timeout=30000)
    outcome = editor.path_outcome
    copy = tmp_path / "copy.db"
    source = Store.open(db)
    try:
        target = sqlite3.connect(copy)
        source.db.conn.backup(target)
        target.close()
    finally:
        source.close()
    assert cli_main(["replay", str(CRASH), "--db", str(copy), "--step", "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [e for e in printed if "event" in e]
    summary = next(e["summary"] for e in printed if "summary" in e)
    assert list(outcome.events) == events
    liquidations = {e["label"]: (e["ts"], e["price"]) for e in events if e["event"] == "liquidation"}
    assert {"btc-core-long", "eth-big-long", "sol-degen-long"} <= set(liquidations)
    assert {p.label: (p.liquidated_ts, p.liquidated_price) for p in outcome.liquidated} == liquidations
    assert {p.label: p.status for p in outcome.positions} == {
        p["label"]: p["status"] for p in summary["positions"] if p["label"] in {q.label for q in outcome.positions}}
    bar = editor.path_bar
    assert bar.outcome_text == outcome.text() and bar.outcome_label.isVisible()
    assert f"{len(liquidations)} of {len(outcome.positions)} liquidated" in bar.outcome_text
    # back to shocks: the file's line goes
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-5.0))
    assert editor.path_outcome is None and not bar.outcome_label.isVisible()


def test_apply_collateral_edits_after_confirmation(qtbot, editor, db):
    _, balances, _ = read_store(db)
    pid = editor.position_id("btc-core-long")
    settle(qtbot, editor, lambda: editor.edit_cell(pid, "Margin ±", "500"))
    bar = editor.apply_bar
    assert bar.button.isEnabled()
    bar.button.click()
    assert bar.confirm_bar.isVisible() and "btc-core-long" in bar.confirm_text.text()
    _, not_yet, _ = read_store(db)
    assert not_yet == balances  # asking moved nothing
    with qtbot.waitSignal(editor.answered, timeout=5000) as blocker:
        bar.confirm_button.click()
    assert blocker.args[0].accepted, blocker.args[0].reason
    assert not bar.confirm_bar.isVisible()
    assert "added 500" in bar.report.text()
    store = Store.open(db)
    try:
        margin = store.position(pid).isolated_margin
    finally:
        store.close()
    assert margin == Decimal("6700")  # 6,200 + 500: the book changed, by design
    # the next run reads the book: the edit is now part of it, not counted twice
    qtbot.waitUntil(lambda: editor.book is not None and float(editor.book.batch.margin[
        editor.book.row(pid)]) == 6700.0, timeout=5000)
    assert editor.scenario().margin_edits == {}


def test_play_walks_the_path_to_its_end(qtbot, editor):
    settle(qtbot, editor, editor.presets.buttons["grid"].click)
    assert editor.replay_slider.maximum() == 9 and "ends the path" in editor.shock_bar.title.text()
    editor.replay_slider.setValue(1)
    editor.path_bar.timer.setInterval(20)
    editor.path_bar.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not editor.path_bar.play_button.isChecked(), timeout=5000)
    assert editor.replay_slider.value() == 9
    outcome = settle(qtbot, editor)
    assert outcome.steps == 9
    assert outcome.scenario.path[-1].market_shock == ("BTCUSDT", 16.0)
    # the shorts die on the way up, the longs on the way down: both are marked with their step
    states = iso_states(editor)
    assert states["btc-core-long"] == "ok"  # −16 % is not enough for it (liquidation at −17 %)
    assert states["sol-degen-long"].startswith("LIQUIDATED @")
    assert any(label.endswith("short") and s.startswith("LIQUIDATED @") for label, s in states.items())


def test_the_own_shock_slider_follows_the_selected_market(qtbot, editor):
    editor.tabs.setCurrentIndex(1)
    view, model = editor.markets_view, editor.markets
    view.setCurrentIndex(model.index(model.row_of("SOLUSDT"), 0))
    assert editor.own_slider.market == "SOLUSDT" and editor.own_slider.slider.isEnabled()
    settle(qtbot, editor, lambda: editor.own_slider.slider.setValue(-12))
    assert editor.scenario().shocks == {"SOLUSDT": Shock.pct(-12.0)}
    sol = model.row_of("SOLUSDT")
    assert model.data(model.index(sol, 2)) == fmt_pct(-12.0, signed=True)
    price = editor.outcome.prices[-1, sol]
    assert price == pytest.approx(editor.book.marks[sol] * 0.88, rel=1e-12)


def test_sorting_by_needs_keeps_edits_on_their_positions(qtbot, editor):
    settle(qtbot, editor, lambda: editor.market_spin.setValue(-20.0))
    model = editor.positions
    pid = editor.position_id("doge-long")
    settle(qtbot, editor, lambda: editor.edit_cell(pid, "Margin ±", "100"))
    editor.positions_view.sortByColumn(model.column("Needs"), Qt.SortOrder.DescendingOrder)
    needs = [model.value(r, "Needs") for r in range(model.rowCount())]
    assert needs == sorted(needs, reverse=True)
    row = model.view_row(pid)
    assert model.text(row, "Position") == "doge-long" and model.text(row, "Margin ±") == "+100.00"
    editor.positions_view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # back to the book's order
    assert [model.text(r, "Position") for r in range(model.rowCount())] == list(editor.book.labels)


def test_no_stray_warnings_from_the_page(qtbot, editor):
    QApplication.processEvents()
    assert editor.per_position_widgets() == []
