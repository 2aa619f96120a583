"""The documented facts of margin-cases-extra.json that do not fit the case format."""

import numpy as np
import pytest

from isodesk.margin import Position, PositionBatch, TierTable, compute_one, maintenance_requirement
from isodesk.margin.tiers import maintenance_amounts
from tests.margin.reference import load, within

EXTRA = {c["id"]: c for c in load("margin-cases-extra.json")}


def test_binance_liquidation_moves_by_added_over_q_one_minus_mmr():
    case = EXTRA["binance-usdm-add-margin-long"]
    i, tol, want = case["inputs"], case["tolerance"], case["expected"]
    tiers = TierTable.single(i["mmr"], i["maintenance_amount"])

    def liq(margin):
        p = Position(venue="binance-usdm", side="long", entry_price=i["entry_price"], quantity=i["quantity"],
                     isolated_margin=margin, leverage=i["leverage"], tiers=tiers)
        return compute_one(p).liquidation_price

    before, after = liq(i["isolated_margin"]), liq(i["isolated_margin"] + i["added_margin"])
    assert within(before, want["liquidation_price_before"], tol)
    assert within(after, want["liquidation_price_after"], tol)
    assert within(before - after, want["shift"], tol)


def test_binance_coinm_maintenance_amount_recurrence():
    case = EXTRA["binance-coinm-faq-cum-recurrence-btcusd-300btc"]
    i, want, tol = case["inputs"], case["expected"], case["tolerance"]
    # From level 4 (amount 0.56 BTC) up: level 5 starts at 50 BTC (5 %), then the FAQ's BTCUSD
    # levels 6 (100 BTC, 10 %) and 7 (200 BTC, 12.5 %), which hold the 300 BTC of the example.
    floors = [20.0, i["level5_floor_coin"], 100.0, 200.0]
    rates = [i["level4_mmr"], i["level5_mmr"], 0.1, 0.125]
    amounts = maintenance_amounts(floors, rates, first=i["level4_maintenance_amount"])
    assert within(amounts[1], want["level5_maintenance_amount"], tol)
    rows = [[0.0, 20.0, 0.0125, 0.31, None]] + [
        [f, c, r, a, None] for f, c, r, a in zip(floors, [*floors[1:], None], rates, amounts, strict=True)]
    table = TierTable.from_rows(rows)
    k = table.bracket(i["notional_coin"])
    assert within(float(table.mmr[k]), want["mmr_at_300btc"], tol)
    assert within(float(table.amounts[k]), want["maintenance_amount_at_300btc"], tol)


def test_hyperliquid_margin_table_rates_and_deductions():
    case = EXTRA["hyperliquid-tier-deductions-btc-testnet"]
    rows = [[lo, hi, 1 / (2 * lev), None, lev] for lo, hi, lev in case["inputs"]["margin_tiers"]]
    table = TierTable.from_rows(rows)
    tol = case["tolerance"]
    for got, want in zip(table.mmr, case["expected"]["maintenance_rates"], strict=True):
        assert within(float(got), want, tol)
    for got, want in zip(table.amounts, case["expected"]["maintenance_deductions"], strict=True):
        assert within(float(got), want, tol)


@pytest.mark.parametrize("notional", [0.0, 9_999.99, 10_000.0, 77_777.0, 300_000.0, 5e6])
def test_derived_amounts_keep_maintenance_continuous(notional):
    case = EXTRA["hyperliquid-tier-deductions-btc-testnet"]
    rows = [[lo, hi, 1 / (2 * lev), None, lev] for lo, hi, lev in case["inputs"]["margin_tiers"]]
    table = TierTable.from_rows(rows)
    # charging each slice of the notional at its own row's rate gives the same maintenance
    sliced, floors = 0.0, [*list(table.floors), float("inf")]
    for k in range(len(table)):
        lo, hi = floors[k], floors[k + 1]
        if notional > lo:
            sliced += (min(notional, hi) - lo) * float(table.mmr[k])
    p = Position(venue="hyperliquid", side="long", entry_price=1.0, quantity=1.0, isolated_margin=1.0, tiers=table)
    engine = maintenance_requirement(PositionBatch.from_positions([p]), np.array([notional])).margin[0]
    assert engine == pytest.approx(sliced, rel=1e-12, abs=1e-9)
