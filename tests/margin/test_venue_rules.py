"""Each venue's own rule (issue 11), checked against the venues' documents and recorded answers.

Expected values are computed here from the venues' published formulas written out independently
of the engine (closed forms per tier, a scalar requirement), or are numbers the venues printed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings

from isodesk.margin import Position, PositionBatch, PositionError, TierError, TierTable, check, compute, compute_one
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import price_levels
from isodesk.margin.tiers import UNBOUNDED_CAP, hyperliquid_rows, maintenance_amounts, venue_cap
from isodesk.margin.venues import VENUES, CloseFee, Requirement
from isodesk.paths import resource_path
from tests.margin.reference import load
from tests.margin.strategies import okx_document, okx_rows
from tests.margin.strategies import positions as any_position

# -- an independent scalar statement of every rule --------------------------------------------


def _balance(p: Position, price: float) -> float:
    if p.contract == "linear":
        return p.isolated_margin + p.sign * p.quantity * (price - p.entry_price)
    return p.isolated_margin + p.sign * p.size * (1 / p.entry_price - 1 / price)


def _notional(p: Position, price: float) -> float:
    return p.quantity * price if p.contract == "linear" else p.size / price


def _row(table: TierTable, value: float, sized: bool) -> int:
    rows = table.rows()
    if sized:  # OKX: a tier holds sizes up to and including its maxSz
        return next((i for i, r in enumerate(rows) if r[1] is None or value <= r[1]), len(rows) - 1)
    return max(i for i, r in enumerate(rows) if r[0] <= value)


def _bankrupt_notional(p: Position, f: float) -> float:
    """Notional where the margin balance just pays the fee to close there: B = f·n."""
    if p.contract == "linear":  # W + s·Q·(P − E) = f·Q·P
        price = (p.isolated_margin - p.sign * p.quantity * p.entry_price) / (p.quantity * (f - p.sign))
        return p.quantity * price
    # W + s·N/E − s·n = f·n
    return (p.isolated_margin + p.sign * p.size / p.entry_price) / (f + p.sign)


def reference_requirement(p: Position, price: float) -> float:
    """Maintenance plus the counted close fee at ``price``, from the venue rules as published."""
    formula = VENUES[p.venue].formula(p.formula_variant)
    table = p.tiers
    at_entry = formula.maintenance == Requirement.MM_AT_ENTRY
    n = _notional(p, p.entry_price if at_entry else price)
    if table.sized:
        contracts = p.quantity if p.contract == "inverse" else p.quantity / table.contract_value
        k = _row(table, contracts, sized=True)
    else:
        k = _row(table, n, sized=False)
    mm = n * float(table.mmr[k]) - float(table.amounts[k])
    fee = 0.0
    if formula.close_fee == CloseFee.AT_PRICE:
        fee = p.taker_fee_rate * _notional(p, price)
    elif formula.close_fee == CloseFee.AT_BANKRUPTCY:
        fee = p.taker_fee_rate * max(_bankrupt_notional(p, p.taker_fee_rate), 0.0)
    return mm + fee


@settings(max_examples=400, deadline=None)
@given(any_position())
def test_liquidation_price_meets_the_published_rule_for_every_venue_formula_and_basis(p):
    liq = compute_one(p).liquidation_price
    if liq is None:
        return
    balance, requirement = _balance(p, liq), reference_requirement(p, liq)
    assert balance == pytest.approx(requirement, rel=1e-9, abs=1e-9 * p.isolated_margin)
    assert compute_one(p, liq).margin_ratio == pytest.approx(1.0, rel=1e-9, abs=0.0)


# -- OKX: size tiers in contracts, no deduction, close fee at the price -----------------------

OKX = okx_document()
BTC_USDT = OKX["tiers"]["BTC-USDT"]
CT_VAL = float(OKX["ctVal"]["BTC-USDT-SWAP"])  # 0.01 BTC


def _okx_table(contract_value: float = CT_VAL) -> TierTable:
    return TierTable.from_rows(okx_rows(BTC_USDT), name="okx BTC-USDT", basis="contracts",
                               contract_value=contract_value)


def test_okx_btc_usdt_rows_are_the_published_ones():
    table = _okx_table()
    assert table.sized and table.contract_value == 0.01
    assert [float(x) for x in table.mmr[:4]] == [0.004, 0.005, 0.0075, 0.0125]
    assert [float(x) for x in table.caps[:3]] == [1_000.0, 5_000.0, 20_000.0]
    assert not table.amounts.any()  # the rate jumps from tier to tier with no deduction


@pytest.mark.parametrize(("contracts", "rate"), [
    (999.99, 0.004), (1_000.0, 0.004), (1_000.01, 0.005), (5_000.0, 0.005), (5_000.01, 0.0075),
    (20_000.0, 0.0075), (20_000.01, 0.0125),
])
@pytest.mark.parametrize("side", ["long", "short"])
def test_okx_linear_tier_edges_in_contracts(contracts, rate, side):
    """BTC-USDT-SWAP: 0.4 % up to 1,000 contracts, 0.5 % to 5,000, 0.75 % to 20,000, then 1.25 %;
    requirement = contracts × ctVal × price × (tier rate + taker fee) (OKX isolated margin ratio)."""
    qty, entry, fee, lev = contracts * CT_VAL, 60_000.0, 0.0005, 20.0
    margin = qty * entry / lev
    p = Position(venue="okx", side=side, entry_price=entry, quantity=qty, isolated_margin=margin,
                 taker_fee_rate=fee, tiers=_okx_table(), symbol="BTC-USDT-SWAP")
    s = p.sign
    want = (margin - s * qty * entry) / (qty * (rate + fee - s))  # W + s·Q(P − E) = Q·P·(r + f)
    risk = compute_one(p, 61_000.0)
    assert risk.liquidation_price == pytest.approx(want, rel=1e-12)
    assert risk.maintenance_margin == pytest.approx(qty * 61_000.0 * rate, rel=1e-12)
    assert risk.close_fee == pytest.approx(qty * 61_000.0 * fee, rel=1e-12)
    assert risk.margin_ratio == pytest.approx((qty * 61_000.0 * (rate + fee)) / risk.margin_balance, rel=1e-12)


@pytest.mark.parametrize("mark", [20_000.0, 60_000.0, 180_000.0, 600_000.0])
def test_okx_tier_stays_the_row_of_the_size_at_every_price(mark):
    """999 contracts stay at 0.4 % however far the price moves; a notional-basis reading of the same
    numbers would change rows (here the notional runs from 0.2 M to 6 M USDT)."""
    p = Position(venue="okx", side="short", entry_price=60_000.0, quantity=9.99, isolated_margin=60_000.0,
                 taker_fee_rate=0.0005, tiers=_okx_table())
    risk = compute_one(p, mark)
    assert risk.tier == 0
    assert risk.maintenance_margin == pytest.approx(9.99 * mark * 0.004, rel=1e-12)
    # the liquidation price of a 5x short is far above entry, still on the first row
    liq = compute_one(p).liquidation_price
    assert liq == pytest.approx((60_000.0 + 9.99 * 60_000.0) / (9.99 * (1 + 0.004 + 0.0005)), rel=1e-12)


@pytest.mark.parametrize(("contracts", "rate"), [(1_000.0, 0.004), (1_000.01, 0.005), (5_000.0, 0.005)])
@pytest.mark.parametrize("side", ["long", "short"])
def test_okx_inverse_tier_edges_in_contracts(contracts, rate, side):
    """Inverse (BTC-USD-SWAP, ctVal 100 USD): the quantity is already in contracts; the size rows of
    BTC-USDT stand in for BTC-USD's (not in the recorded data). Requirement in coin:
    contracts × 100 / price × (rate + fee)."""
    entry, fee, face = 60_000.0, 0.0005, 100.0
    n_usd = contracts * face
    margin = n_usd / entry / 10
    p = Position(venue="okx", side=side, contract="inverse", entry_price=entry, quantity=contracts,
                 contract_size=face, isolated_margin=margin, taker_fee_rate=fee, tiers=_okx_table(100.0))
    s = p.sign
    # W + s·N(1/E − 1/P) = N/P·(r + f)  →  P = N·(r + f + s) / (W + s·N/E)
    want = n_usd * (rate + fee + s) / (margin + s * n_usd / entry)
    assert compute_one(p).liquidation_price == pytest.approx(want, rel=1e-12)
    assert compute_one(p, 59_000.0).maintenance_margin == pytest.approx(n_usd / 59_000.0 * rate, rel=1e-12)


def test_okx_leverage_cap_follows_the_size_tier():
    """1,000 contracts are tier 1 (100x allowed); 1,000.01 are tier 2 (66.66x)."""
    table = _okx_table()
    base = dict(venue="okx", side="long", entry_price=60_000.0, isolated_margin=6_000.0, leverage=100.0,
                taker_fee_rate=0.0005, tiers=table)
    check(Position(**base, quantity=10.0))
    with pytest.raises(PositionError, match=r"66\.66x maximum of the bracket for a size of 1,000\.01 contracts"):
        check(Position(**base, quantity=10.0001))


# -- Bybit unified account (isolated): MM + the fee to close at the bankruptcy price ---------

# Bybit /v5/position/list, LTCUSDT, recorded 2023-11-14 by ccxt
# (../shared/reference/venue-tiers/bybit_v5_position_list_linear_LTCUSDT_cross_2023-11-14_ccxt.json)
LTC = {"size": 1.2, "positionValue": 77.519375, "leverage": 6.0, "markPrice": 71.1,
       "positionMM": 0.81072399, "positionIM": 12.95542633}
LTC_MMR, BYBIT_TAKER = 0.01, 0.00055


def _ltc(variant: str) -> Position:
    entry = LTC["positionValue"] / LTC["size"]
    # margin held = IM incl. the fee to close (Bybit's positionIM), so the fee-inclusive bankruptcy
    # price is entry × (1 − 1/leverage), as the 'New Margin Calculation' page writes the fee term
    margin = LTC["positionValue"] / LTC["leverage"] + LTC["size"] * entry * (1 - 1 / LTC["leverage"]) * BYBIT_TAKER
    return Position(venue="bybit", side="long", entry_price=entry, quantity=LTC["size"], isolated_margin=margin,
                    leverage=LTC["leverage"], taker_fee_rate=BYBIT_TAKER, tiers=TierTable.single(LTC_MMR),
                    formula_variant=variant, symbol="LTCUSDT")


def test_bybit_default_is_the_unified_account_rule():
    assert VENUES["bybit"].default.name == "uta"
    assert VENUES["bybit"].variants == ("uta", "uta_entry", "entry_mm", "exact_mm")
    p = _ltc("uta")
    unnamed = Position(**{**{f: getattr(p, f) for f in p.__dataclass_fields__}, "formula_variant": None})
    assert unnamed.formula.name == "uta"


def test_bybit_recorded_ltcusdt_position_mm_and_im():
    """positionMM = entry value × MMR + size × bankruptcy price × taker fee (the unified account's rule
    before 2025-09-02, valued at entry: ``uta_entry``); positionIM = entry value ÷ leverage + the same
    fee. Reproduced to 6 decimal places: the last two printed digits differ (0.81072346 for
    0.81072399, 12.95542555 for 12.95542633), more than rounding explains: the recorded position is in
    cross mode (tradeMode 0) and Bybit's internal rounding is not published."""
    risk = compute_one(_ltc("uta_entry"), LTC["markPrice"])
    fee = LTC["size"] * LTC["positionValue"] / LTC["size"] * (1 - 1 / 6) * BYBIT_TAKER
    assert risk.maintenance_margin == pytest.approx(LTC["positionValue"] * LTC_MMR, rel=1e-15)
    assert risk.close_fee == pytest.approx(fee, rel=1e-12)
    assert risk.maintenance_margin + risk.close_fee == pytest.approx(LTC["positionMM"], abs=1e-6)
    assert LTC["positionValue"] / LTC["leverage"] + risk.close_fee == pytest.approx(LTC["positionIM"], abs=1e-6)
    # since 2025-09-02 ('The New Margin Calculation'), MM is valued at the mark: 1.2 × 71.1 × 1 %
    now = compute_one(_ltc("uta"), LTC["markPrice"])
    assert now.maintenance_margin == pytest.approx(LTC["size"] * LTC["markPrice"] * LTC_MMR, rel=1e-15)
    assert now.close_fee == risk.close_fee


