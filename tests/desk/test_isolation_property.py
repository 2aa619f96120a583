"""Property: a liquidation changes nothing but the liquidated position, over random books and paths."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk import Deposit, Desk, EventKind, OpenPosition
from isodesk.desk.setup import shipped_catalog
from isodesk.store import Store
from isodesk.store.ledger import position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed

CATALOG = shipped_catalog()
STATS = {"liquidations": 0}
MARKETS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0}

position_st = st.tuples(
    st.sampled_from(sorted(MARKETS)),
    st.sampled_from(["long", "short"]),
    st.integers(2, 25),                       # leverage
    st.floats(500.0, 20_000.0),               # notional in USDT
    st.floats(1.0, 1.6),                      # extra margin factor
)
path_st = st.lists(st.tuples(st.sampled_from(sorted(MARKETS)), st.floats(0.85, 1.15)), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(position_st, min_size=2, max_size=8), path_st)
def test_each_liquidation_touches_only_its_own_position(book, path):
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "p.db")
        clock, feed = ManualClock(), ScriptedFeed()
        desk = Desk(store, feed, catalog=CATALOG, clock=clock)
        for market, price in MARKETS.items():
            feed.push(market, price, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("1000000"), account="binance-usdm:USDT")).accepted
        for i, (market, side, lev, notional, extra) in enumerate(book):
            price = MARKETS[market]
            qty = (Decimal(repr(notional)) / Decimal(repr(price))).quantize(Decimal("0.001"))
            margin = (qty * Decimal(repr(price)) / lev * Decimal(repr(extra))).quantize(Decimal("0.01"))
            desk.apply(OpenPosition(label=f"p{i}", venue="binance-usdm", symbol=market, side=side, quantity=qty,
                                    entry_price=Decimal(repr(price)), leverage=Decimal(lev), margin=margin))
        desk.drain_events()
        prices = dict(MARKETS)
        for market, factor in path:
            prices[market] *= factor
            before = {p.id: (p.status, store.balance(position_ref(p.id))) for p in store.positions(None)}
            free_before = store.free_balance(store.accounts()[0].id)
            feed.push(market, prices[market], clock.advance(1))
            desk.step()
            liquidated = {e.position_id for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION}
            STATS["liquidations"] += len(liquidated)
            for p in store.positions(None):
                if p.id in liquidated:
                    assert before[p.id][0] == "open" and p.status == "liquidated"
                    assert store.balance(position_ref(p.id)) == 0
                    # it was liquidated because its mark crossed its own liquidation price
                    row = desk.snapshot.book.row_of(p.id)
                    assert desk.snapshot.cols["distance_frac"][row] <= 0
                else:
                    assert (p.status, store.balance(position_ref(p.id))) == before[p.id]
            assert store.free_balance(store.accounts()[0].id) == free_before
            assert sum(store.balances().values(), Decimal(0)) == 0
            # no open position is left beyond its liquidation price on a fresh mark
            snap = desk.snapshot
            open_rows = [i for i, s in enumerate(snap.book.statuses) if s == "open"]
            assert all(snap.cols["distance_frac"][i] > 0 or snap.cols["distance_frac"][i] != snap.cols[
                "distance_frac"][i] for i in open_rows)
        store.close()


def test_the_property_saw_liquidations():
    """Guards the property above against passing vacuously."""
    if STATS["liquidations"] == 0:  # run alone: exercise the property here
        test_each_liquidation_touches_only_its_own_position()
    assert STATS["liquidations"] > 0
