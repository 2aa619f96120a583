"""Top-ups: the venues' auto-add (Bybit's published example worked by hand), the trader's policy
(parsing, closed-form needs, budget bounds under hypothesis), and the What-if rescue on a crash path.

Hand-worked books: Bybit ``entry_mm`` with one maintenance rate of 0.5 % (the help-center example
of Auto-Margin Replenishment: long 5 BTC at 8,000, 10×, initial margin 4,000, liquidated at
8,000 − (W − 200)/5), and the ``custom`` venue (MM 0.5 % of the notional at the mark, no fee): a
long of 1 BTC at 60,000 holding W is liquidated at L = (60,000 − W)/0.995.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodesk.margin import Position, PositionBatch, TierTable
from isodesk.margin.allocate import UNITS
from isodesk.margin.engine import compute
from isodesk.margin.topup import (
    PolicyBudget,
    PolicyError,
    TopUpPolicy,
    auto_add_amount,
    day_of,
    parse_policy,
    policy_needs,
    rescue,
    serve,
    venue_auto_add,
)

MM = TierTable.single(0.005)


def bybit(margin=4000.0, leverage=10.0, qty=5.0, side="long"):
    return Position(venue="bybit", side=side, entry_price=8000.0, quantity=qty, isolated_margin=margin, tiers=MM,
                    leverage=leverage, formula_variant="entry_mm", symbol="BTCUSDT")


def custom(margin, side="long", qty=1.0, entry=60_000.0):
    return Position(venue="custom", side=side, entry_price=entry, quantity=qty, isolated_margin=margin, tiers=MM,
                    symbol="BTCUSDT")


def batch(*positions):
    return PositionBatch.from_positions(list(positions))


# -- the venue's auto-add -------------------------------------------------------------------------


def test_bybit_example_adds_the_initial_margin_then_what_is_left():
    b = batch(bybit())
    assert compute(b, np.array([8000.0])).liquidation_price[0] == pytest.approx(7240.0)  # the article's figure
    free = {0: 6000 * UNITS}  # 10,000 available − 4,000 initial margin
    given = venue_auto_add(b, np.array([7240.0]), np.array([True]), np.array([0]), free)
    assert given.tolist() == [4000 * UNITS] and free == {0: 2000 * UNITS}
    b = b.replace(margin=np.array([8000.0]))
    assert compute(b, np.array([8000.0])).liquidation_price[0] == pytest.approx(8000 - (8000 - 200) / 5)  # 6,440
    assert venue_auto_add(b, np.array([6500.0]), np.array([True]), np.array([0]), free).tolist() == [0]  # not yet
    given = venue_auto_add(b, np.array([6440.0]), np.array([True]), np.array([0]), free)
    assert given.tolist() == [2000 * UNITS] and free == {0: 0}  # "all of the remaining balance"
    b = b.replace(margin=np.array([10_000.0]))
    assert compute(b, np.array([8000.0])).liquidation_price[0] == pytest.approx(8000 - (10_000 - 200) / 5)  # 6,040


def test_unflagged_positions_get_nothing():
    free = {0: 10_000 * UNITS}
    assert venue_auto_add(batch(bybit()), np.array([7000.0]), np.array([False]), np.array([0]), free).tolist() == [0]
    assert free == {0: 10_000 * UNITS}


def test_the_one_times_leverage_floor_caps_the_add():
    # margin 38,000 of a 40,000 notional: only 2,000 more keeps the leverage at 1×; at 40,000 nothing
    assert auto_add_amount(batch(bybit(margin=38_000.0))).tolist() == [2000 * UNITS]
    assert auto_add_amount(batch(bybit(margin=40_000.0))).tolist() == [0]
    # leverage unknown: the margin held stands for the initial margin
    assert auto_add_amount(batch(bybit(margin=4000.0, leverage=float("nan")))).tolist() == [4000 * UNITS]


def test_order_of_service_is_closest_to_liquidation_first():
    # both crossing at 7,000; the thinner margin is further past its liquidation price: served first
    b = batch(bybit(margin=4000.0), bybit(margin=3000.0))
    risk = compute(b, np.array([7000.0, 7000.0]))
    assert risk.distance_frac[1] < risk.distance_frac[0] <= 0
    free = {0: 5000 * UNITS}
    given = venue_auto_add(b, np.array([7000.0, 7000.0]), np.array([True, True]), np.array([0, 0]), free)
    # position 1's initial margin is 40,000/10 = 4,000 too; position 0 gets the 1,000 left
    assert given.tolist() == [1000 * UNITS, 4000 * UNITS] and free == {0: 0}


def test_serve_keeps_accounts_apart():
    left = {0: 5, 1: 100}
    given, short = serve(np.array([10, 10, 10]), np.array([0.01, 0.02, 0.03]), np.array([0, 1, 0]), left)
    assert given.tolist() == [5, 10, 0] and short.tolist() == [True, False, True] and left == {0: 0, 1: 90}


# -- the policy -----------------------------------------------------------------------------------


def test_policy_is_parsed_from_its_string():
    p = parse_policy("below=3%, to=8%, cap=500, reserve=2000")
    assert (p.trigger_frac, p.target_frac, p.daily_cap, p.reserve, p.currency) == (
        0.03, 0.08, Decimal("500"), Decimal("2000"), None)
    assert parse_policy(p.as_text()) == p
    assert parse_policy("trigger=2.5,target=10,cap=0.5,reserve=1,currency=btc").currency == "BTC"
    assert "top up to 8 % when below 3 %" in p.describe()


@pytest.mark.parametrize("text, says", [
    ("", "is empty"),
    ("below=3%,to=8%,cap=500", "reserve missing"),
    ("below=3%,to=8%,cap=500,reserve=2000,when=now", "unknown key 'when'"),
    ("below=3%,below=4%,to=8%,cap=500,reserve=2000", "below is given twice"),
    ("below=8%,to=3%,cap=500,reserve=2000", "must be above the trigger"),
    ("below=0%,to=8%,cap=500,reserve=2000", "policy below: 0 % is outside"),
    ("below=3%,to=100%,cap=500,reserve=2000", "policy to: 100 % is outside"),
    ("below=3%,to=8%,cap=-5,reserve=2000", "policy cap: -5 must be greater than 0"),
    ("below=3%,to=8%,cap=500,reserve=1,5", "'5' is not KEY=VALUE"),
    ("below=3%,to=8%,cap=500,reserve=0.000000001", "more than 8 decimal places"),
])
def test_bad_policies_are_refused_with_one_line_naming_the_part(text, says):
    with pytest.raises(PolicyError) as err:
        parse_policy(text)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_policy_need_is_the_closed_form_margin_to_the_target():
    p = parse_policy("below=3%,to=8%,cap=500,reserve=2000")
    b = batch(custom(3000.0), custom(9000.0))
    # mark 58,000: A's liq 57,000/0.995 = 57,286.43 is 1.23 % away (< 3 %); B's 51,000/0.995 is 11.6 % away
    needs, distance = policy_needs(b, np.array([58_000.0, 58_000.0]), p)
    assert distance[0] == pytest.approx(1 - 57_000 / 0.995 / 58_000)
    # target: L = 58,000·0.92 = 53,360 → W = 60,000 − 0.995·53,360 = 6,906.8 → add 3,906.8
    assert 0 <= needs[0] - round(3906.8 * UNITS) <= 1 and needs[1] == 0  # rounded up to the ledger's unit
    after = compute(b.replace(margin=b.margin + needs / UNITS), np.array([58_000.0, 58_000.0]))
    assert after.distance_frac[0] == pytest.approx(0.08, abs=1e-9)


def test_budget_stops_at_the_daily_cap_and_notes_the_day():
    p = parse_policy("below=3%,to=8%,cap=500,reserve=2000")
    budget = PolicyBudget(p)
    free = {0: 10_000 * UNITS}
    given = budget.pay(np.array([400 * UNITS, 400 * UNITS]), np.array([0.01, 0.02]), np.array([0, 0]), 7, free)
    assert given.tolist() == [400 * UNITS, 100 * UNITS] and budget.cap_days == {(0, 7)}
    assert budget.left(0, 7, free[0]) == 0 and budget.left(0, 8, free[0]) == 500 * UNITS  # a new day
    assert day_of(86_400.0 * 8 + 5) == 8


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 3), st.lists(st.integers(0, 900 * UNITS), min_size=1, max_size=4),
                                st.integers(0, 1)), min_size=1, max_size=25),
       cap=st.integers(1, 600), reserve=st.integers(1, 2500), free=st.integers(0, 3000))
def test_policy_never_spends_beyond_the_cap_the_reserve_or_the_free_balance(steps, cap, reserve, free):
    policy = TopUpPolicy(0.03, 0.08, Decimal(cap), Decimal(reserve))
    budget = PolicyBudget(policy)
    balances = {0: free * UNITS, 1: free * UNITS}
    per_day: dict[tuple[int, int], int] = {}
    total = {0: 0, 1: 0}
    for day, needs, account in steps:
        rows = np.array(needs, dtype=np.int64)
        accounts = np.full(len(rows), account)
        before = balances[account]
        given = budget.pay(rows, np.linspace(0.0, 0.02, len(rows)), accounts, day, balances)
        assert (given >= 0).all() and (given <= rows).all()
        assert balances[account] == before - int(given.sum()) >= 0
        per_day[(account, day)] = per_day.get((account, day), 0) + int(given.sum())
        total[account] += int(given.sum())
    assert all(v <= cap * UNITS for v in per_day.values())
    assert all(v <= reserve * UNITS and v <= free * UNITS for v in total.values())


# -- What-if: who would be saved ------------------------------------------------------------------


def test_rescue_on_a_crash_path_saves_one_and_not_the_other():
    """Two longs of 1 BTC at 60,000 in one account with 10,000 free; the mark falls 60,000 → 58,000 →
    56,500. A (W 3,000, liq 57,286) and B (W 3,500, liq 56,783) both die without a top-up. The policy
    (3 % → 8 %, cap 4,000 a day, reserve 5,000) at 58,000 lifts A by 3,906.8 (to 8 %); at 56,500 B
    (liq 56,783: past it) needs W = 60,000 − 0.995·51,980 = 8,279.9, i.e. 4,779.9, but only 93.2 of
    the day's cap is left: B is lost anyway, and the cap bound that day."""
    b = batch(custom(3000.0), custom(3500.0))
    path = np.array([[58_000.0, 58_000.0], [56_500.0, 56_500.0]])
    policy = parse_policy("below=3%,to=8%,cap=4000,reserve=5000")
    out = rescue(b, path, np.array([0, 0]), np.array([10_000.0]), np.array([False, False]), auto_add=False,
                 policy=policy)
    assert out.lost_without.tolist() == [True, True]
    assert out.saved.tolist() == [True, False] and out.lost_with.tolist() == [False, True]
    assert out.policy_add[0] == pytest.approx(3906.8, abs=1e-8)
    assert out.policy_add[1] == pytest.approx(4000 - 3906.8, abs=1e-8)
    assert out.policy_total[0] == pytest.approx(4000.0, abs=1e-8) and out.cap_bound.tolist() == [True]
    assert out.auto_add.sum() == 0


