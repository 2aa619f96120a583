"""A partial liquidation (isodesk.desk.ladder): the part the venue removes closes at the liquidation
price, the rest stays open on the margin left, and nothing else moves, to the last digit."""

from __future__ import annotations

import math
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk import Deposit, Desk, EventKind, OpenPosition
from isodesk.desk.desk import price_decimal
from isodesk.desk.levels import Level
from isodesk.desk.setup import shipped_catalog
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed

CENT = Decimal("0.00000001")


def _open(desk: Desk, label: str, venue: str, symbol: str, side: str, qty: str, price: str, lev: str,
          margin: str) -> None:
    result = desk.apply(OpenPosition(label=label, venue=venue, symbol=symbol, side=side, quantity=Decimal(qty),
                                     entry_price=Decimal(price), leverage=Decimal(lev), margin=Decimal(margin)))
    assert result.accepted, result.reason


@pytest.fixture
def bybit_book(make_desk, feed, clock):
    """Bybit: 'big' 50 BTC long at 50,000 (2,500,000: tier 2 of BTCUSDT), 'small' 1 BTC long on the same
    account; Binance: 'other' 1 BTC long. Both accounts hold free USDT."""
    desk = make_desk()
    feed.push("BTCUSDT", 50_000.0, clock.now)
    desk.step()
    for account in ("bybit:USDT", "binance-usdm:USDT"):
        assert desk.apply(Deposit(Decimal("1000000"), account=account)).accepted
    _open(desk, "big", "bybit", "BTCUSDT", "long", "50", "50000", "25", "100000")
    _open(desk, "small", "bybit", "BTCUSDT", "long", "1", "50000", "10", "5000")
    _open(desk, "other", "binance-usdm", "BTCUSDT", "long", "1", "50000", "10", "5000")
    desk.drain_events()
    return desk


def _state(store: Store) -> dict[int, tuple[str, Decimal, Decimal]]:
    return {p.id: (p.status, p.quantity, store.balance(position_ref(p.id))) for p in store.positions(None)}


def test_bybit_above_the_lowest_tier_is_cut_to_the_tier_below(bybit_book, feed, clock, store):
    desk = bybit_book
    big = store.position_by_label("big")
    before = _state(store)
    free = {a.id: store.free_balance(a.id) for a in store.accounts()}
    risk = desk.risk_of(big.id)
    liq = risk["liquidation_price"]
    # shown before it happens: the first rung at the liquidation price, the share above tier 1's top
    assert risk["ladder_first_mark"] == liq
    assert risk["ladder_first_frac"] == pytest.approx(1 - 2_000_000 / (50 * liq), rel=1e-12)
    assert math.isnan(desk.risk_of(store.position_by_label("small").id)["ladder_first_frac"])  # tier 1: at once

    feed.push("BTCUSDT", liq - 1.0, clock.advance(1))
    desk.step()

    after = store.position(big.id)
    assert after.status == "open"
    # the rest is worth the top of tier 1, 2,000,000, at the liquidation price
    assert abs(after.quantity - Decimal(repr(2_000_000 / liq))) <= CENT
    removed = Decimal(50) - after.quantity
    price = price_decimal(liq)
    loss = (removed * (Decimal(50_000) - price)).quantize(CENT)
    assert store.balance(position_ref(big.id)) == Decimal(100_000) - loss
    assert store.realized_loss(big.account_id) == loss
    # nothing else moved: the other positions, both free balances; the ledger still sums to 0
    for pid, state in before.items():
        if pid != big.id:
            assert _state(store)[pid] == state
    assert {a.id: store.free_balance(a.id) for a in store.accounts()} == free
    assert sum(store.balances().values(), Decimal(0)) == 0
    # the journal and the alert say what happened
    entry = store.journal(position_id=big.id)[-1]
    assert entry.kind == "liquidation" and entry.closed_quantity == removed and entry.realized_pnl == -loss
    assert entry.after["isolated_margin"] == pytest.approx(float(Decimal(100_000) - loss))
    events = [e for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION]
    assert [e.label for e in events] == ["big"]
    share = float(removed / 50) * 100
    assert f"partially liquidated: {share:.4g} % removed" in events[0].message
    assert "new liq" in events[0].message
    # the rest is safe at this mark, with a new liquidation price below it; on tier 1 it goes at once next
    rest = desk.risk_of(big.id)
    assert rest["liquidation_price"] < liq - 1.0
    assert rest["quantity"] == pytest.approx(float(after.quantity))
    assert desk.snapshot.level[desk.snapshot.book.row_of(big.id)] != Level.LIQUIDATED
    assert math.isnan(rest["ladder_first_frac"])

    # the next crossing takes the rest whole: the account lost exactly the 100,000 it put in
    feed.push("BTCUSDT", rest["liquidation_price"] - 1.0, clock.advance(1))
    desk.step()
    assert store.position(big.id).status == "liquidated"
    assert store.realized_loss(big.account_id) == Decimal(100_000)
    assert store.position(store.position_by_label("small").id).status == "open"
    assert sum(store.balances().values(), Decimal(0)) == 0


