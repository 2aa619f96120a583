"""Where to put the next dollar: hand-worked plans, the closed form against the engine for every
venue and variant, optimality against randomized splits, and survival checked by the scenarios.

Hand-worked books use the ``custom`` venue with one maintenance rate (MM = 0.5 % of notional, no
fee), linear contracts: a long of 1 BTC at 60,000 holding W is liquidated at
``L = (60,000 − W) / 0.995`` and needs ``W = 60,000 − 0.995·L`` to be liquidated at ``L``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from isodesk.margin import Position, PositionBatch, TierTable
from isodesk.margin.allocate import (
    AllocationError,
    Holdings,
    allocate,
    holdings_of,
    margin_for_distance,
    subset,
)
from isodesk.margin.engine import compute, price_levels
from isodesk.margin.scenario import Scenario, ScenarioBook, Shock, evaluate
from tests.margin.strategies import positions as any_position

MM = TierTable.single(0.005)


def pos(label, side, qty, entry, margin, symbol="BTCUSDT"):
    return Position(venue="custom", side=side, entry_price=entry, quantity=qty, isolated_margin=margin, tiers=MM,
                    symbol=symbol, label=label)


def book(*positions, marks=None, free=10_000.0, accounts=None):
    return ScenarioBook.build(list(positions), marks=marks or {"BTCUSDT": 60_000.0},
                              accounts=accounts or ["a"] * len(positions), free={"a": free})


def holdings(b, free="10000", account="a"):
    return holdings_of(b, account, Decimal(free))


@pytest.fixture
def two_longs():
    """A: 1 BTC long @ 60,000, W 3,000 (liq 57,286.43, 4.52 % away); B: the same with W 6,000
    (liq 54,271.36, 9.55 % away); mark 60,000."""
    return book(pos("A", "long", 1.0, 60_000.0, 3_000.0), pos("B", "long", 1.0, 60_000.0, 6_000.0))


def test_small_budget_goes_to_the_closest_position(two_longs):
    plan = allocate(Decimal("1000"), holdings(two_longs))
    a, b = plan.rows
    assert (a.add, b.add) == (Decimal("1000"), Decimal(0))
    # A: W = 4,000 → L = 56,000 / 0.995; d = 1 − 56,000/59,700
    assert a.liquidation_price == pytest.approx(56_000 / 0.995, rel=1e-12)
    assert plan.min_distance_frac == pytest.approx(1 - 56_000 / 59_700, rel=1e-12)
    assert plan.min_distance_frac_before == pytest.approx(1 - 57_000 / 59_700, rel=1e-12)
    assert plan.total == Decimal("1000")


def test_large_budget_equalises_the_distances(two_longs):
    # Σ W = 14,000 = 2·(60,000 − 59,700·(1 − d)) → 59,700·(1 − d) = 53,000 → W_A = 7,000, W_B = 7,000
    plan = allocate(Decimal("5000"), holdings(two_longs))
    a, b = plan.rows
    assert float(a.add) == pytest.approx(4_000, abs=1e-6)
    assert float(b.add) == pytest.approx(1_000, abs=1e-6)
    assert plan.total <= Decimal("5000")
    assert a.distance_frac == pytest.approx(1 - 53_000 / 59_700, abs=1e-9)
    assert b.distance_frac == pytest.approx(1 - 53_000 / 59_700, abs=1e-9)


def test_a_short_is_lifted_by_the_same_rule():
    # short 0.5 BTC @ 60,000, W: liquidated at L with W + 0.5·(60,000 − L) = 0.0025·L → W = 0.5025·L − 30,000.
    # long A (W 3,000) at d: 60,000 − 59,700·(1 − d); short at d: 0.5025·60,000·(1 + d) − 30,000.
    # Budget 3,000: 60,000 − 59,700(1 − d) − 3,000 + 30,150(1 + d) − 30,000 − 1,000 = 3,000 if both get some.
    b = book(pos("A", "long", 1.0, 60_000.0, 3_000.0), pos("S", "short", 0.5, 60_000.0, 1_000.0))
    plan = allocate(Decimal("3000"), holdings(b))
    d = (3_000 + 3_000 + 1_000 + 59_700 - 60_000 - 150) / (59_700 + 30_150)
    assert plan.min_distance_frac == pytest.approx(d, abs=1e-9)
    assert float(plan.rows[0].add) == pytest.approx(60_000 - 59_700 * (1 - d) - 3_000, abs=1e-6)
    assert float(plan.rows[1].add) == pytest.approx(30_150 * (1 + d) - 30_000 - 1_000, abs=1e-6)


def test_a_budget_that_fully_collateralises_linear_longs_stops_there(two_longs):
    # W = 60,000 each makes a linear long unliquidatable (liquidation price 0): 111,000 in all
    plan = allocate(Decimal("200000"), holdings(two_longs, free="200000"))
    assert plan.total == Decimal("111000")
    assert [r.liquidation_price for r in plan.rows] == [None, None]


def test_the_budget_is_checked(two_longs):
    with pytest.raises(AllocationError, match="more than the free balance 500 of a"):
        allocate(Decimal("501"), holdings(two_longs, free="500"))
    with pytest.raises(AllocationError, match=r"AMOUNT: .*8 decimal places"):
        allocate(Decimal("1.000000001"), holdings(two_longs))
    with pytest.raises(AllocationError, match=r"AMOUNT: -5 .*greater than 0"):
        allocate(Decimal("-5"), holdings(two_longs))
    with pytest.raises(AllocationError, match="goal"):
        allocate(Decimal("5"), holdings(two_longs), "hope")
    with pytest.raises(AllocationError, match="no account named 'z'"):
        holdings_of(two_longs, "z", Decimal(1))


def test_holdings_take_only_the_accounts_positions():
    b = ScenarioBook.build([pos("A", "long", 1.0, 60_000.0, 3_000.0), pos("X", "long", 1.0, 60_000.0, 100.0),
                            pos("B", "long", 1.0, 60_000.0, 6_000.0)],
                           marks={"BTCUSDT": 61_000.0}, accounts=["a", "x", "a"], free={"a": 1.0, "x": 1.0})
    h = holdings_of(b, "a", Decimal(1))
    assert h.labels == ("A", "B") and h.position_ids == (1, 3)
    assert h.marks.tolist() == [61_000.0, 61_000.0]
    assert h.batch.margin.tolist() == [3_000.0, 6_000.0]


def test_survive_takes_the_cheapest_survivors(two_longs):
    # −8 %: 55,200. B (liq 54,271) survives as held; A needs W = 60,000 − 0.995·55,200 = 5,076: +2,076.
    scenario = Scenario(shocks={"BTCUSDT": Shock.pct(-8)})
    h = holdings(two_longs)
    poor = allocate(Decimal("2000"), h, "survive", scenario=scenario, book=two_longs, scenario_name="dip")
    assert poor.total == 0 and poor.survivors == 1 and poor.survivors_before == 1
    rich = allocate(Decimal("3000"), h, "survive", scenario=scenario, book=two_longs, scenario_name="dip")
    assert rich.survivors == 2 and rich.scenario == "dip"
    assert float(rich.rows[0].add) == pytest.approx(2_076, abs=1e-4)
    assert rich.rows[1].add == 0
    out = evaluate(two_longs, Scenario(shocks={"BTCUSDT": Shock.pct(-8)},
                                       margin_edits={1: float(rich.rows[0].add)}))
    assert not out.isolated.liquidated.any()
    d = rich.to_dict()
    assert d["goal"] == "survive" and d["survivors"] == 2 and d["plan"][0]["add"] == str(rich.rows[0].add)


def test_survive_prefers_more_positions_over_one_expensive_one():
    # three longs hit by −10 % (54,000): needs 60,000 − 0.995·54,000·q-scaled … A small (0.1 BTC, W 300)
    # needs 6,000 − 5,373 − 300 = 327; B small likewise; C (1 BTC, W 3,000) needs 60,000 − 53,730 − 3,000 = 3,270.
    b = book(pos("A", "long", 0.1, 60_000.0, 300.0), pos("C", "long", 1.0, 60_000.0, 3_000.0),
             pos("B", "long", 0.1, 60_000.0, 300.0))
    scenario = Scenario(shocks={"BTCUSDT": Shock.pct(-10)})
    plan = allocate(Decimal("3300"), holdings(b), "survive", scenario=scenario, book=b)
    assert [float(r.add) for r in plan.rows] == pytest.approx([327.0, 0.0, 327.0], abs=1e-4)
    assert plan.survivors == 2 and [r.survives for r in plan.rows] == [True, False, True]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=any_position(), move=st.floats(-0.3, 0.3), d=st.floats(0.001, 0.9))
def test_the_closed_form_margin_puts_the_liquidation_price_at_the_distance(p, move, d):
    batch = PositionBatch.from_positions([p])
    mark = np.array([p.entry_price * (1 + move)])
    w = margin_for_distance(batch, mark, d)
    assume(np.isfinite(w[0]) and w[0] > 1e-9 * batch.entry_notional[0])
    liq = price_levels(batch.replace(margin=w)).liquidation_price[0]
    want = mark[0] * (1 - batch.side[0] * d)
    assert liq == pytest.approx(want, rel=1e-7), (p, w)


def _min_distances(batch: PositionBatch, marks: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """The smallest distance to liquidation of the book after each split (rows of ``splits``), in one
    engine call over the book repeated once per split; no liquidation price counts as infinitely far.
    A long at distance 1 or more (a liquidation price at or below 0, where the plan stops, see
    ``allocate.best_distance``) counts as infinitely far too: the price never gets there."""
    k, n = splits.shape
    tiled = subset(batch, np.tile(np.arange(n), k))
    dist = compute(tiled.replace(margin=tiled.margin + splits.ravel()), np.tile(marks, k)).distance_frac
    dist = np.where(np.isnan(dist), np.inf, dist)
    dist = np.where((tiled.side > 0) & (dist >= 1.0), np.inf, dist).reshape(k, n)
    out: np.ndarray = dist.min(axis=1)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ps=st.lists(any_position(), min_size=1, max_size=5), moves=st.lists(st.floats(-0.05, 0.05), min_size=5,
       max_size=5), share=st.floats(0.01, 2.0), seed=st.integers(0, 2**32 - 1))
def test_no_other_split_of_the_budget_beats_the_plan(ps, moves, share, seed):
    batch = PositionBatch.from_positions(ps)
    marks = np.array([p.entry_price * (1 + m) for p, m in zip(ps, moves, strict=False)])
    assume(np.all(compute(batch, marks).distance_frac > 0))
    budget = Decimal(repr(round(float(batch.margin.sum()) * share, 8))).quantize(Decimal("0.00000001"))
    assume(budget > 0)
    h = Holdings(account="a", currency="X", batch=batch, marks=marks, position_ids=tuple(range(len(ps))),
                 labels=tuple(f"p{i}" for i in range(len(ps))), free=budget)
    plan = allocate(budget, h)
    assert plan.total <= budget
    adds = np.array([float(r.add) for r in plan.rows])
    best = _min_distances(batch, marks, adds[None, :])[0]
    assert best == pytest.approx(np.inf if plan.min_distance_frac is None else plan.min_distance_frac, rel=1e-12)
    rng = np.random.default_rng(seed)
    whole = float(budget)
    splits = np.vstack([rng.dirichlet(np.ones(len(ps)), 300) * whole,                       # anywhere
                        np.clip(adds + rng.normal(0, whole * 1e-3, (300, len(ps))), 0, None)])  # near the plan
    sums = splits.sum(axis=1, keepdims=True)
    splits = splits * np.minimum(1.0, whole / np.where(sums > 0, sums, 1.0))                 # never above budget
    others = _min_distances(batch, marks, splits)
    worst = int(np.argmax(others))
    assert others[worst] <= best + 1e-9 * max(1.0, abs(best)), (splits[worst], adds)


def test_subset_keeps_the_rows_and_their_tables():
    ps = [pos("A", "long", 1.0, 60_000.0, 3_000.0), pos("B", "short", 2.0, 50_000.0, 9_000.0)]
    batch = PositionBatch.from_positions(ps)
    one = subset(batch, np.array([1]))
    assert math.isclose(compute(one, np.array([50_000.0])).liquidation_price[0],
                        compute(batch, np.array([60_000.0, 50_000.0])).liquidation_price[1])


@pytest.mark.parametrize("variant", ["uta", "uta_entry", "entry_mm", "exact_mm"])
def test_a_budget_that_buys_an_inverse_short_out_of_reach_takes_it_out_of_reach(variant):
    """An inverse short loses at most its entry notional in coin (1 coin here: 1 contract of 1 USD
    at 1.0), so a margin of that plus the maintenance the venue counts at +inf takes away its
    liquidation price. Hypothesis found the plan stopping exactly on that line (uta_entry: 1.005
    coin), where the engine's float arithmetic still put the liquidation at 9.4e15 while the whole
    budget left none: the plan must reach the engine's "never liquidated" when the budget buys it,
    and spend no more than a hair beyond the line."""
    tiers = TierTable.from_rows([[0.0, 150.0, 0.005, 0.0, 100.0]], name="one tier")
    p = Position(venue="bybit", side="short", contract="inverse", entry_price=1.0, quantity=1.0, contract_size=1.0,
                 isolated_margin=1.0, tiers=tiers, formula_variant=variant, symbol="BTCUSD")
    batch = PositionBatch.from_positions([p])
    marks = np.array([1.0])
    h = Holdings(account="a", currency="BTC", batch=batch, marks=marks, position_ids=(7,), labels=("BTCUSD",),
                 free=Decimal("1"))
    plan = allocate(Decimal("1"), h)
    line = Decimal("1.005") if variant in ("uta_entry", "entry_mm") else Decimal("1")
    assert line - 1 <= plan.total <= line - 1 + Decimal("0.00000002"), plan.total
    assert plan.rows[0].liquidation_price is None and plan.min_distance_frac is None
    after = compute(batch.replace(margin=batch.margin + float(plan.total)), marks)
    assert np.isnan(after.liquidation_price[0])


def test_an_inverse_long_cannot_be_lifted_to_a_liquidation_price_of_zero():
    """At ``d = 1`` an inverse long's liquidation price would be 0, where its notional in coin is
    infinite: no margin reaches it (+inf), and asking does not break the tier lookup."""
    from isodesk.margin import Position, PositionBatch
    from isodesk.margin.allocate import margin_for_distance
    from isodesk.margin.catalog import TierCatalog
    from isodesk.paths import resource_path

    catalog = TierCatalog(resource_path("tiers"))
    tiers = catalog.table("bybit", "inverse", "BTCUSD")
    pos = Position(venue="bybit", side="long", entry_price=60000.0, quantity=1000.0, isolated_margin=0.01,
                   tiers=tiers, contract="inverse", contract_size=1.0)
    batch = PositionBatch.from_positions([pos])
    needed = margin_for_distance(batch, np.array([60000.0]), np.array([1.0]))
    assert needed.tolist() == [np.inf]
    finite = margin_for_distance(batch, np.array([60000.0]), np.array([0.5]))
    assert np.isfinite(finite).all() and finite[0] > 0
