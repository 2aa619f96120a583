"""The collateral journal and undo: before/after figures, compensating entries, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.desk import AddCollateral, ClosePosition, RemoveCollateral, UndoAdjustment
from isodesk.store.ledger import position_ref


def test_every_movement_is_journaled_with_before_and_after(two_btc_longs, store, feed, clock):
    desk = two_btc_longs
    loose = store.position_by_label("loose")
    assert desk.apply(AddCollateral(loose.id, Decimal("500"), reason="drifting")).accepted
    entries = store.journal(position_id=loose.id)
    assert [e.kind for e in entries] == ["open", "add"]
    add = entries[-1]
    assert add.amount == Decimal("500") and add.reason == "drifting"
    assert add.before["isolated_margin"] == 2000.0 and add.after["isolated_margin"] == 2500.0
    # Binance single-bracket long: liq = (W − Q·E) / (Q·(mmr − 1))
    assert add.before["liquidation_price"] == pytest.approx((2000 - 6000) / (0.1 * (0.004 - 1)), rel=1e-12)
    assert add.after["liquidation_price"] == pytest.approx((2500 - 6000) / (0.1 * (0.004 - 1)), rel=1e-12)
    assert add.after["effective_leverage"] < add.before["effective_leverage"]
    assert add.ledger_id == store.ledger(position_id=loose.id)[-1].id


def test_undo_reverses_the_last_adjustment_with_a_compensating_entry(two_btc_longs, store):
    desk = two_btc_longs
    loose = store.position_by_label("loose")
    ledger_before = len(store.ledger())
    assert desk.apply(AddCollateral(loose.id, Decimal("250.5"))).accepted
    result = desk.apply(UndoAdjustment(loose.id))
    assert result.accepted, result.reason
    assert store.balance(position_ref(loose.id)) == Decimal("2000")
    ledger = store.ledger()
    assert len(ledger) == ledger_before + 2  # nothing deleted: one entry and its reversal
    assert ledger[-1].reverses == ledger[-2].id and ledger[-1].amount == Decimal("250.5")
    journal = store.journal(position_id=loose.id)
    assert journal[-1].kind == "undo" and journal[-1].undoes == journal[-2].id
    again = desk.apply(UndoAdjustment(loose.id))
    assert not again.accepted and "no collateral adjustment to undo" in again.reason
    assert sum(store.balances().values(), Decimal(0)) == 0


def test_undo_of_a_removal_puts_it_back(two_btc_longs, store, feed, clock):
    desk = two_btc_longs
    loose = store.position_by_label("loose")
    feed.push("BTCUSDT", 70_000.0, clock.advance(1))
    desk.step()
    assert desk.apply(RemoveCollateral(loose.id, Decimal("300"))).accepted
    assert desk.apply(UndoAdjustment(loose.id)).accepted
    assert store.balance(position_ref(loose.id)) == Decimal("2000")


def test_undo_refused_after_liquidation_or_close(two_btc_longs, store, feed, clock):
    desk = two_btc_longs
    tight, loose = store.position_by_label("tight"), store.position_by_label("loose")
    assert desk.apply(AddCollateral(tight.id, Decimal("10"))).accepted
    assert desk.apply(AddCollateral(loose.id, Decimal("10"))).accepted
    feed.push("BTCUSDT", 50_000.0, clock.advance(1))
    desk.step()
    result = desk.apply(UndoAdjustment(tight.id))
    assert not result.accepted and result.reason == ("position 'tight' was liquidated since; its adjustments "
                                                     "cannot be undone")
    assert store.journal(position_id=tight.id)[-1].kind == "liquidation"
    assert desk.apply(ClosePosition(loose.id, price=Decimal("50000"))).accepted
    result = desk.apply(UndoAdjustment(loose.id))
    assert not result.accepted and "was closed since" in result.reason
