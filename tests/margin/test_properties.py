"""Properties of the engine over random positions (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from isodesk.margin import Position, PositionBatch, TierTable, compute, compute_one
from isodesk.margin.engine import maintenance_requirement, price_levels
from tests.margin.strategies import BASES, VENUE_VARIANTS, shipped, tables_for
from tests.margin.strategies import positions as shipped_positions

TABLES = [
    TierTable.single(0.004),
    TierTable.single(0.0125),
    TierTable.from_rows([[0, 50_000, 0.004, None, 125], [50_000, 250_000, 0.005, None, 100],
                         [250_000, 1_000_000, 0.01, None, 50], [1_000_000, 5_000_000, 0.025, None, 20],
                         [5_000_000, 20_000_000, 0.05, None, 10], [20_000_000, None, 0.125, None, 4]]),
    TierTable.from_rows([[0, 5, 0.005, None, 125], [5, 10, 0.01, None, 100], [10, 20, 0.02, None, 50],
                         [20, 50, 0.025, None, 20], [50, 100, 0.05, None, 10], [100, None, 0.1, None, 5]]),
]
VENUE_CONTRACTS = [("binance-usdm", "linear", None), ("binance-coinm", "inverse", None),
                   ("bybit", "linear", "entry_mm"), ("bybit", "inverse", "exact_mm"), ("bybit", "linear", "exact_mm"),
                   ("okx", "linear", None), ("okx", "inverse", None), ("hyperliquid", "linear", None),
                   ("gate", "linear", None)]


@st.composite
def positions(draw):
    venue, contract, variant = draw(st.sampled_from(VENUE_CONTRACTS))
    entry = draw(st.floats(0.01, 200_000))
    leverage = draw(st.floats(1.0, 100.0))
    if contract == "linear":
        qty = draw(st.floats(1e-3, 1e6)) / entry * draw(st.floats(1.0, 100.0))
        size, notional = 1.0, qty * entry
    else:
        qty, size = draw(st.integers(1, 100_000)), draw(st.sampled_from([1.0, 10.0, 100.0]))
        notional = qty * size / entry
    margin = notional / leverage * draw(st.floats(0.3, 3.0))
    return Position(venue=venue, side=draw(st.sampled_from(["long", "short"])), contract=contract,
                    entry_price=entry, quantity=qty, contract_size=size, isolated_margin=margin,
                    leverage=math.nan, taker_fee_rate=draw(st.sampled_from([0.0, 0.0005, 0.0006])),
                    formula_variant=variant, tiers=draw(st.sampled_from(TABLES)))


def _balance(p: Position, price: float) -> float:
    upnl = (p.sign * p.quantity * (price - p.entry_price) if p.contract == "linear"
            else p.sign * p.size * (1 / p.entry_price - 1 / price))
    return p.isolated_margin + upnl


def _notional(p: Position, price: float) -> float:
    return p.quantity * price if p.contract == "linear" else p.size / price


def _requirement(p: Position, price: float) -> float:
    """The engine's one requirement (maintenance + counted close fee) at ``price``."""
    batch = PositionBatch.from_positions([p])
    return float(maintenance_requirement(batch, np.array([_notional(p, price)])).requirement[0])


@settings(max_examples=400, deadline=None)
@given(positions())
def test_at_the_liquidation_price_the_venue_condition_holds(p):
    liq = compute_one(p).liquidation_price
    assume(liq is not None)
    balance, requirement = _balance(p, liq), _requirement(p, liq)
    scale = max(abs(requirement), p.isolated_margin, 1e-12)
    assert abs(balance - requirement) <= 1e-7 * scale


@settings(max_examples=300, deadline=None)
@given(positions(), st.floats(0.01, 2.0))
def test_adding_collateral_moves_liquidation_away_from_mark(p, extra_fraction):
    before = compute_one(p).liquidation_price
    assume(before is not None)
    richer = Position(**{**_fields(p), "isolated_margin": p.isolated_margin * (1 + extra_fraction)})
    after = compute_one(richer).liquidation_price
    if after is None:  # enough margin that no price liquidates any more
        assert p.side == "long" or p.contract == "inverse"
        return
    assert p.sign * (before - after) > 0


@settings(max_examples=300, deadline=None)
@given(positions())
def test_liquidation_lies_between_entry_and_bankruptcy(p):
    assume(p.isolated_margin > _requirement(p, p.entry_price) * 1.0001)  # not liquidated at entry
    risk = compute_one(p)
    assume(risk.liquidation_price is not None)
    liq, bankrupt = risk.liquidation_price, risk.bankruptcy_price
    if p.side == "long":
        assert (bankrupt or 0.0) <= liq * (1 + 1e-12) and liq < p.entry_price
    else:
        assert p.entry_price < liq and (bankrupt is None or liq <= bankrupt * (1 + 1e-12))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(positions(), st.floats(0.2, 3.0)), min_size=1, max_size=25))
def test_batch_equals_single_calls(items):
    book = [p for p, _ in items]
    marks = np.array([p.entry_price * m for p, m in items])
    arrays = compute(PositionBatch.from_positions(book), marks)
    for i, (p, _) in enumerate(items):
        one = compute_one(p, float(marks[i]))
        for name in ("liquidation_price", "bankruptcy_price", "margin_ratio", "maintenance_margin",
                     "unrealized_pnl", "margin_balance", "distance_frac", "max_removable"):
            got, want = float(getattr(arrays, name)[i]), getattr(one, name)
            assert (math.isnan(got) and want is None) or got == want, name