def test_a_gap_through_both_rungs_goes_step_by_step_in_one_tick(bybit_book, feed, clock, store):
    desk = bybit_book
    big = store.position_by_label("big")
    feed.push("BTCUSDT", 48_000.0, clock.advance(1))  # below the first rung and the rest's liquidation price
    desk.step()
    assert store.position(big.id).status == "liquidated"
    kinds = [e.kind for e in store.journal(position_id=big.id)]
    assert kinds == ["open", "liquidation", "liquidation"]
    assert store.realized_loss(big.account_id) == Decimal(100_000)
    assert store.position(store.position_by_label("small").id).status == "open"


def test_binance_goes_at_once_in_any_tier(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("1000000"), account="binance-usdm:USDT")).accepted
    _open(desk, "big", "binance-usdm", "BTCUSDT", "long", "20", "60000", "20", "60000")  # 1,200,000
    big = store.position_by_label("big")
    assert math.isnan(desk.risk_of(big.id)["ladder_first_frac"])
    feed.push("BTCUSDT", desk.risk_of(big.id)["liquidation_price"] - 1.0, clock.advance(1))
    desk.step()
    assert store.position(big.id).status == "liquidated"


def test_hyperliquid_chunk_then_cooldown_takes_the_whole_rest(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("1000000"), account="hyperliquid:USDC")).accepted
    _open(desk, "whale", "hyperliquid", "BTC", "long", "10", "60000", "20", "30000")
    whale = store.position_by_label("whale")
    liq = desk.risk_of(whale.id)["liquidation_price"]
    assert desk.risk_of(whale.id)["ladder_first_frac"] == pytest.approx(0.2)
    feed.push("BTCUSDT", liq - 1.0, clock.advance(1))
    desk.step()
    assert store.position(whale.id).quantity == Decimal("8")
    loss = (Decimal(2) * (Decimal(60_000) - price_decimal(liq))).quantize(CENT)
    assert store.balance(position_ref(whale.id)) == Decimal(30_000) - loss
    # within 30 s the next crossing takes the whole rest (Hyperliquid's cooldown)
    rest_liq = desk.risk_of(whale.id)["liquidation_price"]
    feed.push("BTCUSDT", rest_liq - 1.0, clock.advance(10))
    desk.step()
    assert store.position(whale.id).status == "liquidated"
    assert store.realized_loss(whale.account_id) == Decimal(30_000)


def test_hyperliquid_after_the_cooldown_cuts_again(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("1000000"), account="hyperliquid:USDC")).accepted
    _open(desk, "whale", "hyperliquid", "BTC", "long", "10", "60000", "20", "30000")
    whale = store.position_by_label("whale")
    feed.push("BTCUSDT", desk.risk_of(whale.id)["liquidation_price"] - 1.0, clock.advance(1))
    desk.step()
    feed.push("BTCUSDT", desk.risk_of(whale.id)["liquidation_price"] - 1.0, clock.advance(31))
    desk.step()
    assert store.position(whale.id).status == "open"
    assert store.position(whale.id).quantity == Decimal("6.4")


