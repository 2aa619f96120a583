"""The allocation command: every top-up in one transaction or none, checked against the free balance
when it runs; the plan from the store; the command's JSON form through the queue."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from isodesk.desk import Deposit
from isodesk.desk.allocation import AllocateCollateral, command_of, plan_from_store
from isodesk.desk.commands import ClosePosition
from isodesk.desk.registry import decode, encode
from isodesk.margin.allocate import AllocationError
from isodesk.store.ledger import position_ref

ACCOUNT = "binance-usdm:USDT"


def _ids(desk):
    return {label: desk.store.position_by_label(label).id for label in ("tight", "loose")}


def _balances(desk):
    ids = _ids(desk)
    acct = desk.store.account(ACCOUNT)
    return (desk.store.free_balance(acct.id), desk.store.balance(position_ref(ids["tight"])),
            desk.store.balance(position_ref(ids["loose"])), len(desk.store.journal()))


def test_the_plan_is_applied_in_one_command(two_btc_longs):
    desk = two_btc_longs
    free, tight, loose, _ = _balances(desk)
    plan = plan_from_store(desk.store, Decimal("1500"), account=ACCOUNT)
    assert plan.total <= Decimal("1500")
    adds = dict(plan.top_ups)
    result = desk.apply(command_of(plan))
    assert result.accepted, result.reason
    ids = _ids(desk)
    free2, tight2, loose2, _ = _balances(desk)
    assert free2 == free - plan.total
    assert tight2 == tight + adds.get(ids["tight"], 0)
    assert loose2 == loose + adds.get(ids["loose"], 0)
    # the desk's own figures after the command: the plan's smallest distance
    snap = desk.snapshot
    assert min(snap.cols["distance_frac"][:2]) == pytest.approx(plan.min_distance_frac, rel=1e-9)
    entries = [e for e in desk.store.journal() if e.kind == "add"]
    assert len(entries) == len(plan.top_ups)


def test_one_bad_top_up_refuses_the_whole_command(two_btc_longs):
    desk = two_btc_longs
    ids = _ids(desk)
    before = _balances(desk)
    for top_ups, says in (
        (((ids["tight"], Decimal("100")), (999, Decimal("1"))), "no position with id 999"),
        (((ids["tight"], Decimal("100")), (ids["loose"], Decimal("0.000000001"))), "8 decimal places"),
        (((ids["tight"], Decimal("100")), (ids["tight"], Decimal("1"))), "appears twice"),
        (((ids["tight"], Decimal("4000")), (ids["loose"], Decimal("1001"))), "more than the free balance"),
        ((), "adds nothing"),
    ):
        result = desk.apply(AllocateCollateral(ACCOUNT, top_ups))
        assert not result.accepted and says in result.reason, result.reason
        assert _balances(desk) == before


def test_a_position_of_another_account_or_closed_is_refused(two_btc_longs, clock, feed):
    desk = two_btc_longs
    ids = _ids(desk)
    assert desk.apply(Deposit(Decimal("1000"), account="binance-usdm:USDC", venue="binance-usdm",
                              currency="USDC")).accepted
    result = desk.apply(AllocateCollateral("binance-usdm:USDC", ((ids["tight"], Decimal("10")),)))
    assert not result.accepted and "is not in binance-usdm:USDC" in result.reason
    assert desk.apply(ClosePosition(ids["loose"])).accepted
    before = _balances(desk)
    result = desk.apply(AllocateCollateral(ACCOUNT, ((ids["tight"], Decimal("10")), (ids["loose"], Decimal("10")))))
    assert not result.accepted and "was closed" in result.reason
    assert _balances(desk) == before


def test_the_request_id_is_answered_once(two_btc_longs):
    desk = two_btc_longs
    ids = _ids(desk)
    cmd = AllocateCollateral(ACCOUNT, ((ids["tight"], Decimal("100")),))
    assert desk.apply(cmd).accepted
    after = _balances(desk)
    again = desk.apply(cmd)
    assert again.accepted and str(again.reply) == "repeated"
    assert _balances(desk) == after


def test_the_command_goes_through_the_queue_json_exactly():
    cmd = AllocateCollateral(ACCOUNT, ((3, Decimal("0.12345678")), (5, Decimal("1E+3"))))
    kind, body = encode(cmd)
    back = decode(kind, json.loads(json.dumps(body)))
    assert back == cmd
    assert back.top_ups[1][1] == Decimal(1000)
    with pytest.raises(TypeError):
        AllocateCollateral(ACCOUNT, "nope")  # type: ignore[arg-type]


def test_plan_from_store_refusals(two_btc_longs):
    store = two_btc_longs.store
    with pytest.raises(AllocationError, match="no account named 'x'"):
        plan_from_store(store, Decimal(1), account="x")
    with pytest.raises(AllocationError, match="more than the free balance"):
        plan_from_store(store, Decimal("999999"), account=ACCOUNT)
    with pytest.raises(AllocationError, match="no saved scenario named 'crash'"):
        plan_from_store(store, Decimal(1), account=ACCOUNT, goal="survive", scenario_name="crash")
    assert plan_from_store(store, Decimal(1), account=None).account == ACCOUNT  # the only account


def test_survive_a_saved_scenario(two_btc_longs):
    from isodesk.desk.scenario_jobs import scenario_to_dict
    from isodesk.margin.scenario import Scenario, Shock

    desk = two_btc_longs
    desk.store.save_scenario("dip", scenario_to_dict(Scenario(shocks={"BTCUSDT": Shock.pct(-12)})), ts=1.0)
    plan = plan_from_store(desk.store, Decimal("5000"), account=ACCOUNT, goal="survive", scenario_name="dip")
    assert plan.scenario == "dip" and plan.survivors == 2
    assert desk.apply(command_of(plan)).accepted
    from isodesk.desk.whatif import run_scenario

    out = run_scenario(desk.store, Scenario(shocks={"BTCUSDT": Shock.pct(-12)}))
    assert not out.isolated.liquidated.any()