def test_long_with_margin_covering_entry_notional_has_no_liquidation_price():
    p = Position(venue="binance-usdm", side="long", entry_price=100.0, quantity=1.0, isolated_margin=100.0,
                 leverage=1.0, tiers=TierTable.single(0.004))
    risk = compute_one(p, 50.0)
    assert risk.liquidation_price is None and risk.bankruptcy_price is None
    assert risk.margin_ratio == 0.004 * 50 / 50  # balance 50, maintenance 0.2


def test_short_always_has_a_liquidation_price_above_entry():
    p = Position(venue="binance-usdm", side="short", entry_price=100.0, quantity=1.0, isolated_margin=1000.0,
                 tiers=TierTable.single(0.004))
    liq = compute_one(p).liquidation_price
    assert liq == (1000.0 + 100.0) / (1.0 * 1.004)


def _fields(p: Position) -> dict:
    return {f: getattr(p, f) for f in p.__dataclass_fields__}


# -- the margin ratio reads exactly 100 % at the liquidation price (issue 10) ---------------------


def test_bybit_linear_long_reads_100_percent_at_its_own_liquidation_price():
    tiers = shipped("bybit", "linear")[0]
    for variant in ("entry_mm", "exact_mm"):
        p = Position(venue="bybit", side="long", entry_price=60_000.0, quantity=1.0, isolated_margin=6_000.0,
                     leverage=10.0, tiers=tiers, formula_variant=variant, symbol="BTCUSDT")
        liq = compute_one(p).liquidation_price
        assert liq is not None
        assert compute_one(p, liq).margin_ratio == pytest.approx(1.0, rel=1e-9, abs=0.0), variant


@settings(max_examples=300, deadline=None)
@given(st.lists(shipped_positions(), min_size=1, max_size=8))
def test_margin_ratio_is_one_at_the_liquidation_price(book):
    """Every venue, variant, contract kind, side and tier of the shipped tables, one batch per example."""
    batch = PositionBatch.from_positions(book)
    liq = price_levels(batch).liquidation_price
    assume(np.isfinite(liq).any())
    at_liq = compute(batch, liq)
    for i, p in enumerate(book):
        if not math.isfinite(liq[i]):
            continue
        ratio = float(at_liq.margin_ratio[i])
        assert ratio == pytest.approx(1.0, rel=1e-9, abs=0.0), (p, liq[i], ratio)


@pytest.mark.parametrize("basis", BASES)
@pytest.mark.parametrize(("venue", "contract", "variant"), VENUE_VARIANTS, ids=lambda v: str(v))
def test_margin_ratio_is_one_at_the_liquidation_price_on_every_shipped_tier(venue, contract, variant, basis):
    """Deterministic sweep: every tier of every table the venue draws from (strategies.tables_for),
    entered mid-tier at the tier's maximum leverage, both sides, several price levels; on the
    contracts basis mid-tier in contracts."""
    book = []
    for t, tiers in enumerate(tables_for(venue, contract, basis)):
        for k in range(len(tiers)):
            floor = float(tiers.floors[k])
            cap = float(tiers.caps[k]) if math.isfinite(tiers.caps[k]) else 4.0 * max(floor, 1.0)
            middle = (floor + cap) / 2
            lev = float(tiers.max_leverage[k]) if math.isfinite(tiers.max_leverage[k]) else 20.0
            entry = (0.05, 3.0, 150.0, 60_000.0)[(t + k) % 4]
            if tiers.sized:
                qty = middle if contract == "inverse" else middle * tiers.contract_value
            else:
                qty = middle / entry if contract == "linear" else max(1.0, round(middle * entry))
            notional = qty * entry if contract == "linear" else qty / entry
            for side in ("long", "short"):
                book.append(Position(venue=venue, side=side, contract=contract, entry_price=entry, quantity=qty,
                                     isolated_margin=notional / lev, taker_fee_rate=0.0005,
                                     formula_variant=variant, tiers=tiers))
    batch = PositionBatch.from_positions(book, validate=False)
    liq = price_levels(batch).liquidation_price
    has = np.isfinite(liq)
    assert has.sum() >= len(book) // 2
    ratio = compute(batch, liq).margin_ratio[has]
    worst = int(np.argmax(np.abs(ratio - 1.0)))
    assert np.abs(ratio - 1.0).max() <= 1e-9, book[int(np.flatnonzero(has)[worst])]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(shipped_positions(), st.floats(0.2, 3.0)), min_size=1, max_size=12))
def test_batch_equals_single_calls_for_every_venue_formula_and_basis(items):
    """One mixed batch (venues, formulas, both bases, linear and inverse) gives each position
    exactly what it gets alone."""
    book = [p for p, _ in items]
    marks = np.array([p.entry_price * m for p, m in items])
    arrays = compute(PositionBatch.from_positions(book), marks)
    for i, (p, _) in enumerate(items):
        one = compute_one(p, float(marks[i]))
        for name in ("liquidation_price", "bankruptcy_price", "margin_ratio", "maintenance_margin", "close_fee",
                     "unrealized_pnl", "margin_balance", "distance_frac", "max_removable", "tier"):
            got, want = float(getattr(arrays, name)[i]), getattr(one, name)
            assert (math.isnan(got) and want is None) or got == want, (name, p)
