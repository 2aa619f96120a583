"""Accounts and positions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.store import Account, StoreError, free_ref, pnl_ref, position_ref


def test_accounts_are_created_and_found(store):
    main = store.create_account("main", "binance-usdm", "USDT", ts=1_700_000_000.5)
    coin = store.create_account("coin", "binance-coinm", "BTC", ts=1_700_000_001.0)
    assert main == Account(main.id, "main", "binance-usdm", "USDT", 1_700_000_000.5)
    assert store.account("coin") == coin
    assert store.account_by_id(main.id) == main
    assert store.account("nobody") is None
    assert store.accounts() == [main, coin]
    with pytest.raises(StoreError, match="'main' already exists"):
        store.create_account("main", "bybit", "USDT", ts=0)
    with pytest.raises(ValueError, match="venue must be one of"):
        store.create_account("x", "ftx", "USDT", ts=0)


def test_position_carries_its_margin_from_the_ledger(book):
    store, account, pid = book
    record = store.position(pid)
    assert record.label == "btc-long"
    assert (record.quantity, record.entry_price, record.leverage) == (Decimal("0.25"), Decimal("50012.5"), Decimal(10))
    assert record.isolated_margin == Decimal("1250.5")
    assert (record.status, record.opened_at, record.closed_at, record.close_price) == ("open", 2.0, None, None)
    assert store.position_by_label("btc-long") == record
    assert store.positions() == [record]
    assert store.free_balance(account.id) == Decimal("8749.5")


def test_closing_filters_and_records_the_close(book):
    store, account, pid = book
    with store.transaction():  # the margin leaves first, then the status changes
        store.transfer(
            Decimal("1250.5"), position_ref(pid), free_ref(account.id), kind="release", ts=50, account_id=account.id
        )
        store.transfer(Decimal("246.9375"), pnl_ref(account.id), free_ref(account.id), kind="profit", ts=50,
                       account_id=account.id, position_id=pid)  # fmt: skip
        store.set_position_status(pid, "closed", ts=50.0, close_price=Decimal("51000.25"))
    assert store.positions() == []
    closed = store.positions(("closed",))[0]
    assert (closed.status, closed.closed_at, closed.close_price) == ("closed", 50.0, Decimal("51000.25"))
    assert closed.isolated_margin == 0
    assert store.positions(None) == [closed]
    assert store.free_balance(account.id) == Decimal("10246.9375")
    assert store.realized_loss(account.id) == Decimal("-246.9375")
    with pytest.raises(StoreError, match="already closed"):
        store.set_position_status(pid, "liquidated", ts=51)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"side": "up"}, "side must be one of long, short"),
        ({"contract": "perp"}, "contract must be one of linear, inverse"),
        ({"quantity": Decimal("-1")}, "quantity must be positive"),
        ({"entry_price": 50000.0}, r"entry_price must be a decimal\.Decimal"),
        ({"leverage": Decimal(0)}, "leverage must be positive"),
        ({"contract": "inverse"}, r"contract_size must be a decimal\.Decimal"),
        ({"contract_size": Decimal(100)}, "contract_size applies to inverse contracts only"),
        ({"venue": "okx"}, "is on okx but account 'main' is on bybit"),
        ({"label": "btc-long"}, "'btc-long' already exists"),
    ],
)
def test_insert_position_refuses_bad_fields(book, change, message):
    store, account, _ = book
    fields = dict(
        label="eth", account_id=account.id, venue="bybit", symbol="ETHUSDT", contract="linear", side="long",
        quantity=Decimal("2"), contract_size=None, entry_price=Decimal("3000"), leverage=Decimal("5"), ts=1.0,
    )  # fmt: skip
    with pytest.raises((ValueError, StoreError), match=message):
        store.insert_position(**{**fields, **change})
    assert [p.label for p in store.positions(None)] == ["btc-long"]