@pytest.mark.parametrize("extra", [0.0, 0.02])
@pytest.mark.parametrize(("mmr", "deduction"), [(0.005, 0.0), (0.01, 0.0025)])
def test_bybit_uta_inverse_matches_the_2026_help_formulas(extra, mmr, deduction):
    """Bybit help 'Liquidation Price Calculation under Isolated Mode (UTA)', 2026-05-27, inverse:
    long  LP = size × (MMR + 1) ÷ [size/E + size/E/L + extra/(1 + taker) + MM deduction]
    short LP = size × (1 − MMR) ÷ [size/E − size/E/L − extra/(1 − taker) − MM deduction]
    with the margin held = IM incl. the fee to close + the extra margin added."""
    size, entry, lev, f = 60_000.0, 50_000.0, 10.0, BYBIT_TAKER
    table = TierTable.single(mmr, deduction)
    long_margin = size / entry / lev + f * size / entry * (1 + 1 / lev) + extra   # fee at E/(1 + 1/L)
    short_margin = size / entry / lev + f * size / entry * (1 - 1 / lev) + extra  # fee at E/(1 − 1/L)
    long = Position(venue="bybit", side="long", contract="inverse", entry_price=entry, quantity=size,
                    isolated_margin=long_margin, taker_fee_rate=f, tiers=table)
    short = Position(venue="bybit", side="short", contract="inverse", entry_price=entry, quantity=size,
                     isolated_margin=short_margin, taker_fee_rate=f, tiers=table)
    want_long = size * (mmr + 1) / (size / entry + size / entry / lev + extra / (1 + f) + deduction)
    want_short = size * (1 - mmr) / (size / entry - size / entry / lev - extra / (1 - f) - deduction)
    assert compute_one(long).liquidation_price == pytest.approx(want_long, rel=1e-12)
    assert compute_one(short).liquidation_price == pytest.approx(want_short, rel=1e-12)


