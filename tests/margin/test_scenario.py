"""What-if scenarios: isolated versus cross outcomes worked out by hand, capital efficiency, grids.

Hand-worked books use the ``custom`` venue with one maintenance rate (MM = 0.5 % of notional, no
close fee), linear contracts: uPnL = s·Q·(P − E), margin balance B = W + uPnL, liquidated when
B ≤ MM.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from isodesk.margin import Position, PositionBatch, TierTable
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import compute, price_levels
from isodesk.margin.scenario import (
    Move,
    Scenario,
    ScenarioBook,
    ScenarioError,
    Shock,
    evaluate,
    uniform_grid,
)
from isodesk.paths import resource_path
from tests.margin.strategies import positions as shipped_positions

MM = TierTable.single(0.005)


def pos(label, side, qty, entry, margin, symbol="BTCUSDT", venue="custom", leverage=float("nan"), **kw):
    return Position(venue=venue, side=side, entry_price=entry, quantity=qty, isolated_margin=margin, tiers=MM,
                    symbol=symbol, label=label, leverage=leverage, **kw)


@pytest.fixture
def hedged():
    """One account, free 1,000: a thin long (1 BTC @ 60,000, W 3,000) and a short (0.5 BTC, W 6,000)."""
    return ScenarioBook.build([pos("long", "long", 1.0, 60_000.0, 3_000.0),
                               pos("short", "short", 0.5, 60_000.0, 6_000.0)],
                              marks={"BTCUSDT": 60_000.0}, accounts=["a", "a"], free={"a": 1_000.0})


@pytest.fixture
def drained():
    """One account, free 500: a big BTC long (2 @ 60,000, W 12,000) and an ETH short (10 @ 3,000, W 3,000)."""
    return ScenarioBook.build([pos("big", "long", 2.0, 60_000.0, 12_000.0),
                               pos("eth", "short", 10.0, 3_000.0, 3_000.0, symbol="ETHUSDT")],
                              marks={"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}, accounts=["a", "a"], free={"a": 500.0})


def test_cross_saves_the_thin_long_that_isolated_loses(hedged):
    out = evaluate(hedged, Scenario(shocks={"BTCUSDT": Shock.price(57_150.0)}))
    iso, cross = out.isolated, out.cross
    # long: uPnL = 57,150 − 60,000 = −2,850; B = 3,000 − 2,850 = 150 ≤ MM = 0.005·57,150 = 285.75 → liquidated,
    # loses its whole margin 3,000. short: uPnL = 0.5·2,850 = +1,425, B = 7,425 > 142.875 → survives, loss 0.
    assert iso.unrealized_pnl.tolist() == pytest.approx([-2_850.0, 1_425.0])
    assert iso.liquidated.tolist() == [True, False]
    assert iso.liquidated_step.tolist() == [1, 0]
    assert iso.loss.tolist() == pytest.approx([3_000.0, 0.0])
    # isolated account: loss 3,000; equity = free 1,000 + short's 6,000 + 1,425 = 8,425 (before: 10,000).
    assert iso.account_loss[0] == pytest.approx(3_000.0)
    assert iso.positions_lost[0] == 1
    assert iso.equity_after[0] == pytest.approx(8_425.0)
    assert out.equity_now[0] == pytest.approx(10_000.0)
    # cross: pool = 1,000 + 3,000 + 6,000 = 10,000; balance = 10,000 − 2,850 + 1,425 = 8,575 > requirement
    # 285.75 + 142.875 = 428.625 → nobody liquidated; loss = the long's unrealized 2,850; equity 8,575.
    assert cross.pool[0] == pytest.approx(10_000.0)
    assert cross.margin_balance[0] == pytest.approx(8_575.0)
    assert cross.requirement[0] == pytest.approx(428.625)
    assert not cross.liquidated[0] and cross.liquidated_step[0] == 0
    assert cross.loss[0] == pytest.approx(2_850.0)
    assert cross.equity_after[0] == pytest.approx(8_575.0)
    # capital efficiency: isolated needs MM − uPnL = 285.75 + 2,850 = 3,135.75 for the long and nothing for the
    # short; cross needs a pool of 428.625 + 1,425 = 1,853.625 for both.
    assert iso.margin_needed.tolist() == pytest.approx([3_135.75, 0.0])
    assert cross.pool_needed[0] == pytest.approx(1_853.625)


def test_cross_loses_the_whole_book_where_isolated_loses_one_position(drained):
    out = evaluate(drained, Scenario(shocks={"BTC": Shock.pct(-20)}))
    iso, cross = out.isolated, out.cross
    assert out.prices[0].tolist() == pytest.approx([48_000.0, 3_000.0])
    # big long: uPnL = 2·(48,000 − 60,000) = −24,000; B = −12,000 ≤ 480 → liquidated, loses 12,000.
    # ETH short: mark unchanged, uPnL 0, survives.
    assert iso.liquidated.tolist() == [True, False]
    assert iso.loss.tolist() == pytest.approx([12_000.0, 0.0])
    assert iso.account_loss[0] == pytest.approx(12_000.0)
    assert iso.equity_after[0] == pytest.approx(3_500.0)  # free 500 + the short's 3,000
    # cross: pool 500 + 15,000 = 15,500; balance 15,500 − 24,000 = −8,500 ≤ 480 + 150 → everything goes,
    # the account loses the whole pool and keeps nothing.
    assert cross.liquidated[0] and cross.liquidated_step[0] == 1
    assert cross.margin_balance[0] == pytest.approx(-8_500.0)
    assert cross.requirement[0] == pytest.approx(630.0)
    assert cross.loss[0] == pytest.approx(15_500.0)
    assert cross.equity_after[0] == 0.0
    doc = out.to_dict()
    assert doc["cross"]["accounts"][0]["positions_lost"] == 2
    assert doc["isolated"]["accounts"][0]["positions_lost"] == 1
    assert doc["cross"]["total_loss"] == {"USDT": pytest.approx(15_500.0)}
    assert doc["isolated"]["equity_after"] == {"USDT": pytest.approx(3_500.0)}
    # needed: long 480 + 24,000 = 24,480, short 150; cross pool 630 + 24,000 = 24,630.
    assert out.isolated.margin_needed.tolist() == pytest.approx([24_480.0, 150.0])
    assert out.cross.pool_needed[0] == pytest.approx(24_630.0)


def test_cross_never_mixes_accounts():
    """Account x holds a long, account y an identical short: pooled they would hedge, apart x is wiped out."""
    long_ = pos("x-long", "long", 1.0, 60_000.0, 3_000.0)
    short = pos("y-short", "short", 1.0, 60_000.0, 3_000.0, venue="hyperliquid")
    both = ScenarioBook.build([long_, short], marks={"BTCUSDT": 60_000.0}, accounts=["x", "y"],
                              free={"x": 0.0, "y": 0.0}, currencies={"x": "USDT", "y": "USDC"})
    only_y = ScenarioBook.build([short], marks={"BTCUSDT": 60_000.0}, accounts=["y"], free={"y": 0.0},
                                currencies={"y": "USDC"})
    scenario = Scenario(shocks={"BTCUSDT": -10})
    out = evaluate(both, scenario)
    # x: pool 3,000, uPnL −6,000 → liquidated, loses 3,000. y: pool 3,000 + 6,000 = 9,000, untouched by x.
    assert out.cross.liquidated.tolist() == [True, False]
    assert out.cross.loss.tolist() == pytest.approx([3_000.0, 0.0])
    assert out.cross.equity_after.tolist() == pytest.approx([0.0, 9_000.0])
    alone = evaluate(only_y, scenario)
    for name in ("margin_balance", "requirement", "loss", "equity_after", "pool_needed"):
        assert getattr(out.cross, name)[1] == pytest.approx(getattr(alone.cross, name)[0])
    # per-currency totals never add USDT to USDC
    assert out.to_dict()["cross"]["equity_after"] == {"USDT": 0.0, "USDC": pytest.approx(9_000.0)}


def test_margin_needed_just_survives_and_a_little_less_is_liquidated(hedged, drained):
    for book, scenario in ((hedged, Scenario(shocks={"BTCUSDT": Shock.price(57_150.0)})),
                           (drained, Scenario(shocks={"BTCUSDT": -20, "ETHUSDT": 12}))):
        base = evaluate(book, scenario)
        for row, pid in enumerate(book.position_ids.tolist()):
            need = base.isolated.margin_needed[row]
            if need == 0:
                continue
            have = book.batch.margin[row]
            ok = evaluate(book, Scenario(shocks=scenario.shocks, margin_edits={pid: need - have}))
            assert not ok.isolated.liquidated[row]
            assert ok.isolated.margin[row] == pytest.approx(need)
            short = evaluate(book, Scenario(shocks=scenario.shocks, margin_edits={pid: need * (1 - 1e-6) - have}))
            assert short.isolated.liquidated[row]
        pool = base.cross.pool_needed[0]
        margins = float(book.batch.margin.sum())
        assert not evaluate(book.with_free({"a": pool - margins}), scenario).cross.liquidated[0]
        assert evaluate(book.with_free({"a": pool * (1 - 1e-6) - margins}), scenario).cross.liquidated[0]


def real_book():
    """Real tier tables (several brackets), Gate's close fee, Bybit's entry-MM rule, an inverse contract."""
    cat = TierCatalog(resource_path("tiers"))
    specs = [("binance-usdm", "linear", "BTCUSDT", "long", 3.0, 60_000.0, 18_000.0, None),
             ("binance-usdm", "linear", "ETHUSDT", "short", 200.0, 3_000.0, 60_000.0, None),
             ("gate", "linear", "BTC_USDT", "long", 2.0, 61_000.0, 12_200.0, None),
             ("bybit", "linear", "BTCUSDT", "short", 1.5, 59_000.0, 8_850.0, "entry_mm"),
             ("bybit", "inverse", "BTCUSD", "long", 3_000.0, 60_000.0, 0.01, "exact_mm")]
    positions = []
    for venue, contract, symbol, side, qty, entry, margin, variant in specs:
        positions.append(Position(
            venue=venue, side=side, contract=contract, entry_price=entry, quantity=qty, isolated_margin=margin,
            tiers=cat.table(venue, contract, symbol), taker_fee_rate=cat.taker_fee(venue, contract),
            contract_size=cat.contract_size(venue, contract, symbol), formula_variant=variant, symbol=symbol,
            label=f"{venue}-{symbol}-{side}"))
    return ScenarioBook.build(positions, marks={"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0},
                              accounts=["u", "u", "o", "b", "c"], free={"u": 2_000.0, "o": 0.0, "b": 100.0, "c": 0.1},
                              currencies={"c": "BTC"})


@pytest.mark.parametrize("shock", [-25.0, -12.0, 9.0, 30.0])
def test_margin_needed_on_real_tiers(shock):
    book = real_book()
    scenario = Scenario(market_shock=("BTCUSDT", shock), betas={"ETHUSDT": 1.3})
    base = evaluate(book, scenario)
    for row, pid in enumerate(book.position_ids.tolist()):
        need = base.isolated.margin_needed[row]
        if need == 0:
            continue
        have = book.batch.margin[row]
        ok = evaluate(book, Scenario(market_shock=scenario.market_shock, betas=scenario.betas,
                                     margin_edits={pid: need - have}))
        assert not ok.isolated.liquidated[row]
        short = evaluate(book, Scenario(market_shock=scenario.market_shock, betas=scenario.betas,
                                        margin_edits={pid: need * (1 - 1e-6) - have}))
        assert short.isolated.liquidated[row]
    for a, name in enumerate(book.accounts):
        pool = base.cross.pool_needed[a]
        if pool == 0:
            continue
        margins = float(book.batch.margin[book.account_index == a].sum())
        assert not evaluate(book.with_free({name: pool - margins}), scenario).cross.liquidated[a]
        assert evaluate(book.with_free({name: pool * (1 - 1e-6) - margins}), scenario).cross.liquidated[a]


def test_isolated_liquidation_agrees_with_the_engine_liquidation_price():
    book = real_book()
    levels = price_levels(book.batch)
    for shock in np.linspace(-40, 40, 81):
        out = evaluate(book, Scenario(market_shock=("BTCUSDT", float(shock))))
        mark = out.isolated.shocked_mark
        side = book.batch.side
        beyond = side * (mark - levels.liquidation_price) <= 0
        assert out.isolated.liquidated.tolist() == beyond.tolist()
        # the reported figures are the engine's at the shocked mark
        risk = compute(book.batch, mark)
        assert np.allclose(out.isolated.margin_balance, risk.margin_balance)


def test_market_shock_propagates_by_beta_and_own_shocks_win():
    book = ScenarioBook.build(
        [pos(s, "long", 1.0, p, p / 2, symbol=s) for s, p in
         (("BTCUSDT", 60_000.0), ("SOLUSDT", 150.0), ("ETHUSDT", 3_000.0), ("XRPUSDT", 0.6))],
        marks={"BTCUSDT": 60_000.0, "SOLUSDT": 150.0, "ETHUSDT": 3_000.0, "XRPUSDT": 0.6},
        accounts=["a"] * 4, free={})
    out = evaluate(book, Scenario(market_shock=("BTC", -10.0), betas={"SOL": 1.5, "BTCUSDT": 3.0},
                                  shocks={"ETHUSDT": Shock.pct(5)}))
    prices = dict(zip(book.markets, out.prices[0], strict=True))
    assert prices["BTCUSDT"] == pytest.approx(54_000.0)   # the reference moves by exactly the market shock
    assert prices["SOLUSDT"] == pytest.approx(127.5)      # 1.5 × −10 % = −15 %
    assert prices["ETHUSDT"] == pytest.approx(3_150.0)    # its own +5 % wins over the market shock
    assert prices["XRPUSDT"] == pytest.approx(0.54)       # default beta 1.0
    with pytest.raises(ScenarioError, match="at or below −100 %"):
        evaluate(book, Scenario(market_shock=("BTCUSDT", -80.0), betas={"SOLUSDT": 1.4}))


def test_a_path_liquidates_at_the_first_crossing_and_never_revives(hedged):
    # long liquidates below 57,286.43 (3,000 + P − 60,000 = 0.005 P); the short (0.5 BTC, W 6,000) above
    # 71,641.79 (6,000 − 0.5 (P − 60,000) = 0.0025 P).
    path = (Move({"BTCUSDT": Shock.price(58_000.0)}), Move({"BTCUSDT": Shock.price(57_000.0)}),
            Move({"BTCUSDT": Shock.price(61_000.0)}))
    out = evaluate(hedged, Scenario(path=path))
    assert out.steps == 3
    assert out.isolated.liquidated_step.tolist() == [2, 0]
    # the rebound comes too late for the long (its whole 3,000); the short ends at 61,000 with uPnL
    # −0.5·1,000 = −500 unrealized.
    assert out.isolated.loss.tolist() == pytest.approx([3_000.0, 500.0])
    assert out.isolated.shocked_mark.tolist() == pytest.approx([61_000.0, 61_000.0])
    # cross survives every step (pool 10,000; worst balance at 57,000: 10,000 − 3,000 + 1,500 = 8,500) and
    # ends at 61,000: 10,000 + 1,000 − 500 = 10,500; loss = the short's unrealized 500.
    assert not out.cross.liquidated[0]
    assert out.cross.equity_after[0] == pytest.approx(10_500.0)
    assert out.cross.loss[0] == pytest.approx(500.0)
    # needed collateral is the worst step: long at 57,000 needs 285 + 3,000 = 3,285.
    assert out.isolated.margin_needed[0] == pytest.approx(3_285.0)
    with pytest.raises(ScenarioError, match="not both"):
        evaluate(hedged, Scenario(shocks={"BTCUSDT": -5}, path=path))


def test_cross_path_step(drained):
    out = evaluate(drained, Scenario(path=({"BTCUSDT": -5}, {"BTCUSDT": -30}, {"BTCUSDT": 10})))
    # −30 %: uPnL −36,000 against a pool of 15,500 → the account goes at step 2 and stays gone.
    assert out.cross.liquidated_step[0] == 2
    assert out.cross.equity_after[0] == 0.0 and out.cross.loss[0] == pytest.approx(15_500.0)


def test_leverage_and_margin_edits_move_money_from_the_free_balance(hedged):
    # leverage 5 on the long: W = 60,000 / 5 = 12,000 (+9,000 from free), then +500: W = 12,500; free
    # 1,000 − 9,500 = −8,500 (overdrawn). −1,000 off the short: W 5,000, free back to −7,500.
    out = evaluate(hedged, Scenario(leverage_edits={1: 5.0}, margin_edits={1: 500.0, 2: -1_000.0},
                                    shocks={"BTCUSDT": -10}))
    iso = out.isolated
    assert iso.margin.tolist() == pytest.approx([12_500.0, 5_000.0])
    assert iso.leverage.tolist() == pytest.approx([5.0, float("nan")], nan_ok=True)
    assert iso.free[0] == pytest.approx(-7_500.0) and iso.overdrawn[0]
    # at 54,000 the long (uPnL −6,000, B 6,500) now survives; cross is unchanged by edits.
    assert not iso.liquidated[0]
    assert iso.equity_after[0] == pytest.approx(-7_500.0 + 6_500.0 + 5_000.0 + 3_000.0)
    plain = evaluate(hedged, Scenario(shocks={"BTCUSDT": -10}))
    assert out.cross.equity_after[0] == pytest.approx(plain.cross.equity_after[0])
    assert plain.isolated.liquidated[0]


def test_bad_scenarios_are_refused_with_the_reason(hedged):
    cases = [
        (Scenario(shocks={"NOPE": -5}), "unknown symbol 'NOPE'"),
        (Scenario(betas={"DOGEUSDT": 1.2}), "unknown symbol 'DOGEUSDT'"),
        (Scenario(margin_edits={99: 1.0}), "position 99"),
        (Scenario(margin_edits={1: -3_000.0}), "must stay above 0"),
        (Scenario(leverage_edits={1: 0.0}), "positive number"),
        (Scenario(shocks={"BTC": -5, "BTCUSDT": -6}), "same market"),
    ]
    for scenario, message in cases:
        with pytest.raises(ScenarioError, match=message):
            evaluate(hedged, scenario)
    with pytest.raises(ScenarioError, match="−100 %"):
        Shock.pct(-100)
    with pytest.raises(ScenarioError, match="above 0"):
        Shock.price(0)
    with pytest.raises(ScenarioError, match="not a finite number"):
        Shock.pct(float("nan"))


def test_leverage_above_the_bracket_maximum_is_refused():
    book = real_book()
    with pytest.raises(ScenarioError, match="maximum"):
        evaluate(book, Scenario(leverage_edits={1: 500.0}))


def long_only_book():
    cat = TierCatalog(resource_path("tiers"))
    positions = []
    rng = np.random.default_rng(3)
    for i in range(40):
        symbol, price = [("BTCUSDT", 60_000.0), ("ETHUSDT", 3_000.0), ("SOLUSDT", 150.0)][i % 3]
        entry = price * float(rng.uniform(0.9, 1.1))
        qty = float(rng.uniform(1_000, 200_000)) / entry
        lev = float(rng.uniform(2, 20))
        positions.append(Position(venue="binance-usdm", side="long", entry_price=entry, quantity=qty,
                                  isolated_margin=qty * entry / lev, leverage=lev,
                                  tiers=cat.table("binance-usdm", "linear", symbol), symbol=symbol, label=f"p{i}"))
    return ScenarioBook.build(positions, marks={"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0},
                              accounts=["a"] * 40, free={"a": 5_000.0})


def test_grid_equity_is_monotonic_for_a_long_only_book_and_liquidation_shocks_match_the_engine():
    book = long_only_book()
    shocks = np.linspace(-50, 50, 101)
    grid = uniform_grid(book, shocks)
    assert grid.isolated_equity.shape == (101, 1)
    assert np.all(np.diff(grid.isolated_equity[:, 0]) >= 0)
    assert np.all(np.diff(grid.cross_equity[:, 0]) >= 0)
    assert np.all(np.diff(grid.isolated_lost[:, 0]) <= 0)
    # the liquidation shock is the engine's liquidation price as a move from the mark
    marks = book.marks[book.market_index]
    liq = price_levels(book.batch).liquidation_price
    assert np.allclose(grid.liquidation_shock, (liq / marks - 1) * 100)
    # and a position is lost on the grid exactly at the shocks at or below it
    lost = (shocks[:, None] <= grid.liquidation_shock[None, :]).sum(axis=1)
    assert grid.isolated_lost[:, 0].tolist() == lost.tolist()
    # every grid point is what evaluate says for that single jump
    for k in (0, 37, 50, 88):
        out = evaluate(book, Scenario(market_shock=("BTCUSDT", float(shocks[k]))))
        assert grid.isolated_equity[k, 0] == pytest.approx(out.isolated.equity_after[0])
        assert grid.cross_equity[k, 0] == pytest.approx(out.cross.equity_after[0])
        assert grid.isolated_loss[k, 0] == pytest.approx(out.isolated.account_loss[0])
        assert grid.cross_loss[k, 0] == pytest.approx(out.cross.loss[0])


def test_grid_with_betas_and_a_mixed_book():
    book = real_book()
    grid = uniform_grid(book, np.linspace(-30, 30, 13), betas={"ETHUSDT": 1.5})
    assert grid.shocks[3] == -15.0
    out = evaluate(book, Scenario(market_shock=("BTCUSDT", -15.0), betas={"ETHUSDT": 1.5}))
    assert grid.isolated_equity[3] == pytest.approx(out.isolated.equity_after)
    assert grid.cross_equity[3] == pytest.approx(out.cross.equity_after)
    assert grid.cross_liquidated[3].tolist() == out.cross.liquidated.tolist()
    eth = book.market_index == book.market("ETHUSDT")
    liq = price_levels(book.batch).liquidation_price
    assert np.allclose(grid.liquidation_shock[eth], (liq[eth] / 3_000.0 - 1) * 100 / 1.5)


def test_grid_applies_the_scenarios_margin_edits():
    """The equity curve of an edited book: each grid point equals evaluate() with the same edits."""
    longs = [pos(f"l{i}", "long", 10.0, 100.0, 100.0, symbol="SOLUSDT", venue="binance-usdm") for i in range(2)]
    book = ScenarioBook.build(longs, marks={"SOLUSDT": 100.0}, accounts=["a", "a"], free={"a": 1000.0})
    edits = Scenario(margin_edits={1: 200.0})
    shocks = [-15.0, -5.0, 0.0]
    grid = uniform_grid(book, shocks, edits=edits)
    plain = uniform_grid(book, shocks)
    for k, shock in enumerate(shocks):
        one = evaluate(book, Scenario(market_shock=("SOLUSDT", shock), margin_edits=edits.margin_edits))
        assert grid.isolated_equity[k, 0] == pytest.approx(one.isolated.equity_after[0])
        assert grid.cross_equity[k, 0] == pytest.approx(one.cross.equity_after[0])
    # at −15 % both plain longs die (liquidation ≈ 90.5); the one topped up to 300 (liquidation ≈ 70.4) survives
    assert plain.isolated_lost[0, 0] == 2 and grid.isolated_lost[0, 0] == 1


@settings(max_examples=120, deadline=None)
@given(st.lists(shipped_positions(), min_size=1, max_size=6), st.data())
def test_a_scenario_liquidates_exactly_where_the_margin_ratio_it_shows_reaches_100_percent(positions, data):
    """Every venue and variant: near each liquidation price, the scenario's verdict (its B ≤ R), the
    margin ratio it shows (≥ 1, or no ratio once B ≤ 0) and the mark crossing the engine's
    liquidation price all agree."""
    positions = [replace(p, symbol=f"M{i}USDT") for i, p in enumerate(positions)]
    liq = price_levels(PositionBatch.from_positions(positions)).liquidation_price
    assume(np.isfinite(liq).any())
    # every venue taken at once here (the ladder's own verdicts: tests/margin/test_ladder.py)
    book = replace(ScenarioBook.build(positions, marks={}, accounts=["a"] * len(positions), free={}), procedure=None)
    shocks = {}
    for i, p in enumerate(positions):
        if math.isfinite(liq[i]):
            move = data.draw(st.floats(1e-6, 0.2)) * data.draw(st.sampled_from([-1.0, 1.0]))
            shocks[p.symbol] = Shock.price(float(liq[i]) * (1.0 + move))
    out = evaluate(book, Scenario(shocks=shocks))
    iso = out.isolated
    for i, p in enumerate(positions):
        if not math.isfinite(liq[i]):
            continue
        crossed = p.sign * (iso.shocked_mark[i] - liq[i]) <= 0
        ratio = iso.margin_ratio[i]
        shown = bool(math.isnan(ratio) or ratio >= 1.0)
        assert bool(iso.liquidated[i]) == crossed == shown, (p, liq[i], iso.shocked_mark[i], ratio)
