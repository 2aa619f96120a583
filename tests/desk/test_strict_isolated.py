"""Isolated-only assets (Hyperliquid ``marginMode`` ``strictIsolated``): no margin ever leaves them,
whoever asks — the desk, the what-if engine, the CLI; adding margin stays allowed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.cli import main
from isodesk.desk import Desk
from isodesk.desk.commands import AddCollateral, RemoveCollateral
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.whatif import run_scenario
from isodesk.margin.scenario import Scenario, ScenarioError
from isodesk.store.tier_tables import save_tier_tables
from isodesk.venues.tier_bodies import parse_tier_body

SOL_STRICT_META = {"universe": [{"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "marginTableId": 20,
                                 "marginMode": "strictIsolated"}], "marginTables": []}


@pytest.fixture
def strict_sol(demo_store):
    tables = parse_tier_body("hyperliquid", SOL_STRICT_META)
    assert [(t.symbol, t.strict_isolated) for t in tables] == [("SOL", True)]
    save_tier_tables(demo_store, tables, "import", 1_700_000_100.0)
    return demo_store


def test_the_desk_refuses_any_removal_and_takes_a_top_up(strict_sol):
    desk = Desk(strict_sol, None, catalog=shipped_catalog())  # the desk puts the book's tables first
    try:
        assert desk.catalog.strict_isolated("hyperliquid", "SOL")
        assert not desk.catalog.strict_isolated("hyperliquid", "ETH")
        sol = strict_sol.position_by_label("sol-hl-short")
        result = desk.apply(RemoveCollateral(sol.id, Decimal("0.01")))
        assert not result.accepted
        assert result.reason == ("sol-hl-short: SOL is isolated-only on its venue, which lets no margin be removed "
                                 "from it (add margin, or close part of the position)")
        assert strict_sol.position(sol.id).isolated_margin == Decimal("2960")
        assert desk.apply(AddCollateral(sol.id, Decimal("10"))).accepted
        assert strict_sol.position(sol.id).isolated_margin == Decimal("2970")
        eth = strict_sol.position_by_label("eth-hl-long")  # same venue, not isolated-only: the usual rules
        assert "isolated-only" not in desk.apply(RemoveCollateral(eth.id, Decimal("0.01"))).reason
    finally:
        desk.close()


def test_what_if_refuses_an_edit_that_lowers_its_margin(strict_sol):
    sol = strict_sol.position_by_label("sol-hl-short")
    with pytest.raises(ScenarioError, match="sol-hl-short: the venue lets no margin be removed"):
        run_scenario(strict_sol, Scenario(margin_edits={sol.id: -10.0}))
    with pytest.raises(ScenarioError, match="sol-hl-short: the venue lets no margin be removed"):
        run_scenario(strict_sol, Scenario(leverage_edits={sol.id: 20.0}))  # 20×: margin 740 < 2,960
    run_scenario(strict_sol, Scenario(margin_edits={sol.id: 10.0}))  # adding is allowed


def test_whatif_cli_says_so_in_one_line(strict_sol, capsys):
    path = strict_sol.path
    strict_sol.close()
    code = main(["whatif", "--db", str(path), "--margin", "sol-hl-short=-10"])
    assert code == 2
    assert capsys.readouterr().err == ("isodesk whatif: sol-hl-short: the venue lets no margin be removed from this "
                                       "isolated-only position (add margin, or close part of it)\n")