def test_bybit_fee_inclusive_bankruptcy_price():
    """Bybit help 360039261334: BP = 1.00075 × 10000 / (10000/8000 + 0.5) = 5718.57 (the extra case)."""
    cases = {c["id"]: c for c in load("margin-cases-extra.json")}
    case = cases["bybit-inverse-classic-cross-single-position-bankruptcy"]
    i = case["inputs"]
    p = Position(venue="bybit", side="long", contract="inverse", entry_price=i["entry_price"],
                 quantity=i["quantity_usd"], isolated_margin=i["account_balance_coin"] - i["order_margin_coin"],
                 taker_fee_rate=i["taker_fee_rate"], tiers=TierTable.single(0.005))
    got = compute_one(p).bankruptcy_price
    assert abs(got - case["expected"]["bankruptcy_price"]) <= case["tolerance"]["abs"]
    # the formulas without the fee keep the plain bankruptcy price, where the balance is 0
    plain = compute_one(Position(**{**{f: getattr(p, f) for f in p.__dataclass_fields__},
                                    "formula_variant": "exact_mm"})).bankruptcy_price
    assert plain == pytest.approx(10_000 / (10_000 / 8_000 + 0.5), rel=1e-12)


@pytest.mark.parametrize("side", ["long", "short"])
def test_bybit_uta_linear_closed_form(side):
    """Linear, MM at the liquidation price: W + s·Q(P − E) = Q·P·MMR − d + f·Q·P_b, with the margin
    held IM + fee + extra: P = [Q·E·(1 − s/L) − s·extra/(1 − s·f) − s·d] / [Q·(1 − s·MMR)] (derived,
    as the inverse formulas of the help page are)."""
    q, entry, lev, f, mmr, d, extra = 2.0, 3_000.0, 20.0, BYBIT_TAKER, 0.01, 25.0, 40.0
    s = 1 if side == "long" else -1
    margin = q * entry / lev + q * entry * (1 - s / lev) * f + extra
    p = Position(venue="bybit", side=side, entry_price=entry, quantity=q, isolated_margin=margin,
                 taker_fee_rate=f, tiers=TierTable.single(mmr, d))
    want = (q * entry * (1 - s / lev) - s * extra / (1 - s * f) - s * d) / (q * (1 - s * mmr))
    assert compute_one(p).liquidation_price == pytest.approx(want, rel=1e-12)