STATS = {"partials": 0}
position_st = st.tuples(st.sampled_from(["long", "short"]), st.integers(2, 25), st.floats(2_100_000, 2_500_000),
                        st.floats(1.0, 1.3))
# a step is a move of the price (a factor), or a landing just past one position's first rung (its
# index), so rungs taken alone are seen as well as gaps through several
path_st = st.lists(st.one_of(st.floats(0.97, 1.03), st.integers(0, 4)), min_size=1, max_size=20)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(position_st, min_size=2, max_size=5), path_st)
def test_each_partial_liquidation_touches_only_its_own_position(book, path):
    """Like tests/desk/test_isolation_property.py for tier-2 Bybit positions: a step moves only the
    positions it liquidates (partly or whole); the free balance never moves; the ledger sums to 0."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "p.db")
        clock, feed = ManualClock(), ScriptedFeed()
        desk = Desk(store, feed, catalog=shipped_catalog(), clock=clock)
        price = 50_000.0
        feed.push("BTCUSDT", price, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("5000000"), account="bybit:USDT")).accepted
        for i, (side, lev, notional, extra) in enumerate(book):
            qty = (Decimal(repr(notional)) / Decimal(50_000)).quantize(Decimal("0.001"))
            margin = (qty * Decimal(50_000) / lev * Decimal(repr(extra))).quantize(Decimal("0.01"))
            desk.apply(OpenPosition(label=f"p{i}", venue="bybit", symbol="BTCUSDT", side=side, quantity=qty,
                                    entry_price=Decimal(50_000), leverage=Decimal(lev), margin=margin))
        desk.drain_events()
        account = store.accounts()[0].id
        for move in path:
            if isinstance(move, int):
                rows = [r for r, st_ in enumerate(desk.snapshot.book.statuses) if st_ == "open"]
                if not rows:
                    continue
                row = rows[move % len(rows)]
                first = float(desk.snapshot.cols["ladder_first_mark"][row])
                if not math.isfinite(first):
                    continue
                side = 1.0 if desk.snapshot.book.sides[row] == "long" else -1.0
                price = first * (1 - side * 1e-7)
            else:
                price *= move
            before = _state(store)
            free = store.free_balance(account)
            loss_before = store.realized_loss(account)
            feed.push("BTCUSDT", price, clock.advance(1))
            desk.step()
            hit = {e.position_id: e for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION}
            now = _state(store)
            for pid, state in before.items():
                if pid not in hit:
                    assert now[pid] == state
                elif now[pid][0] == "open":  # partly: smaller, less margin, still open
                    STATS["partials"] += 1
                    assert now[pid][1] < state[1] and now[pid][2] < state[2]
                else:
                    assert now[pid][2] == 0
            assert store.free_balance(account) == free
            lost = sum((before[p][2] - now[p][2] for p in hit), Decimal(0))
            assert store.realized_loss(account) - loss_before == lost
            assert sum(store.balances().values(), Decimal(0)) == 0
        desk.close()
        store.close()


def test_the_property_saw_partial_liquidations():
    """Guards the property above against passing vacuously (run alone, it runs it first)."""
    if STATS["partials"] == 0:
        test_each_partial_liquidation_touches_only_its_own_position()
    assert STATS["partials"] > 0


def test_the_fast_replay_gives_the_step_desks_partial_liquidations(tmp_path):
    """The fast replay (isodesk.desk.replay) plays every instant near a liquidation price through the
    desk itself, so its events, ledger, journal and final snapshot equal the tick-by-tick desk's
    through partial liquidations, the Hyperliquid cooldown and the whole liquidations after them."""
    from tests.desk.test_fast_replay import T0, run_fast, run_step, write_path

    base = tmp_path / "base.db"
    store = Store.open(base)
    with store.transaction():
        accounts = {}
        for venue, name, currency in (("hyperliquid", "hyperliquid:USDC", "USDC"), ("bybit", "bybit:USDT", "USDT"),
                                      ("binance-usdm", "binance-usdm:USDT", "USDT")):
            account = store.create_account(name, venue, currency, ts=T0 - 10)
            store.transfer(Decimal(10_000_000), EXTERNAL, free_ref(account.id), kind="deposit", ts=T0 - 10,
                           account_id=account.id)
            accounts[venue] = account
        for label, venue, symbol, qty, margin in (("whale", "hyperliquid", "BTC", "10", "30000"),
                                                  ("big", "bybit", "BTCUSDT", "40", "120000"),
                                                  ("small", "binance-usdm", "BTCUSDT", "1", "6000")):
            pid = store.insert_position(label=label, account_id=accounts[venue].id, venue=venue, symbol=symbol,
                                        contract="linear", side="long", quantity=Decimal(qty), contract_size=None,
                                        entry_price=Decimal(60_000), leverage=Decimal(20), ts=T0 - 5)
            store.transfer(Decimal(margin), EXTERNAL, position_ref(pid), kind="import", ts=T0 - 5,
                           account_id=accounts[venue].id)
    store.close()
    # a slide from 60,000 to 52,000, 10 per second, then a pause and a further slide
    rows = [(T0 + i, "", "BTCUSDT", round(60_000 - 10 * i, 2)) for i in range(800)]
    a, b = tmp_path / "step.db", tmp_path / "fast.db"
    shutil.copy(base, a)
    shutil.copy(base, b)
    path = tmp_path / "path.csv"
    write_path(path, rows, venue_column=True)
    expected = run_step(a, path, 60.0)
    got, _stats = run_fast(b, path, 60.0)
    assert got[0] == expected[0], "events"
    assert got[1] == expected[1], "book"
    assert got[2] == expected[2], "snapshot"
    messages = [e[8] for e in expected[0] if e[0] == "liquidation"]
    assert any("whale partially liquidated" in m for m in messages)
    assert any("big partially liquidated" in m for m in messages)


def test_status_json_lists_each_positions_ladder(bybit_book, store, capsys):
    import json

    from isodesk.cli import main

    big, small = store.position_by_label("big"), store.position_by_label("small")
    liq = bybit_book.risk_of(big.id)["liquidation_price"]
    assert main(["status", "--db", str(store.path), "--json"]) == 0
    items = {p["label"]: p for p in json.loads(capsys.readouterr().out)["positions"]}
    rungs = items["big"]["ladder"]
    assert len(rungs) == 2
    assert rungs[0]["mark"] == pytest.approx(liq, rel=1e-12)
    assert rungs[0]["removed_frac"] == pytest.approx(1 - 2_000_000 / (50 * liq), rel=1e-12)
    assert rungs[0]["tier"] == 2 and rungs[1]["tier"] == 1 and rungs[1]["removed_frac"] == 1.0
    assert rungs[0]["liquidation_after"] == pytest.approx(rungs[1]["mark"], rel=1e-15)
    assert sum(r["loss"] for r in rungs) == pytest.approx(100_000, rel=1e-12)
    assert [r["removed_frac"] for r in items["small"]["ladder"]] == [1.0]
    assert items["small"]["ladder"][0]["mark"] == pytest.approx(
        bybit_book.risk_of(small.id)["liquidation_price"], rel=1e-12)


def test_the_rest_is_rounded_to_what_a_venue_order_leaves():
    from isodesk.desk.ladder import remaining_quantity

    assert remaining_quantity(Decimal(100), 1 - 0.9000000000000001, inverse=False) == Decimal("10.00000000")
    # 50 × 2,000,000 / 2,412,308.930008 = 41.4540603635…
    assert remaining_quantity(Decimal("50"), 2_000_000 / 2_412_308.930008, inverse=False) == Decimal("41.45406036")
    assert remaining_quantity(Decimal(1000), 0.8, inverse=True) == Decimal(800)
    assert remaining_quantity(Decimal(1001), 0.8, inverse=True) == Decimal(800)  # 800.8 contracts: 800 stay
