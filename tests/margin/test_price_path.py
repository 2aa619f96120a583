"""Price paths for the what-if (a recorded file's shape applied to the book's marks) and pinned marks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from isodesk.margin import Position, TierTable
from isodesk.margin.scenario import (
    Move,
    Scenario,
    ScenarioBook,
    ScenarioError,
    evaluate,
    grid_path,
    price_path,
)

MM = TierTable.single(0.005)


@dataclass(frozen=True)
class Point:
    symbol: str
    ts: float
    price: float


@pytest.fixture
def book():
    """BTC marked at 60,000 and ETH at 3,000 (a long of each, custom venue, MM 0.5 %)."""
    def pos(label, symbol, qty, entry, margin):
        return Position(venue="custom", side="long", entry_price=entry, quantity=qty, isolated_margin=margin,
                        tiers=MM, symbol=symbol, label=label)

    return ScenarioBook.build([pos("btc", "BTCUSDT", 1.0, 60_000.0, 6_000.0), pos("eth", "ETHUSDT", 10.0, 3_000.0,
                                                                                3_000.0)],
                              marks={"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}, accounts=["a", "a"], free={"a": 0.0})


def test_a_path_is_its_percent_moves_from_each_markets_first_row(book):
    # recorded at other prices (BTC from 50,000, ETH from 2,000), out of order, with a market the book lacks
    points = [Point("BTCUSDT", 2.0, 40_000.0), Point("BTCUSDT", 1.0, 50_000.0), Point("DOGEUSDT", 1.0, 0.1),
              Point("ETH", 3.0, 2_000.0), Point("BTCUSDT", 3.0, 45_000.0), Point("ETHUSDT", 4.0, 1_500.0)]
    path = price_path(points, book, "rec.csv")
    assert path.name == "rec.csv" and path.dropped == ("DOGEUSDT",)
    assert path.times == (1.0, 2.0, 3.0, 4.0)
    # step 1: BTC at its first row (0 %); step 2: 40,000/50,000 − 1 = −20 %; step 3: BTC −10 %, ETH named
    # for the first time (0 %); step 4: BTC carried at −10 %, ETH 1,500/2,000 − 1 = −25 %
    assert all(s.kind == "pct" for m in path.moves for s in m.shocks.values())
    got = [{k: s.value for k, s in m.shocks.items()} for m in path.moves]
    want = [{"BTCUSDT": 0.0}, {"BTCUSDT": -20.0}, {"BTCUSDT": -10.0, "ETHUSDT": 0.0},
            {"BTCUSDT": -10.0, "ETHUSDT": -25.0}]
    assert [sorted(g) for g in got] == [sorted(w) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g == pytest.approx(w, rel=1e-12, abs=1e-12)
    # applied to the book's marks: at step 2 BTC is 48,000 (60,000 − 20 %), ETH untouched
    out = evaluate(book, path.scenario(2))
    np.testing.assert_allclose(out.prices[-1], [48_000.0, 3_000.0])
    assert out.steps == 2
    # the whole path: ETH ends at 2,250 and BTC at 54,000
    np.testing.assert_allclose(evaluate(book, path.scenario()).prices[-1], [54_000.0, 2_250.0])


def test_a_path_scenario_carries_the_edits_and_refuses_a_step_outside(book):
    path = grid_path("BTCUSDT", (-10.0, 10.0), "grid")
    assert [m.market_shock for m in path.moves] == [("BTCUSDT", -10.0), ("BTCUSDT", 10.0)]
    scenario = path.scenario(1, betas={"ETHUSDT": 2.0}, margin_edits={1: 100.0}, leverage_edits={2: 5.0})
    assert scenario == Scenario(betas={"ETHUSDT": 2.0}, margin_edits={1: 100.0}, leverage_edits={2: 5.0},
                                path=(Move(market_shock=("BTCUSDT", -10.0)),))
    for bad in (0, 3):
        with pytest.raises(ScenarioError, match=f"grid: step {bad} is outside 1…2"):
            path.scenario(bad)
    with pytest.raises(ScenarioError, match="at least one step"):
        grid_path("BTCUSDT", ())


def test_a_path_of_no_held_market_is_refused(book):
    with pytest.raises(ScenarioError, match="none of its symbols is a market of the book"):
        price_path([Point("DOGEUSDT", 1.0, 0.1)], book, "doge.csv")


def test_pinned_marks_replace_the_named_markets_only(book):
    pinned = book.with_marks({"BTCUSDT": 50_000.0, "SOLUSDT": 150.0})
    assert list(pinned.marks) == [50_000.0, 3_000.0]  # ETH keeps its mark; SOL is not held: ignored
    assert list(book.marks) == [60_000.0, 3_000.0]  # a copy
    assert not pinned.marks.flags.writeable
    # the outcome starts from the pinned mark: a 10 % drop takes BTC to 45,000
    out = evaluate(pinned, Scenario(shocks={"BTCUSDT": -10.0}))
    assert out.prices[0, 0] == pytest.approx(45_000.0, rel=1e-15)
    for bad in (0.0, -1.0, float("nan"), float("inf"), True):
        with pytest.raises(ScenarioError, match="mark of BTCUSDT"):
            book.with_marks({"BTCUSDT": bad})
