"""Top-ups on the step desk during a replay: the policy saves one position and cannot save another on
a crash path, within its daily cap; the venue auto-add for a flagged position; the ledger balances.

Expected figures come from the engine (``compute``) at the marks of the path, independently of the
top-up code: a top-up to 8 % must leave the liquidation price 8 % below the mark it was made at.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from isodesk.desk import Deposit, Desk, OpenPosition
from isodesk.desk.book import engine_position
from isodesk.desk.topup import TopUpRunner
from isodesk.feeds.replay import ReplayFeed
from isodesk.margin import PositionBatch
from isodesk.margin.engine import compute
from isodesk.margin.topup import parse_policy
from isodesk.store import Store
from isodesk.store.db import copy_database
from isodesk.store.integrity import check_book
from isodesk.store.ledger import position_ref

ACCOUNT = "binance-usdm:USDT"
T0 = 1_717_200_000.0  # 2024-06-01T00:00:00Z


@pytest.fixture
def book(store, catalog, tmp_path):
    """10,000 USDT free; A: 0.1 BTC long at 60,000 (10×, margin 600); B: 1 ETH long at 3,000 (10×, margin 300)."""
    desk = Desk(store, None, catalog=catalog, clock=lambda: T0 - 60)
    assert desk.apply(Deposit(Decimal("10000"), account=ACCOUNT)).accepted
    for label, symbol, qty, entry, margin in (("A", "BTCUSDT", "0.1", "60000", "600"),
                                              ("B", "ETHUSDT", "1", "3000", "300")):
        result = desk.apply(OpenPosition(label=label, venue="binance-usdm", symbol=symbol, side="long",
                                         quantity=Decimal(qty), entry_price=Decimal(entry), leverage=Decimal("10"),
                                         margin=Decimal(margin)))
        assert result.accepted, result.reason
    desk.close()  # closes the store too
    return tmp_path / "book.db"


CRASH = [(T0, "BTCUSDT", 60_000), (T0, "ETHUSDT", 3_000),
         (T0 + 60, "BTCUSDT", 60_000), (T0 + 60, "ETHUSDT", 2_780),   # B below 3 %
         (T0 + 120, "BTCUSDT", 55_000), (T0 + 120, "ETHUSDT", 2_760),  # A below 3 %
         (T0 + 180, "BTCUSDT", 51_000), (T0 + 180, "ETHUSDT", 2_700),
         (T0 + 240, "BTCUSDT", 51_100), (T0 + 240, "ETHUSDT", 2_705)]


def _engine(store, catalog, label, margin):
    record = store.position_by_label(label)
    return PositionBatch.from_positions([engine_position(record, catalog, Decimal(margin))])


def _play(store, catalog, runner, rows=CRASH):
    feed = ReplayFeed.from_rows(rows, "crash")
    desk = Desk(store, runner.wrap(feed) if runner is not None else feed, catalog=catalog)
    if runner is not None:
        runner.desk = desk
    while not desk.step().feed.finished:
        pass
    return {p.label: p.status for p in store.positions(statuses=None)}, desk


def _copy(source, tmp_path, name):
    """A working copy of the book at ``source`` (SQLite's backup API), opened."""
    path = tmp_path / f"{name}.db"
    copy_database(source, path)
    return Store.open(path), path


def test_the_policy_saves_one_position_and_not_the_other_within_its_cap(book, catalog, tmp_path):
    base, _ = _copy(book, tmp_path, "base")
    statuses, desk = _play(base, catalog, None)
    assert statuses == {"A": "liquidated", "B": "liquidated"}  # both die as held
    desk.close()
    store, path = _copy(book, tmp_path, "with")
    runner = TopUpRunner(policy=parse_policy("below=3%,to=8%,cap=400,reserve=2000"), auto_add=False)
    statuses, desk = _play(store, catalog, runner)
    assert statuses == {"A": "liquidated", "B": "open"}  # B saved, A lost anyway
    adds = {e.position_id: e.amount for e in store.ledger() if e.kind == "add_margin"}
    a, b = store.position_by_label("A"), store.position_by_label("B")
    # B, at 2,780, was brought to 8 % exactly (to the ledger's unit): its liquidation price is 2,557.6
    after_b = compute(_engine(store, catalog, "B", Decimal(300) + adds[b.id]), np.array([2780.0]))
    assert after_b.distance_frac[0] == pytest.approx(0.08, abs=1e-9)
    # A, at 55,000, needed more than the 400 − B's share left of the day's cap: it got exactly that
    assert adds[a.id] + adds[b.id] == Decimal(400)
    need_a = compute(_engine(store, catalog, "A", Decimal(600) + adds[a.id]), np.array([55_000.0]))
    assert need_a.distance_frac[0] < 0.08
    assert runner.cap_days() == [(ACCOUNT, 19875)]  # 2024-06-01
    assert runner.spent["policy"] == {ACCOUNT: Decimal(400)} and not runner.spent["auto_add"]
    # the money moved through the ledger: free 10,000 − 900 opened − 400 topped up
    account = store.account(ACCOUNT)
    assert store.free_balance(account.id) == Decimal(10_000 - 900 - 400)
    assert store.balance(position_ref(b.id)) == Decimal(300) + adds[b.id]
    desk.close()
    assert check_book(path).ok


def test_the_venue_auto_add_saves_a_flagged_position_only(book, catalog, tmp_path):
    store, path = _copy(book, tmp_path, "auto")
    a = store.position_by_label("A")
    b = store.position_by_label("B")
    for pid in (a.id, b.id):
        store.add_venue_report(ts=T0 - 30, position_id=pid, venue="binance-usdm", venue_liquidation_price=None,
                               venue_margin=None, changes={}, auto_add_margin=pid == b.id)
    runner = TopUpRunner(policy=None, auto_add=True)
    statuses, desk = _play(store, catalog, runner)
    assert statuses == {"A": "liquidated", "B": "open"}
    # B crossed at 2,700 (its liquidation price with 300 is above it) and received its initial
    # margin 3,000/10 = 300 there; with 600 its liquidation price is below 2,700
    held = compute(_engine(store, catalog, "B", Decimal(300)), np.array([2700.0]))
    assert held.distance_frac[0] <= 0
    assert [(e.label, e.amount) for e in runner.drain()] == [("B", Decimal(300))]
    assert compute(_engine(store, catalog, "B", Decimal(600)), np.array([2700.0])).distance_frac[0] > 0
    assert runner.spent["auto_add"] == {ACCOUNT: Decimal(300)}
    desk.close()
    assert check_book(path).ok


# -- What-if: the shock scenario and the path replay report what top-ups would save ---------------


def _scenario_desk(tmp_path, book, catalog, name):
    store, _ = _copy(book, tmp_path, name)
    return Desk(store, None, catalog=catalog, clock=lambda: T0)


def test_the_what_if_scenario_says_who_the_policy_saves_and_what_it_costs(book, catalog, tmp_path):
    from isodesk.desk.scenario_jobs import RunScenario
    from isodesk.margin.scenario import Move, Scenario, Shock

    # the crash of CRASH as a What-if path from the entry prices (60,000 and 3,000)
    steps = [(60_000, 2_780), (55_000, 2_760), (51_000, 2_700)]
    scenario = Scenario(path=tuple(Move({"BTCUSDT": Shock.price(btc), "ETHUSDT": Shock.price(eth)})
                                   for btc, eth in steps))
    desk = _scenario_desk(tmp_path, book, catalog, "whatif")
    try:
        plain = desk.apply(RunScenario(scenario)).payload
        assert plain.rescue is None and plain.isolated.liquidated.tolist() == [True, True]
        result = desk.apply(RunScenario(scenario, top_up="below=3%,to=8%,cap=400,reserve=2000"))
        assert result.accepted, result.reason
        out = result.payload
        labels = out.book.labels
        saved = {labels[r] for r in range(len(labels)) if out.rescue.saved[r]}
        assert saved == {"B"} and bool(out.rescue.lost_with[labels.index("A")])
        assert out.rescue.policy_total.sum() == pytest.approx(400.0, abs=1e-8)
        # B was lifted to 8 % at 2,780 (the engine on its own): what the desk replay gave it too
        b_add = out.rescue.policy_add[labels.index("B")]
        lifted = compute(_engine(desk.store, catalog, "B", Decimal(300) + Decimal(repr(float(b_add)))),
                         np.array([2780.0]))
        assert lifted.distance_frac[0] == pytest.approx(0.08, abs=1e-8)
        doc = out.to_dict()
        assert doc["top_ups"]["saved"] == 1 and doc["top_ups"]["lost_anyway"] == 1
        assert doc["top_ups"]["policy_spent"] == {"USDT": pytest.approx(400.0)}
        assert {p["label"]: p["saved_by_top_ups"] for p in doc["isolated"]["positions"]} == {"A": False, "B": True}
        bad = desk.apply(RunScenario(scenario, top_up="below=3%,to=2%,cap=1,reserve=1"))
        assert not bad.accepted and "must be above the trigger" in bad.reason
    finally:
        desk.close()


def test_the_what_if_path_replay_takes_the_same_options(book, catalog, tmp_path):
    from isodesk.desk.scenario_jobs import ReplayPath
    from tests.desk.fakes import job_answer

    path = tmp_path / "crash.csv"
    path.write_text("ts,symbol,price\n" + "".join(f"{int(ts)},{sym},{price}\n" for ts, sym, price in CRASH))
    desk = _scenario_desk(tmp_path, book, catalog, "pathreplay")
    try:
        plain = job_answer(desk, ReplayPath((str(path),))).payload
        assert plain.top_ups is None and {p.label for p in plain.liquidated} == {"A", "B"}
        out = job_answer(desk, ReplayPath((str(path),), top_up="below=3%,to=8%,cap=400,reserve=2000")).payload
        assert out.top_ups["saved"] == ["B"] and out.top_ups["lost_anyway"] == ["A"]
        assert Decimal(out.top_ups["spent"]["policy"][ACCOUNT]) == Decimal(400)
        assert out.top_ups["cap_bound_days"] == [{"account": ACCOUNT, "day": "2024-06-01"}]
        assert "top-ups save 1 (B), spending 400" in out.text()
        # the book the desk holds never received a top-up
        assert not [e for e in desk.store.ledger() if e.kind == "add_margin"]
    finally:
        desk.close()
