"""The liquidation ladder (isodesk.margin.ladder): each venue's procedure on a hand-worked case.

Every expected figure is worked by hand from the cited procedure and the venue's tier row (the
liquidation condition margin balance = requirement solved on paper), never read back from the code.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from isodesk.margin import Position, PositionBatch, TierTable
from isodesk.margin.engine import compute
from isodesk.margin.ladder import (
    HYPERLIQUID_CHUNK,
    MAX_STEPS,
    Procedure,
    first_step,
    ladder,
    procedure_codes,
)
from isodesk.margin.scenario import Move, Scenario, ScenarioBook, Shock, evaluate, uniform_grid

# Bybit BTCUSDT, the first rows of the shipped table (2025-12-29): 0–2,000,000 at 0.5 %,
# 2,000,000–2,600,000 at 0.56 % with the deduction 1,200 (= 2,000,000 × 0.06 %).
BYBIT = TierTable.from_rows([[0, 2_000_000, 0.005, None, 100], [2_000_000, 2_600_000, 0.0056, None, 90],
                             [2_600_000, None, 0.0063, None, 80]])
# OKX BTC-USDT-SWAP (2025-12-29), by size in contracts, 0.01 BTC each: ≤1,000 at 0.4 %, ≤5,000 at
# 0.5 %, ≤20,000 at 0.75 %, ≤40,000 at 1.25 %.
OKX = TierTable.from_rows([[0, 1000, 0.004, None, 100], [1000, 5000, 0.005, None, 66.66],
                           [5000, 20000, 0.0075, None, 50], [20000, None, 0.0125, None, 40]],
                          basis="contracts", contract_value=0.01)
# Hyperliquid BTC: one tier at 40x, maintenance 1 / (2 × 40) = 1.25 %.
HYPER = TierTable.from_rows([[0, None, 0.0125, None, 40]])
BINANCE = TierTable.from_rows([[0, 50_000, 0.004, None, 125], [50_000, 600_000, 0.005, None, 100],
                               [600_000, None, 0.01, None, 50]])


def _one(position: Position, max_steps: int = MAX_STEPS) -> list[dict[str, float | int | None]]:
    batch = PositionBatch.from_positions([position], validate=False)
    return ladder(batch, procedure_codes([position.venue]), max_steps=max_steps).rungs(0)


def test_bybit_cuts_to_the_next_lower_tier_then_goes_whole_on_the_lowest() -> None:
    # 50 BTC long at 50,000 (value 2,500,000: tier 2), margin 100,000, MM valued at the price.
    q, e, w = 50.0, 50_000.0, 100_000.0
    rungs = _one(Position("bybit", "long", e, q, w, BYBIT, formula_variant="exact_mm"))
    assert len(rungs) == 2
    # Tier 2: w + q(P − E) = 0.0056·qP − 1,200  →  P1 = (qE − w − 1,200) / (q(1 − 0.0056))
    p1 = (q * e - w - 1200) / (q * (1 - 0.0056))
    assert rungs[0]["mark"] == pytest.approx(p1, rel=1e-12)
    assert rungs[0]["tier"] == 2
    # Bybit cuts the value to the lower tier's top, 2,000,000, at P1.
    keep = 2_000_000 / (q * p1)
    assert rungs[0]["removed_frac"] == pytest.approx(1 - keep, rel=1e-12)
    loss = (1 - keep) * q * (e - p1)  # the loss realized on the part removed
    assert rungs[0]["loss"] == pytest.approx(loss, rel=1e-12)
    w2, q2 = w - loss, q * keep
    assert rungs[0]["margin_after"] == pytest.approx(w2, rel=1e-12)
    # The rest on tier 1: w2 + q2(P − E) = 0.005·q2·P
    p2 = (q2 * e - w2) / (q2 * (1 - 0.005))
    assert rungs[0]["liquidation_after"] == pytest.approx(p2, rel=1e-12)
    assert p2 < p1  # the rest is safer than the position was
    assert rungs[1]["mark"] == pytest.approx(p2, rel=1e-12)
    assert rungs[1]["tier"] == 1 and rungs[1]["removed_frac"] == 1.0
    assert rungs[1]["loss"] == pytest.approx(w2, rel=1e-12)
    assert rungs[1]["removed_of_original"] == pytest.approx(keep, rel=1e-12)
    assert sum(r["loss"] for r in rungs) == pytest.approx(w, rel=1e-12)  # type: ignore[misc]


def test_bybit_on_the_lowest_tier_goes_at_once() -> None:
    rungs = _one(Position("bybit", "long", 50_000, 10, 50_000, BYBIT, formula_variant="exact_mm"))
    assert len(rungs) == 1 and rungs[0]["removed_frac"] == 1.0 and rungs[0]["tier"] == 1
    assert rungs[0]["mark"] == pytest.approx((10 * 50_000 - 50_000) / (10 * 0.995), rel=1e-12)


def test_bybit_short_is_cut_then_goes_whole_without_slivers() -> None:
    q, e, w = 50.0, 50_000.0, 100_000.0
    rungs = _one(Position("bybit", "short", e, q, w, BYBIT, formula_variant="exact_mm"))
    # short on tier 2: w − q(P − E) = 0.0056·qP − 1,200  →  P1 = (w + 1,200 + qE) / (q(1 + 0.0056))
    p1 = (w + 1200 + q * e) / (q * 1.0056)
    assert rungs[0]["mark"] == pytest.approx(p1, rel=1e-12)
    keep = 2_000_000 / (q * p1)
    assert rungs[0]["removed_frac"] == pytest.approx(1 - keep, rel=1e-12)
    w2 = w - (1 - keep) * q * (p1 - e)
    q2 = q * keep
    # the rest rises back into tier 2: w2 − q2(P − E) = 0.0056·q2·P − 1,200
    p2 = (w2 + 1200 + q2 * e) / (q2 * 1.0056)
    assert rungs[1]["mark"] == pytest.approx(p2, rel=1e-12)
    # its value there is within 1 % of the tier's floor: the cut goes to the floor below, 0: whole
    assert q2 * p2 < 2_000_000 * 1.01
    assert len(rungs) == 2 and rungs[1]["removed_frac"] == 1.0


def test_okx_from_tier_3_cuts_two_tiers_then_goes_whole() -> None:
    # 100 BTC = 10,000 contracts (tier 3) long at 60,000, margin 300,000, fee 0.05 % counted.
    q, e, w, f = 100.0, 60_000.0, 300_000.0, 0.0005
    rungs = _one(Position("okx", "long", e, q, w, OKX, taker_fee_rate=f))
    p1 = (q * e - w) / (q * (1 - 0.0075 - f))
    assert rungs[0]["mark"] == pytest.approx(p1, rel=1e-12) and rungs[0]["tier"] == 3
    # cut to tier 1's largest size, 1,000 contracts = 10 BTC: 90 % removed
    assert rungs[0]["removed_frac"] == pytest.approx(0.9, rel=1e-12)
    w2 = w - 0.9 * q * (e - p1)
    assert rungs[0]["margin_after"] == pytest.approx(w2, rel=1e-12)
    p2 = (10 * e - w2) / (10 * (1 - 0.004 - f))
    assert rungs[0]["liquidation_after"] == pytest.approx(p2, rel=1e-12)
    assert len(rungs) == 2 and rungs[1]["tier"] == 1 and rungs[1]["removed_frac"] == 1.0


@pytest.mark.parametrize("contracts", [3000, 1000])  # tier 2, tier 1
def test_okx_on_tier_1_or_2_goes_at_once(contracts: int) -> None:
    rungs = _one(Position("okx", "long", 60_000, contracts * 0.01, contracts * 0.01 * 60_000 / 20, OKX,
                          taker_fee_rate=0.0005))
    assert len(rungs) == 1 and rungs[0]["removed_frac"] == 1.0


def test_hyperliquid_removes_20_percent_above_100k_until_the_rest_is_small() -> None:
    q, e, w, m = 10.0, 60_000.0, 30_000.0, 0.0125
    rungs = _one(Position("hyperliquid", "long", e, q, w, HYPER))
    p, held, margin = (q * e - w) / (q * (1 - m)), q, w
    for rung in rungs[:-1]:
        assert held * p > 100_000  # worth more than 100k at the crossing: a 20 % chunk
        assert rung["mark"] == pytest.approx(p, rel=1e-9)
        assert rung["removed_frac"] == pytest.approx(HYPERLIQUID_CHUNK, rel=1e-12)
        margin -= 0.2 * held * (e - p)
        held *= 0.8
        assert rung["margin_after"] == pytest.approx(margin, rel=1e-9)
        p = (held * e - margin) / (held * (1 - m))
        assert rung["liquidation_after"] == pytest.approx(p, rel=1e-9)
    last = rungs[-1]
    assert held * p <= 100_000 and last["removed_frac"] == 1.0
    assert last["loss"] == pytest.approx(margin, rel=1e-9)
    assert len(rungs) == 9  # 10 → 8 → … → 10 × 0.8⁸ ≈ 1.68 BTC, worth < 100k at ~56,276


def test_hyperliquid_small_position_goes_at_once() -> None:
    rungs = _one(Position("hyperliquid", "long", 60_000, 1.0, 3_000, HYPER))
    assert len(rungs) == 1 and rungs[0]["removed_frac"] == 1.0


def test_binance_goes_at_once_whatever_the_tier() -> None:
    q, e, w = 10.0, 60_000.0, 30_000.0  # value 600,000: tier 3
    rungs = _one(Position("binance-usdm", "long", e, q, w, BINANCE))
    assert len(rungs) == 1 and rungs[0]["removed_frac"] == 1.0 and rungs[0]["loss"] == w
    risk = compute(PositionBatch.from_positions([Position("binance-usdm", "long", e, q, w, BINANCE)]),
                   np.array([e]))
    assert rungs[0]["mark"] == pytest.approx(float(risk.liquidation_price[0]), rel=1e-12)


def test_first_step_is_vectorized_and_nan_where_none() -> None:
    positions = [Position("bybit", "long", 50_000, 50, 100_000, BYBIT, formula_variant="exact_mm"),
                 Position("binance-usdm", "long", 60_000, 10, 30_000, BINANCE),
                 Position("bybit", "long", 50_000, 1, 50_000, BYBIT)]  # fully collateralised: no liquidation
    batch = PositionBatch.from_positions(positions, validate=False)
    step = first_step(batch, procedure_codes([p.venue for p in positions]))
    assert step.partial.tolist() == [True, False, False]
    assert step.removed_frac[1] == 1.0 and math.isnan(step.mark[2]) and math.isnan(step.removed_frac[2])
    one = ladder(batch, procedure_codes([p.venue for p in positions]))
    assert one.steps.tolist() == [2, 1, 0]
    assert step.removed_frac[0] == pytest.approx(one.removed_frac[0, 0], rel=1e-15)


def test_max_steps_takes_the_rest_whole_at_the_last_rung() -> None:
    rungs = _one(Position("hyperliquid", "long", 60_000, 10, 30_000, HYPER), max_steps=3)
    assert len(rungs) == 3 and rungs[-1]["removed_frac"] == 1.0
    assert sum(r["removed_of_original"] for r in rungs) == pytest.approx(1.0)  # type: ignore[misc]


def test_procedure_codes() -> None:
    assert procedure_codes(["bybit", "okx", "hyperliquid", "binance-usdm", "gate", "nowhere"]).tolist() == [
        Procedure.TIER_DOWN, Procedure.TWO_TIERS, Procedure.CHUNK, Procedure.AT_ONCE, Procedure.AT_ONCE,
        Procedure.AT_ONCE]


# -- What-if: a shock that crosses takes the ladder's rungs (isodesk.margin.scenario) --------------



def _bybit_case() -> tuple[ScenarioBook, float, float, float, float]:
    """The Bybit case above as a one-position book with 0 free; its rungs P1, P2, the rest's size
    and margin, worked by hand."""
    q, e, w = 50.0, 50_000.0, 100_000.0
    p1 = (q * e - w - 1200) / (q * (1 - 0.0056))
    keep = 2_000_000 / (q * p1)
    w2, q2 = w - (1 - keep) * q * (e - p1), q * keep
    p2 = (q2 * e - w2) / (q2 * (1 - 0.005))
    pos = Position("bybit", "long", e, q, w, BYBIT, formula_variant="exact_mm", symbol="BTCUSDT", label="big")
    return ScenarioBook.build([pos], marks={"BTCUSDT": e}, accounts=["a"], free={}), p1, p2, q2, w2


def test_whatif_a_shock_between_the_rungs_cuts_the_position_and_keeps_the_rest() -> None:
    book, p1, p2, q2, w2 = _bybit_case()
    mark = (p1 + p2) / 2
    out = evaluate(book, Scenario(shocks={"BTCUSDT": Shock.price(mark)})).isolated
    assert not out.liquidated[0] and out.partial_liquidations[0] == 1
    assert out.ladder_loss[0] == pytest.approx(100_000 - w2, rel=1e-12)
    rest_upnl = q2 * (mark - 50_000)
    assert out.unrealized_pnl[0] == pytest.approx(rest_upnl, rel=1e-12)
    assert out.loss[0] == pytest.approx(100_000 - w2 - rest_upnl, rel=1e-12)
    assert out.equity_after[0] == pytest.approx(w2 + rest_upnl, rel=1e-12)
    assert out.liquidation_price[0] == pytest.approx(p2, rel=1e-12)
    assert out.margin_ratio[0] < 1.0  # the rest is not liquidated at this mark
    # without the ladder (all at once) the same shock takes the whole margin
    flat = evaluate(replace(book, procedure=None), Scenario(shocks={"BTCUSDT": Shock.price(mark)})).isolated
    assert flat.liquidated[0] and flat.loss[0] == 100_000


def test_whatif_a_shock_past_both_rungs_takes_everything() -> None:
    book, _p1, p2, _q2, _w2 = _bybit_case()
    out = evaluate(book, Scenario(shocks={"BTCUSDT": Shock.price(p2 - 1)})).isolated
    assert out.liquidated[0] and out.liquidated_step[0] == 1 and out.loss[0] == 100_000
    assert out.partial_liquidations[0] == 1
    assert out.equity_after[0] == 0


def test_whatif_a_path_takes_one_rung_per_crossing() -> None:
    book, p1, p2, _q2, w2 = _bybit_case()
    path = (Move(shocks={"BTCUSDT": Shock.price((p1 + p2) / 2)}), Move(shocks={"BTCUSDT": Shock.price(49_000)}),
            Move(shocks={"BTCUSDT": Shock.price(p2 - 1)}))
    out = evaluate(book, Scenario(path=path)).isolated
    assert out.liquidated[0] and out.liquidated_step[0] == 3 and out.partial_liquidations[0] == 1
    assert out.ladder_loss[0] == pytest.approx(100_000 - w2, rel=1e-12)


def test_whatif_hyperliquid_two_rungs_at_one_instant_fall_in_the_cooldown() -> None:
    pos = Position("hyperliquid", "long", 60_000, 10, 30_000, HYPER, symbol="BTC", label="whale")
    book = ScenarioBook.build([pos], marks={"BTCUSDT": 60_000}, accounts=["a"], free={})
    rungs = _one(pos)
    between = (rungs[1]["mark"] + rungs[2]["mark"]) / 2  # type: ignore[operator]
    gap = evaluate(book, Scenario(shocks={"BTCUSDT": Shock.price(between)})).isolated
    assert gap.liquidated[0] and gap.partial_liquidations[0] == 1 and gap.loss[0] == 30_000
    first = (rungs[0]["mark"] + rungs[1]["mark"]) / 2  # type: ignore[operator]
    slow = evaluate(book, Scenario(path=(Move(shocks={"BTCUSDT": Shock.price(first)}),
                                         Move(shocks={"BTCUSDT": Shock.price(between)})))).isolated
    assert not slow.liquidated[0] and slow.partial_liquidations[0] == 2
    assert slow.ladder_loss[0] == pytest.approx(rungs[0]["loss"] + rungs[1]["loss"], rel=1e-12)  # type: ignore[operator]


def test_whatif_grid_agrees_with_single_shocks_through_the_ladder() -> None:
    book, p1, p2, _q2, _w2 = _bybit_case()
    shocks = [(p1 / 50_000 - 1) * 100 + 0.0001 * s for s in (1, -1)] + [((p1 + p2) / 2 / 50_000 - 1) * 100,
                                                                         (p2 / 50_000 - 1) * 100 - 0.01, -1.0]
    grid = uniform_grid(book, shocks)
    for k, shock in enumerate(shocks):
        one = evaluate(book, Scenario(shocks={"BTCUSDT": Shock.pct(shock)})).isolated
        assert grid.isolated_equity[k, 0] == pytest.approx(one.equity_after[0], rel=1e-12, abs=1e-6)
        assert grid.isolated_loss[k, 0] == pytest.approx(one.account_loss[0], rel=1e-12, abs=1e-6)
        assert grid.isolated_lost[k, 0] == int(one.liquidated[0])
    # between the rungs: a partial liquidation, not a lost position, and less lost than the margin
    assert grid.isolated_lost[2, 0] == 0 and 0 < grid.isolated_loss[2, 0] < 100_000
    assert grid.isolated_lost[3, 0] == 1 and grid.isolated_loss[3, 0] == 100_000
