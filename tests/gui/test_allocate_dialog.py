"""Account → Allocate free collateral…: the preview off the snapshot agrees with the plan the command
line makes from the store, Confirm sends one command the desk applies whole, and a budget beyond the
free balance keeps Confirm disabled with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import QLocale, Qt

from isodesk.desk.allocation import plan_from_store
from isodesk.desk.session import DeskConfig
from isodesk.store import Store
from isodesk.ui.dialogs.allocate import AllocateDialog
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

EN = QLocale("en_US")
USDC = "hyperliquid:USDC"


@pytest.fixture
def controller(qtbot, tmp_path):
    path = tmp_path / "book.db"
    feed = ScriptedFeed()
    ctl = DeskController(DeskConfig(db=str(path), demo=True, step_ms=20, feed_factory=lambda store: feed))
    with qtbot.waitSignal(ctl.snapshot, timeout=5000):
        ctl.start()
    ctl.path = path  # type: ignore[attr-defined]
    yield ctl
    assert ctl.shutdown()


def _dialog(qtbot, controller, **kw):
    dialog = AllocateDialog(controller, controller.latest, None, locale=EN, **kw)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def _budget(qtbot, dialog, text):
    dialog.amount.clear()
    qtbot.keyClicks(dialog.amount, text)
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)


def _store_plan(path, amount):
    store = Store.open(path)
    try:
        return plan_from_store(store, Decimal(amount), account=USDC)
    finally:
        store.close()


def test_preview_matches_the_store_plan_and_confirm_applies_it(qtbot, controller):
    dialog = _dialog(qtbot, controller, account=USDC)
    assert dialog.account() == USDC
    _budget(qtbot, dialog, "1500")
    assert dialog.problem() == "" and dialog.confirm_button.isEnabled()
    want = _store_plan(controller.path, "1500")
    assert dialog.plan is not None
    assert dialog.plan.top_ups == want.top_ups
    assert dialog.table.rowCount() == len(want.rows)
    labels = [dialog.table.item(i, 0).text() for i in range(dialog.table.rowCount())]
    assert labels == [r.label for r in want.rows]
    assert "smallest distance to liquidation" in dialog.summary_label.text()
    free_before = next(a.free_balance for a in controller.latest.accounts if a.name == USDC)
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert "allocated" in blocker.args[0].reason
    qtbot.waitUntil(lambda: next(a.free_balance for a in controller.latest.accounts if a.name == USDC)
                    == pytest.approx(free_before - float(want.total)), timeout=5000)
    snap = controller.latest
    distances = [float(snap.cols["distance_frac"][snap.book.row_of(pid)]) for pid, _ in want.top_ups]
    assert min(distances) == pytest.approx(want.min_distance_frac, rel=1e-9)


def test_a_budget_beyond_the_free_balance_is_refused_in_the_form(qtbot, controller):
    dialog = _dialog(qtbot, controller, account=USDC)
    _budget(qtbot, dialog, "99999")
    assert "more than the free balance" in dialog.problem()
    assert not dialog.confirm_button.isEnabled()
    assert dialog.table.rowCount() == 0
    dialog.fill_max()
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)
    assert dialog.problem() == "" and dialog.amount.value() == Decimal("5000")


def test_the_odds_column_sorts_most_likely_first_and_the_card_says_it(demo_desk):
    import math

    import numpy as np

    from isodesk.ui.columns import COLUMN_INDEX, column_for, fmt_pct, format_value
    from isodesk.ui.delegates import odds_note
    from isodesk.ui.models import PositionsModel

    markets = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "DOGEUSDT": 0.15, "XRPUSDT": 0.6}
    swing = {"BTCUSDT": 0.002, "ETHUSDT": 0.004, "SOLUSDT": 0.001, "DOGEUSDT": 0.006, "XRPUSDT": 0.003}
    for i in range(40):  # 40 returns over 1,200 s: past the default warm-up (a quarter of 3,600 s)
        sign = 1 if i % 2 else -1
        snap = demo_desk.tick({m: p * (1 + sign * swing[m]) for m, p in markets.items()}, advance=30)
    p24 = np.asarray(snap.cols["liq_prob_24h"])
    open_rows = [r for r in range(len(p24)) if snap.book.statuses[r] == "open"]
    assert np.isfinite(p24[open_rows]).sum() >= 5
    model = PositionsModel()
    model.apply(snap)
    model.sort_by_key("liq_prob_24h")
    assert model.sort_state() == ("liq_prob_24h", True)
    shown = [float(p24[snap.book.row_of(model.position_id(v))]) for v in range(model.rowCount())]
    finite = [v for v in shown if math.isfinite(v)]
    assert finite == sorted(finite, reverse=True)
    assert all(not math.isfinite(v) for v in shown[len(finite):])  # unknown odds last
    top = snap.book.row_of(model.position_id(0))
    text = model.index(0, COLUMN_INDEX["liq_prob_24h"]).data()
    assert text == format_value(column_for("liq_prob_24h"), float(p24[top]))
    sigma = float(snap.cols["sigma_distance"][top])
    assert format_value(column_for("sigma_distance"), sigma) == f"{sigma:.2f} σ"
    assert odds_note(snap, top) == f"24 h odds {fmt_pct(float(p24[top]) * 100)} · {sigma:.1f} σ"


def test_the_adl_rank_is_a_column_and_on_the_card(tmp_path):
    from isodesk.desk import Desk
    from isodesk.desk.setup import open_book, shipped_catalog
    from isodesk.ui.columns import cell_text, column_for
    from isodesk.ui.delegates import adl_text

    store = open_book(tmp_path / "adl.db", demo=True)
    try:
        pid = store.position_by_label("btc-bybit-long").id
        store.add_venue_report(ts=1.0, position_id=pid, venue="bybit", venue_liquidation_price=None,
                               venue_margin=None, changes={}, adl_rank=3)
        desk = Desk(store, None, catalog=shipped_catalog())
        try:
            snap = desk.snapshot
            row = snap.book.row_of(pid)
            other = snap.book.row_of(store.position_by_label("btc-core-long").id)
            assert snap.book.adl_rank[row] == 3 and snap.book.adl_rank[other] is None
            assert cell_text(column_for("adl_rank"), snap, row) == "3/5"
            assert cell_text(column_for("adl_rank"), snap, other) == ""
            assert adl_text(snap, row) == "ADL 3/5" and adl_text(snap, other) == ""
        finally:
            desk.close()
    finally:
        store.close()


def test_the_survive_goal_shows_the_desks_plan_for_a_saved_scenario(qtbot, controller):
    from isodesk.desk.scenario_jobs import SaveScenario
    from isodesk.margin.scenario import Scenario, Shock

    dialog = _dialog(qtbot, controller, account=USDC)
    qtbot.waitUntil(lambda: not dialog._reads, timeout=5000)  # the desk listed the (no) saved scenarios
    qtbot.mouseClick(dialog.goal_group.buttons()[1], Qt.MouseButton.LeftButton)
    _budget(qtbot, dialog, "1500")
    assert dialog.goal() == "survive" and not dialog.confirm_button.isEnabled()
    assert dialog.problem() == "scenario: no saved scenario; save one in the What-if workspace first"
    crash = Scenario(shocks={"ETHUSDT": Shock("pct", -12.0), "DOGEUSDT": Shock("pct", -12.0)})
    with qtbot.waitSignal(controller.result, timeout=5000, check_params_cb=lambda r: r.accepted):
        controller.send(SaveScenario(name="alt dip", scenario=crash))
    dialog.close()
    dialog = _dialog(qtbot, controller, account=USDC)
    qtbot.mouseClick(dialog.goal_group.buttons()[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.scenario() == "alt dip", timeout=5000)
    _budget(qtbot, dialog, "99999")
    qtbot.waitUntil(lambda: "free balance" in dialog.problem(), timeout=5000)  # the desk's refusal, in the form
    assert dialog.problem().startswith("amount: 99999 USDC is more than the free balance")
    assert not dialog.confirm_button.isEnabled() and dialog.table.rowCount() == 0
    _budget(qtbot, dialog, "1500")
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=5000)
    store = Store.open(controller.path)
    try:
        want = plan_from_store(store, Decimal("1500"), account=USDC, goal="survive", scenario_name="alt dip")
    finally:
        store.close()
    assert want.survivors > want.survivors_before and want.top_ups  # the dip kills someone the budget can save
    assert dialog.plan.top_ups == want.top_ups and dialog.problem() == ""
    assert dialog.summary_label.text().endswith(f"{want.survivors_before} → {want.survivors} of {len(want.rows)} "
                                                "positions survive 'alt dip'")
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].reason.startswith(f"allocated {want.total} USDC over")
