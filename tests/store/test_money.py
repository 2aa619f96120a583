"""Money crosses the SQLite boundary exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.store import EXTERNAL, free_ref, position_ref
from isodesk.store.money import from_text, require_positive, to_text

TRICKY = Decimal("0.1000000000000000000001")


def test_text_round_trip_keeps_every_digit_and_the_scale():
    for value in (TRICKY, Decimal("1E+30"), Decimal("0.10"), Decimal("123456789012345678901234567890.5")):
        text = to_text(value)
        assert from_text(text) == value
        assert str(from_text(text)) == str(value)


def test_decimal_round_trip_through_the_database(book):
    store, account, pid = book
    entry = store.transfer(
        TRICKY, free_ref(account.id), position_ref(pid), kind="allocate", ts=4, account_id=account.id
    )
    stored = store.db.execute("SELECT amount, typeof(amount) FROM ledger WHERE id = ?", [entry]).fetchone()
    assert stored == ("0.1000000000000000000001", "text")
    assert store.ledger(position_id=pid)[-1].amount == TRICKY
    assert store.position(pid).isolated_margin == Decimal("1250.6000000000000000000001")
    assert store.free_balance(account.id) == Decimal("8749.3999999999999999999999")


def test_position_fields_round_trip_exactly(store):
    account = store.create_account("coin", "binance-coinm", "BTC", ts=0)
    pid = store.insert_position(
        label="inv",
        account_id=account.id,
        venue="binance-coinm",
        symbol="BTCUSD_PERP",
        contract="inverse",
        side="short",
        quantity=Decimal("7"),
        contract_size=Decimal("100"),
        entry_price=TRICKY,
        leverage=Decimal("12.5"),
        ts=5.0,
        venue_position_id="abc-1",
    )
    store.transfer(Decimal("0.0123"), EXTERNAL, position_ref(pid), kind="import", ts=5, account_id=account.id)
    record = store.position_by_label("inv")
    assert (record.entry_price, record.contract_size, record.leverage) == (TRICKY, Decimal("100"), Decimal("12.5"))
    assert record.isolated_margin == Decimal("0.0123")
    assert record.venue_position_id == "abc-1"


@pytest.mark.parametrize("bad", [0.5, 1, "1", None, True])
def test_require_positive_refuses_non_decimals(bad):
    with pytest.raises(ValueError, match=r"amount must be a decimal\.Decimal"):
        require_positive(bad, "amount")


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_require_positive_refuses_non_finite(bad):
    with pytest.raises(ValueError, match="amount must be finite"):
        require_positive(bad, "amount")
