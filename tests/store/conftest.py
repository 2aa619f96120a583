"""Fixtures for the store tests: a fresh database file per test, and a small funded book."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.store import EXTERNAL, Store, free_ref, position_ref


@pytest.fixture
def store(tmp_path):
    """A freshly created, migrated store on a file in the test's temporary folder."""
    with Store.open(tmp_path / "isodesk.db") as s:
        yield s


@pytest.fixture
def book(store):
    """One Bybit account with 10,000 USDT deposited and one BTC long holding 1,250.5 USDT of margin."""
    account = store.create_account("main", "bybit", "USDT", ts=1_700_000_000.0)
    store.transfer(Decimal("10000"), EXTERNAL, free_ref(account.id), kind="deposit", ts=1.0, account_id=account.id)
    pid = store.insert_position(
        label="btc-long",
        account_id=account.id,
        venue="bybit",
        symbol="BTCUSDT",
        contract="linear",
        side="long",
        quantity=Decimal("0.25"),
        contract_size=None,
        entry_price=Decimal("50012.5"),
        leverage=Decimal("10"),
        ts=2.0,
    )
    store.transfer(
        Decimal("1250.5"), free_ref(account.id), position_ref(pid), kind="allocate", ts=3.0, account_id=account.id
    )
    return store, account, pid