def test_bybit_uta_maintenance_follows_the_mark_across_tiers_entry_mm_does_not():
    table = TierTable.from_rows([[0, 100_000, 0.005, None, 100], [100_000, None, 0.01, None, 50]])
    base = dict(venue="bybit", side="long", entry_price=50_000.0, quantity=1.9, isolated_margin=20_000.0,
                taker_fee_rate=BYBIT_TAKER, tiers=table)
    uta = compute_one(Position(**base), 60_000.0)          # 114,000 at the mark: second tier
    old = compute_one(Position(**base, formula_variant="entry_mm"), 60_000.0)  # 95,000 at entry: first
    assert (uta.tier, old.tier) == (1, 0)
    assert uta.maintenance_margin == pytest.approx(114_000 * 0.01 - 100_000 * 0.005, rel=1e-12)
    assert old.maintenance_margin == pytest.approx(95_000 * 0.005, rel=1e-12) and old.close_fee == 0.0


# -- Hyperliquid: rate = 1 / (2 × max leverage), deduction by the recurrence ------------------

# Hyperliquid docs "Margin tiers", Mainnet (transcribed in ../shared/reference/venue-tiers/
# hl_margin_tiers_mainnet_PUBLISHED-TABLE_docs.json)
HL_PUBLISHED = {"BTC": [(0.0, 40), (150_000_000.0, 20)], "DOGE": [(0.0, 10), (20_000_000.0, 5)],
                "OP": [(0.0, 10), (3_000_000.0, 5)]}


