"""Partial close through the desk, checked through the ledger with figures computed here by hand.

A close of ``q`` of a position of ``Q`` holding margin ``M`` at price ``P``:
released = M·q/Q rounded down to 0.00000001; PnL = s·q·(P − E) (linear) or s·q·size·(1/E − 1/P)
(inverse); the account books the PnL, a loss capped at the released margin; the position keeps
Q − q at the same entry; the ledger sums to 0.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest

from isodesk.desk import Deposit, OpenPosition
from isodesk.desk.book import read_book
from isodesk.desk.commands import ClosePosition, CloseReport
from isodesk.desk.registry import decode, encode
from isodesk.store.ledger import position_ref

SAT = Decimal("0.00000001")


def ledger_total(store) -> Decimal:
    return sum(store.balances().values(), Decimal(0))


@pytest.fixture
def long_03(make_desk, feed, clock):
    """A desk with 10,000 USDT and a Binance BTCUSDT long of 0.3 at 60,000, 10×, margin 2,000."""
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    result = desk.apply(OpenPosition(label="core", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                     quantity=Decimal("0.3"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                     margin=Decimal("2000")))
    assert result.accepted, result.reason
    return desk, result.position_id


def test_a_partial_close_at_a_profit_books_its_pnl_and_releases_its_share_of_margin(long_03, store):
    desk, pid = long_03
    account = store.position(pid).account_id
    free = store.free_balance(account)
    assert free == Decimal("8000")
    result = desk.apply(ClosePosition(pid, price=Decimal("61000"), quantity=Decimal("0.1")))
    assert result.accepted, result.reason
    # by hand: a third of 2,000 released (rounded down to the satoshi), PnL 0.1 × (61,000 − 60,000) = 100
    released = Decimal("666.66666666")
    assert store.free_balance(account) == Decimal("8000") + released + Decimal("100")
    assert store.balance(position_ref(pid)) == Decimal("2000") - released == Decimal("1333.33333334")
    assert store.realized_loss(account) == Decimal("-100")  # the pnl ref paid the profit out
    held = store.position(pid)
    assert (held.status, held.quantity, held.entry_price, held.leverage) == ("open", Decimal("0.2"),
                                                                             Decimal("60000"), Decimal("10"))
    assert ledger_total(store) == 0
    # the desk's answer: the figures, typed, and in its sentence
    report = result.payload
    assert isinstance(report, CloseReport) and report.partial
    assert (report.quantity, report.price, report.realized_pnl, report.margin_released, report.remaining,
            report.currency) == (Decimal("0.1"), Decimal("61000"), Decimal("100"), released, Decimal("0.2"), "USDT")
    assert result.reason == "closed 0.1 of core at 61000: realized +100 USDT; 0.2 stay open"
    # the journal keeps the realized PnL and the quantity in their own columns
    entry = store.journal(position_id=pid)[-1]
    assert (entry.kind, entry.amount, entry.realized_pnl, entry.closed_quantity) == ("close", released,
                                                                                    Decimal("100"), Decimal("0.1"))
    assert entry.after["isolated_margin"] == pytest.approx(1333.33333334)
    # the book follows: the desk shows 0.2 held with the margin left
    row = desk.snapshot.book.row_of(pid)
    assert desk.snapshot.cols["quantity"][row] == 0.2
    assert desk.snapshot.cols["isolated_margin"][row] == pytest.approx(1333.33333334)


def test_a_loss_beyond_the_released_margin_is_capped_and_the_rest_stays_open(long_03, store):
    desk, pid = long_03
    account = store.position(pid).account_id
    result = desk.apply(ClosePosition(pid, price=Decimal("40000"), quantity=Decimal("0.1")))
    assert result.accepted, result.reason
    # PnL 0.1 × (40,000 − 60,000) = −2,000, more than the 666.66666666 released: the loss is the margin released
    released = Decimal("666.66666666")
    assert store.free_balance(account) == Decimal("8000")
    assert store.realized_loss(account) == released
    assert store.balance(position_ref(pid)) == Decimal("1333.33333334")
    assert result.payload.realized_pnl == -released
    assert "capped at the 666.66666666 margin released" in result.reason
    assert store.journal(position_id=pid)[-1].realized_pnl == -released
    assert ledger_total(store) == 0


def test_closing_the_rest_closes_the_position_and_a_quantity_beyond_it_is_refused(long_03, store):
    desk, pid = long_03
    account = store.position(pid).account_id
    assert desk.apply(ClosePosition(pid, price=Decimal("61000"), quantity=Decimal("0.1"))).accepted
    entries = len(store.ledger())
    refused = desk.apply(ClosePosition(pid, price=Decimal("61000"), quantity=Decimal("0.3")))
    assert not refused.accepted
    assert refused.reason == "quantity: 0.3 is more than the position's 0.2; close at most all of it"
    for bad, why in ((Decimal("0"), "quantity: 0 must be greater than 0"),
                     (Decimal("0.000000001"), "more than 8 decimal places"),
                     (0.1, "quantity: 0.1 must be an exact decimal")):
        answer = desk.apply(ClosePosition(pid, price=Decimal("61000"), quantity=bad))
        assert not answer.accepted and why in answer.reason
    assert len(store.ledger()) == entries  # nothing written by a refusal
    result = desk.apply(ClosePosition(pid, price=Decimal("59000"), quantity=Decimal("0.2")))
    assert result.accepted, result.reason
    # the rest: 0.2 × (59,000 − 60,000) = −200 against the 1,333.33333334 left
    assert result.payload.remaining == 0 and not result.payload.partial
    assert store.position(pid).status == "closed"
    assert store.balance(position_ref(pid)) == 0
    assert store.free_balance(account) == (Decimal("8000") + Decimal("666.66666666") + Decimal("100")
                                           + Decimal("1333.33333334") - Decimal("200"))
    assert ledger_total(store) == 0


def test_a_short_partial_close(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("ETHUSDT", 3_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("5000"), account="binance-usdm:USDT")).accepted
    opened = desk.apply(OpenPosition(label="eth-s", venue="binance-usdm", symbol="ETHUSDT", side="short",
                                     quantity=Decimal("3"), entry_price=Decimal("3100"), leverage=Decimal("5"),
                                     margin=Decimal("1900")))
    assert opened.accepted, opened.reason
    result = desk.apply(ClosePosition(opened.position_id, price=Decimal("2950.5"), quantity=Decimal("1.25")))
    assert result.accepted, result.reason
    released = (Decimal("1900") * Decimal("1.25") / Decimal("3")).quantize(SAT, rounding=ROUND_DOWN)
    assert released == Decimal("791.66666666")
    pnl = -Decimal("1.25") * (Decimal("2950.5") - Decimal("3100"))  # a short gains as the price falls
    assert pnl == Decimal("186.875")
    assert result.payload.realized_pnl == pnl
    assert store.free_balance(store.position(opened.position_id).account_id) == Decimal("3100") + released + pnl
    assert store.position(opened.position_id).quantity == Decimal("1.75")
    assert ledger_total(store) == 0


def test_an_inverse_partial_close_counts_in_coins(make_desk, feed, clock, store):
    desk = make_desk()
    feed.push("BTCUSD", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("1"), account="bybit:BTC")).accepted
    opened = desk.apply(OpenPosition(label="inv", venue="bybit", symbol="BTCUSD", side="long",
                                     quantity=Decimal("30000"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                     margin=Decimal("0.1")))
    assert opened.accepted, opened.reason
    pid = opened.position_id
    assert store.position(pid).contract_size == Decimal("1")  # Bybit BTCUSD: 1 USD a contract
    result = desk.apply(ClosePosition(pid, price=Decimal("66000"), quantity=Decimal("10000")))
    assert result.accepted, result.reason
    # by hand, in exact fractions: 10,000 contracts × 1 USD × (1/60,000 − 1/66,000) BTC
    exact = Fraction(10000) * (Fraction(1, 60000) - Fraction(1, 66000))
    pnl = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(SAT, rounding=ROUND_HALF_EVEN)
    assert pnl == Decimal("0.01515152")
    released = Decimal("0.03333333")  # 0.1 × 10,000/30,000, rounded down
    assert result.payload.realized_pnl == pnl and result.payload.margin_released == released
    assert store.free_balance(store.position(pid).account_id) == Decimal("0.9") + released + pnl
    assert store.balance(position_ref(pid)) == Decimal("0.1") - released
    assert store.position(pid).quantity == Decimal("20000")
    assert result.reason == f"closed 10000 contracts of inv at 66000: realized +{pnl} BTC; 20000 contracts stay open"
    assert ledger_total(store) == 0


def test_a_queued_partial_close_keeps_its_exact_quantity():
    command = ClosePosition(7, price=Decimal("61000.5"), quantity=Decimal("0.12345678"))
    kind, body = encode(command)
    assert body["quantity"] == "0.12345678"
    assert decode(kind, body) == command
    whole = ClosePosition(7)
    assert decode(*encode(whole)) == whole


def test_closed_positions_stay_in_the_book_frozen_and_never_open(long_03, store, catalog, feed, clock):
    desk, pid = long_03
    assert desk.apply(ClosePosition(pid, price=Decimal("61000"))).accepted
    book = desk.book
    row = book.row_of(pid)
    assert row is not None and book.info.statuses[row] == "closed" and not book.open_rows[row]
    assert book.margins[row] == Decimal("2000")  # what it held when it was closed
    alerts = len(store.alerts())
    feed.push("BTCUSDT", 1_000.0, clock.advance(1))  # a crash: a closed row is never liquidated
    snap = desk.step()
    assert snap.cols["mark"][row] == 61_000.0  # frozen at its close price
    assert store.position(pid).status == "closed"
    assert all(a.position_id != pid for a in store.alerts()[: len(store.alerts()) - alerts])
    # only the most recent closes are kept
    assert len(read_book(store, catalog, recent_closed=0)) == 0
    assert len(read_book(store, catalog, recent_closed=1)) == 1
