"""Adding size to an open position through the desk, checked with figures worked here by hand.

Bybit's "How to Calculate Average Entry Price" (help centre 000001113): linear, 1 at 10,000 then 2 at
13,000 → (1×10,000 + 2×13,000) / 3 = 12,000; inverse, 50 contracts at 10,000 then 50 at 15,000 →
100 / (50/10,000 + 50/15,000) = 12,000. The added part brings its initial margin (notional ÷
leverage) from the free balance; the ledger sums to zero; nothing else moves.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from isodesk.desk import Deposit, OpenPosition
from isodesk.desk.increase import IncreasePosition, increase_figures
from isodesk.desk.registry import decode, encode
from isodesk.margin import compute_one
from isodesk.store.ledger import position_ref


def ledger_total(store) -> Decimal:
    return sum(store.balances().values(), Decimal(0))


@pytest.fixture
def long_1(make_desk, feed, clock):
    """10,000 USDT free, a Bybit BTCUSDT long of 1 at 10,000, 10×, margin 1,000, and a second
    position that must never move."""
    desk = make_desk()
    feed.push("BTCUSDT", 13_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="bybit:USDT")).accepted
    ids = []
    for label, qty in (("core", "1"), ("other", "0.5")):
        result = desk.apply(OpenPosition(label=label, venue="bybit", symbol="BTCUSDT", side="long",
                                         quantity=Decimal(qty), entry_price=Decimal("10000"),
                                         leverage=Decimal("10"), margin=Decimal("1000")))
        assert result.accepted, result.reason
        ids.append(result.position_id)
    return desk, ids[0], ids[1]


def test_bybit_worked_examples_of_the_average_entry(store, long_1):
    _, pid, _ = long_1
    record = store.position(pid)
    grown = increase_figures(record, Decimal("2"), Decimal("13000"))
    assert (grown.quantity, grown.entry_price) == (Decimal("3"), Decimal("12000"))
    assert grown.initial_margin == Decimal("2600")  # 2 × 13,000 ÷ 10
    from dataclasses import replace

    inverse = replace(record, contract="inverse", contract_size=Decimal("1"), quantity=Decimal("50"),
                      entry_price=Decimal("10000"))
    grown = increase_figures(inverse, Decimal("50"), Decimal("15000"))
    assert (grown.quantity, grown.entry_price) == (Decimal("100"), Decimal("12000"))
    assert grown.initial_margin == (Decimal("50") / Decimal("15000") / Decimal("10")).quantize(Decimal("1E-8"))


def test_an_increase_at_a_price_moves_the_added_initial_margin_and_averages_the_entry(store, long_1):
    desk, pid, other = long_1
    account = store.position(pid).account_id
    free = store.free_balance(account)
    other_before = (store.position(other), store.balance(position_ref(other)))
    result = desk.apply(IncreasePosition(pid, quantity=Decimal("2"), price=Decimal("13000")))
    assert result.accepted, result.reason
    held = store.position(pid)
    assert (held.status, held.quantity, held.entry_price, held.leverage) == ("open", Decimal("3"),
                                                                             Decimal("12000"), Decimal("10"))
    assert store.balance(position_ref(pid)) == Decimal("1000") + Decimal("2600")
    assert store.free_balance(account) == free - Decimal("2600")
    assert (store.position(other), store.balance(position_ref(other))) == other_before
    assert ledger_total(store) == 0
    (entry,) = [e for e in store.journal(position_id=pid) if e.kind == "increase"]
    assert entry.amount == Decimal("2600") and entry.reason == "added 2 at 13000"
    assert entry.before["isolated_margin"] == 1000.0 and entry.after["isolated_margin"] == 3600.0
    # the desk's book follows at once: the liquidation price is the engine's on the new terms
    snap = desk.step()
    row = snap.book.row_of(pid)
    from isodesk.desk.book import engine_position

    expected = compute_one(engine_position(held, desk.catalog, Decimal("3600")), 13_000.0).liquidation_price
    assert snap.cols["liquidation_price"][row] == pytest.approx(expected, rel=1e-12)
    assert snap.cols["quantity"][row] == 3.0 and snap.cols["entry_price"][row] == 12_000.0
    assert "size 1 → 3" in result.reason and "entry 10,000.00 → 12,000.00" in result.reason
    assert "+2600 USDT" in result.reason and "liquidation price" in result.reason


def test_without_a_price_the_fill_is_the_fresh_mark_and_a_given_margin_may_be_more(store, long_1, feed, clock):
    desk, pid, _ = long_1
    clock.advance(1)
    feed.push("BTCUSDT", 11_000.0, clock.now)
    desk.step()
    result = desk.apply(IncreasePosition(pid, quantity=Decimal("1"), margin=Decimal("1500")))
    assert result.accepted, result.reason
    assert store.position(pid).entry_price == Decimal("10500")  # (10,000 + 11,000) / 2
    assert store.balance(position_ref(pid)) == Decimal("2500")


def test_an_inverse_increase_averages_harmonically_in_coin(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("BTCUSD", 15_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("1"), account="bybit:BTC")).accepted
    opened = desk.apply(OpenPosition(label="inv", venue="bybit", symbol="BTCUSD", side="long",
                                     quantity=Decimal("50"), entry_price=Decimal("10000"), leverage=Decimal("5"),
                                     margin=Decimal("0.001")))
    assert opened.accepted, opened.reason
    pid = opened.position_id
    result = desk.apply(IncreasePosition(pid, quantity=Decimal("25"), price=Decimal("15000")))
    assert result.accepted, result.reason
    exact = Fraction(75) / (Fraction(50, 10000) + Fraction(25, 15000))
    assert store.position(pid).entry_price == (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("1E-12"))
    assert store.position(pid).entry_price == Decimal("11250")
    added = (Decimal(25) / Decimal(15000) / Decimal(5)).quantize(Decimal("1E-8"))
    assert store.balance(position_ref(pid)) == Decimal("0.001") + added
    assert "25 contracts" in result.reason and "BTC" in result.reason
    assert ledger_total(store) == 0


@pytest.mark.parametrize(("command", "reason"), [
    (dict(quantity=Decimal("-1"), price=Decimal("13000")), "quantity: "),
    (dict(quantity=Decimal("1"), price=Decimal("30000")), "price: 30000 is 131 % away from the mark 13,000; a fill "
                                                          "price must be within 50 % of it"),
    (dict(quantity=Decimal("1"), price=Decimal("13000"), margin=Decimal("100")),
     "margin: 100 is below the initial margin 1300 USDT that 10× leverage needs for the added 1"),
    (dict(quantity=Decimal("10"), price=Decimal("13000")),
     "margin: 13000 USDT is more than the free balance 8000 of bybit:USDT"),
])
def test_refusals_name_the_field_and_write_nothing(store, long_1, command, reason):
    desk, pid, _ = long_1
    before = (store.position(pid), store.balances(), len(store.journal()))
    result = desk.apply(IncreasePosition(pid, **command))
    assert not result.accepted
    assert result.reason.startswith(reason), result.reason
    assert (store.position(pid), store.balances(), len(store.journal())) == before


def test_no_fresh_mark_needs_a_price_and_a_closed_position_grows_no_more(store, long_1, feed, clock):
    desk, pid, other = long_1
    clock.advance(10_000)  # the mark goes stale
    desk.step()
    result = desk.apply(IncreasePosition(pid, quantity=Decimal("1")))
    assert not result.accepted and result.reason == "price: no fresh mark for BTCUSDT; give the fill price"
    from isodesk.desk.commands import ClosePosition

    assert desk.apply(ClosePosition(other, price=Decimal("13000"))).accepted
    result = desk.apply(IncreasePosition(other, quantity=Decimal("1"), price=Decimal("13000")))
    assert not result.accepted and "was closed" in result.reason


def test_a_size_that_would_be_liquidated_at_once_is_refused(make_desk, feed, clock, store):
    """A short added far below the mark: the averaged entry puts the liquidation price under the mark."""
    desk = make_desk()
    feed.push("BTCUSDT", 10_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("100000"), account="bybit:USDT")).accepted
    opened = desk.apply(OpenPosition(label="s", venue="bybit", symbol="BTCUSDT", side="short", quantity=Decimal("1"),
                                     entry_price=Decimal("10000"), leverage=Decimal("20"), margin=Decimal("500")))
    assert opened.accepted, opened.reason
    before = store.balances()
    # 10 more sold at 5,500 with 20× margin: entry ≈ 5,909, liquidation ≈ 6,175, below the mark 10,000
    result = desk.apply(IncreasePosition(opened.position_id, quantity=Decimal("10"), price=Decimal("5500")))
    assert not result.accepted
    assert result.reason.startswith("the position would be liquidated at once: mark 10,000 is past its new "
                                    "liquidation price")
    assert store.balances() == before


def test_a_queued_increase_keeps_its_exact_figures():
    command = IncreasePosition(7, quantity=Decimal("0.12345678"), price=Decimal("61000.5"), margin=Decimal("1.5"))
    kind, body = encode(command)
    assert (kind, body["quantity"], body["margin"]) == ("IncreasePosition", "0.12345678", "1.5")
    assert decode(kind, body) == command
    bare = IncreasePosition(7, quantity=Decimal(1))
    assert decode(*encode(bare)) == bare