def test_rescue_with_the_venue_auto_add_only_helps_flagged_positions():
    # Bybit example book, two positions, only the first flagged: 7,240 → 7,100; the flagged one gets
    # its 4,000 initial margin at the trigger (liq → 6,440) and lives; the other is lost
    b = batch(bybit(), bybit())
    path = np.array([[7240.0, 7240.0], [7100.0, 7100.0]])
    out = rescue(b, path, np.array([0, 0]), np.array([6000.0]), np.array([True, False]), auto_add=True, policy=None)
    assert out.saved.tolist() == [True, False] and out.lost_with.tolist() == [False, True]
    assert out.auto_add.tolist() == [4000.0, 0.0] and out.auto_add_total.tolist() == [4000.0]
    off = rescue(b, path, np.array([0, 0]), np.array([6000.0]), np.array([True, False]), auto_add=False, policy=None)
    assert not off.saved.any() and off.auto_add.sum() == 0


def test_policy_need_of_a_short_is_the_same_closed_form_mirrored():
    # short 1 BTC at 60,000 holding W: liquidated at L with W + 60,000 − L = 0.005·L → L = (60,000 + W)/1.005
    p = parse_policy("below=3%,to=8%,cap=5000,reserve=5000")
    b = batch(custom(3000.0, side="short"))
    needs, distance = policy_needs(b, np.array([61_500.0]), p)
    assert distance[0] == pytest.approx(63_000 / 1.005 / 61_500 - 1)  # 1.93 %: below the trigger
    # target L = 61,500·1.08 = 66,420 → W = 1.005·66,420 − 60,000 = 6,752.1 → add 3,752.1
    assert 0 <= needs[0] - round(3752.1 * UNITS) <= 1


@settings(max_examples=60, deadline=None)
@given(margins=st.lists(st.floats(600.0, 6000.0), min_size=1, max_size=5),
       drops=st.lists(st.floats(0.0, 0.12), min_size=1, max_size=6),
       cap=st.integers(1, 3000), reserve=st.integers(1, 6000), free=st.floats(0.0, 8000.0))
def test_rescue_never_spends_beyond_cap_reserve_or_free(margins, drops, cap, reserve, free):
    b = batch(*(custom(m) for m in margins))
    path = np.array([[60_000.0 * (1 - d)] * len(margins) for d in drops])
    policy = TopUpPolicy(0.03, 0.08, Decimal(cap), Decimal(reserve))
    out = rescue(b, path, np.zeros(len(margins), dtype=int), np.array([free]), np.ones(len(margins), dtype=bool),
                 auto_add=True, policy=policy)
    assert out.policy_total[0] <= min(cap, reserve) + 1e-8
    assert out.policy_total[0] + out.auto_add_total[0] <= free + 1e-8
    assert (out.policy_add >= 0).all() and (out.auto_add >= 0).all()
    assert not (out.saved & ~out.lost_without).any() and not (out.saved & out.lost_with).any()