@pytest.mark.parametrize("coin", sorted(HL_PUBLISHED))
def test_hyperliquid_rows_from_the_published_tiers(coin):
    tiers = HL_PUBLISHED[coin]
    table = TierTable.from_rows(hyperliquid_rows(tiers), name=coin)
    (_, lev0), (lo1, lev1) = tiers
    assert [float(x) for x in table.mmr] == [1 / (2 * lev0), 1 / (2 * lev1)]
    assert [float(x) for x in table.amounts] == pytest.approx([0.0, lo1 * (1 / (2 * lev1) - 1 / (2 * lev0))])
    # a long whose liquidation notional lies in the second tier: W + Q(P − E) = Q·P·r₁ − d₁
    q, entry = (lo1 * 1.5) / 100.0, 100.0
    w = q * entry / lev1
    p = Position(venue="hyperliquid", side="long", entry_price=entry, quantity=q, isolated_margin=w, tiers=table)
    r1, d1 = 1 / (2 * lev1), lo1 * (1 / (2 * lev1) - 1 / (2 * lev0))
    assert compute_one(p).liquidation_price == pytest.approx((w - q * entry + d1) / (q * (r1 - 1)), rel=1e-12)


def test_hyperliquid_shipped_btc_table_is_the_published_one():
    shipped = TierCatalog(resource_path("tiers")).table("hyperliquid", "linear", "BTC")
    assert shipped.same_rows(TierTable.from_rows(hyperliquid_rows(HL_PUBLISHED["BTC"])))


# -- Binance COIN-M: levels by base-asset quantity (notional in coin), cum in coin -----------

# GET /dapi/v2/leverageBracket, FILUSD_210625, pasted in a public issue (2021)
# (../shared/reference/venue-tiers/binance_dapi_v2_leverageBracket_FILUSD_210625_2021_ISSUE-FRAGMENT.json)
FILUSD = json.loads(
    '{"symbol":"FILUSD_210625","brackets":[{"bracket":1,"initialLeverage":20,"qtyCap":10000,"qtyFloor":0,'
    '"maintMarginRatio":0.022,"cum":0.0},{"bracket":2,"initialLeverage":10,"qtyCap":20000,"qtyFloor":10000,'
    '"maintMarginRatio":0.049,"cum":270.0},{"bracket":3,"initialLeverage":6,"qtyCap":50000,"qtyFloor":20000,'
    '"maintMarginRatio":0.05,"cum":290.0},{"bracket":4,"initialLeverage":5,"qtyCap":100000,"qtyFloor":50000,'
    '"maintMarginRatio":0.1,"cum":2790.0},{"bracket":5,"initialLeverage":4,"qtyCap":150000,"qtyFloor":100000,'
    '"maintMarginRatio":0.125,"cum":5290.0},{"bracket":6,"initialLeverage":3,"qtyCap":200000,"qtyFloor":150000,'
    '"maintMarginRatio":0.15,"cum":9040.0},{"bracket":7,"initialLeverage":2,"qtyCap":9223372036854775807,'
    '"qtyFloor":200000,"maintMarginRatio":0.25,"cum":29040.0}]}')


def _filusd() -> TierTable:
    rows = [[b["qtyFloor"], b["qtyCap"], b["maintMarginRatio"], b["cum"], b["initialLeverage"]]
            for b in FILUSD["brackets"]]
    return TierTable.from_rows(rows, name="FILUSD_210625")


