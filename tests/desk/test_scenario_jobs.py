"""Scenario requests through the desk: evaluate and sweep without touching the book; saved scenarios."""

from __future__ import annotations

import pytest

from isodesk.desk import Desk
from isodesk.desk.scenario_jobs import (
    DeleteScenario,
    GetScenarioBook,
    ListScenarios,
    LoadScenario,
    RenameScenario,
    RunScenario,
    SaveScenario,
    scenario_from_dict,
    scenario_to_dict,
)
from isodesk.margin.scenario import Move, Scenario, Shock


@pytest.fixture
def demo_desk(demo_store, catalog, clock):
    clock.now = 1_700_000_001.0
    desk = Desk(demo_store, None, catalog=catalog, clock=clock)
    yield desk


def test_running_a_scenario_never_changes_the_book(demo_desk, demo_store):
    balances = demo_store.balances()
    positions = demo_store.positions(None)
    result = demo_desk.apply(RunScenario(Scenario(market_shock=("BTCUSDT", -20.0)), grid=(-30.0, 0.0, 30.0)))
    assert result.accepted, result.reason
    outcome, grid = result.payload
    book = demo_desk.apply(GetScenarioBook()).payload.book
    lost = {book.labels[i] for i, x in enumerate(outcome.isolated.liquidated) if x}
    # BTC −20 % with every market following at beta 1: every long whose liquidation price is within 20 % dies,
    # btc-core-long (liq 49,799 = −17 %) among them; the shorts profit
    assert {"btc-core-long", "sol-degen-long", "btc-bybit-long"} <= lost
    assert not any("short" in label for label in lost)
    assert grid.shocks.tolist() == [-30.0, 0.0, 30.0]
    assert demo_store.balances() == balances and demo_store.positions(None) == positions


def test_scenario_book_lists_the_open_positions(demo_desk):
    result = demo_desk.apply(GetScenarioBook())
    assert result.accepted and len(result.payload.book.labels) == 13
    assert "BTCUSDT" in result.payload.book.markets
    assert result.payload.taken_at == 1_700_000_001.0  # the desk's clock when the marks were read


def test_a_run_at_pinned_marks_uses_them_and_keeps_the_stored_ones_elsewhere(demo_desk):
    taken = demo_desk.apply(GetScenarioBook()).payload
    btc = taken.book.markets.index("BTCUSDT")
    pinned = tuple((m, p * 0.9 if m == "BTCUSDT" else p) for m, p in taken.marks())
    result = demo_desk.apply(RunScenario(Scenario(), marks=pinned))
    assert result.accepted, result.reason
    marks = result.payload.book.marks
    assert marks[btc] == pytest.approx(taken.book.marks[btc] * 0.9, rel=1e-15)
    others = [j for j in range(len(marks)) if j != btc]
    assert list(marks[others]) == list(taken.book.marks[others])
    # no pinned marks: the stored ones
    plain = demo_desk.apply(RunScenario(Scenario())).payload
    assert list(plain.book.marks) == list(taken.book.marks)
    # a market the book no longer holds is ignored, not an error
    assert demo_desk.apply(RunScenario(Scenario(), marks=(("FOOUSDT", 1.0),))).accepted


def test_the_grid_leaves_out_shocks_a_beta_would_push_below_minus_100(demo_desk):
    result = demo_desk.apply(RunScenario(Scenario(betas={"SOLUSDT": 2.5}), grid=(-50.0, -40.0, -39.0, 0.0, 50.0)))
    assert result.accepted, result.reason
    _, grid = result.payload
    assert grid.shocks.tolist() == [-39.0, 0.0, 50.0]  # −40 × 2.5 = −100 %: out


def test_saved_scenarios_round_trip(demo_desk):
    scenario = Scenario(shocks={"BTCUSDT": Shock.pct(-15), "ETHUSDT": Shock.price(2500.0)}, betas={"SOLUSDT": 1.4},
                        margin_edits={3: 250.0}, leverage_edits={4: 5.0})
    assert demo_desk.apply(SaveScenario("btc dump", scenario)).accepted
    loaded = demo_desk.apply(LoadScenario("btc dump")).payload
    assert scenario_to_dict(loaded) == scenario_to_dict(scenario)
    assert demo_desk.apply(ListScenarios()).payload == ("btc dump",)
    assert demo_desk.apply(RenameScenario("btc dump", "crash")).accepted
    assert demo_desk.apply(ListScenarios()).payload == ("crash",)
    bad = demo_desk.apply(LoadScenario("btc dump"))
    assert not bad.accepted and bad.reason == "name: no saved scenario named 'btc dump'"
    assert demo_desk.apply(DeleteScenario("crash")).accepted
    assert demo_desk.apply(ListScenarios()).payload == ()


def test_paths_serialize(demo_desk):
    scenario = Scenario(path=(Move({"BTCUSDT": Shock.pct(-10)}), Move(market_shock=("BTCUSDT", -25.0))))
    assert scenario_to_dict(scenario_from_dict(scenario_to_dict(scenario))) == scenario_to_dict(scenario)