def test_binance_last_cap_is_unbounded_only_as_an_integer():
    assert FILUSD["brackets"][-1]["qtyCap"] == UNBOUNDED_CAP  # json gives the exact integer
    assert venue_cap(UNBOUNDED_CAP) is None and venue_cap("9223372036854775807") is None
    assert venue_cap(UNBOUNDED_CAP - 1) == float(UNBOUNDED_CAP - 1) and venue_cap("") is None
    assert float("9223372036854775807") == 2.0**63  # why a float parse cannot tell it from 2^63
    assert math.isinf(_filusd().caps[-1])


def test_binance_coinm_cum_is_the_recurrence_on_coin_floors():
    """Binance FAQ ceccfcfb4e3a45e3b48b0b1bb1a8ae46: amount_n = floor_n × (rate_n − rate_(n−1)) +
    amount_(n−1), floors in coin; the venue's cum values follow it exactly on qtyFloor."""
    floors = [b["qtyFloor"] for b in FILUSD["brackets"]]
    rates = [b["maintMarginRatio"] for b in FILUSD["brackets"]]
    assert maintenance_amounts(floors, rates) == pytest.approx([b["cum"] for b in FILUSD["brackets"]], abs=1e-9)


@pytest.mark.parametrize(("contracts", "margin"), [(90_000, 9_000.0), (170_000, 30_000.0), (400_000, 60_000.0)])
def test_binance_coinm_level_is_taken_at_the_liquidation_price(contracts, margin):
    """Inverse long, 10 USD contracts at 50 USD/FIL: entry notional in the first levels, the
    notional at the liquidation price (N/P grows as P falls) in a higher one. Per level:
    W + N/E − N/P = N/P·r − cum → P = N(1 + r)/(W + cum + N/E); the FAQ keeps the level whose range
    holds N/P at that price."""
    table, face, entry = _filusd(), 10.0, 50.0
    n = contracts * face
    p = Position(venue="binance-coinm", side="long", contract="inverse", entry_price=entry, quantity=contracts,
                 contract_size=face, isolated_margin=margin, tiers=table)
    solutions = []
    for b in FILUSD["brackets"]:
        price = n * (1 + b["maintMarginRatio"]) / (margin + b["cum"] + n / entry)
        cap = math.inf if b["qtyCap"] == UNBOUNDED_CAP else b["qtyCap"]
        if b["qtyFloor"] <= n / price < cap:
            solutions.append((b["bracket"], price))
    assert len(solutions) == 1
    level, want = solutions[0]
    risk = compute_one(p)
    assert risk.liquidation_price == pytest.approx(want, rel=1e-12)
    assert price_levels(PositionBatch.from_positions([p])).liquidation_tier[0] == level - 1
    assert level - 1 > table.bracket(n / entry)  # the level moved between entry and liquidation


# -- tier tables on the contracts basis ------------------------------------------------------


def test_contracts_basis_rows_have_no_deduction_and_inclusive_caps():
    table = TierTable.from_rows([[0, 10, 0.01, None, 50], [10, None, 0.02, None, 25]], basis="contracts",
                                contract_value=0.1)
    assert list(table.amounts) == [0.0, 0.0]
    assert [table.bracket(v) for v in (0.5, 10.0, 10.000001, 1e9)] == [0, 0, 1, 1]
    notional = TierTable.from_rows([[0, 10, 0.01, None, 50], [10, None, 0.02, None, 25]])
    assert list(notional.amounts) == [0.0, 10 * 0.01] and notional.bracket(10.0) == 1


@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf, True])
def test_contract_value_must_be_positive(value):
    with pytest.raises(TierError, match="contract value"):
        TierTable.from_rows([[0, None, 0.01, None, None]], basis="contracts", contract_value=value)


def test_a_mixed_book_is_one_vectorized_call():
    okx = Position(venue="okx", side="long", entry_price=60_000.0, quantity=10.0, isolated_margin=6_000.0,
                   taker_fee_rate=0.0005, tiers=_okx_table())
    coinm = Position(venue="binance-coinm", side="long", contract="inverse", entry_price=50.0, quantity=30_000,
                     contract_size=10.0, isolated_margin=500.0, tiers=_filusd())
    bybit = _ltc("uta")
    batch = PositionBatch.from_positions([okx, coinm, bybit])
    assert list(batch.tiers.sized) == [True, False, False]
    marks = np.array([59_000.0, 45.0, 70.0])
    arrays = compute(batch, marks)
    for i, p in enumerate((okx, coinm, bybit)):
        assert arrays.liquidation_price[i] == compute_one(p).liquidation_price
        assert arrays.maintenance_margin[i] == compute_one(p, float(marks[i])).maintenance_margin
