"""The ledger: double entry, append-only, exact, and atomic."""

from __future__ import annotations

import decimal
import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodesk.store import EXTERNAL, LedgerRefused, Store, StoreError, free_ref, parse_ref, pnl_ref, position_ref
from isodesk.store.ledger import EXACT


def test_refs_parse_and_refuse_garbage():
    assert parse_ref(free_ref(3)) == ("free", 3)
    assert parse_ref(position_ref(12)) == ("position", 12)
    assert parse_ref(pnl_ref(3)) == ("pnl", 3)
    assert parse_ref(EXTERNAL) == ("external", None)
    for bad in ("free", "free:", "free:x", "free:-1", "free:01", "margin:1", "position:1.0", ""):
        with pytest.raises(ValueError, match="ledger ref"):
            parse_ref(bad)


def test_balances_of_a_small_book(book):
    store, account, pid = book
    store.transfer(Decimal("300.25"), position_ref(pid), pnl_ref(account.id), kind="loss", ts=4, account_id=account.id)
    assert store.balances() == {
        EXTERNAL: Decimal("-10000"),
        free_ref(account.id): Decimal("8749.5"),
        position_ref(pid): Decimal("950.25"),
        pnl_ref(account.id): Decimal("300.25"),
    }
    assert store.realized_loss(account.id) == Decimal("300.25")
    assert sum(store.balances().values()) == 0
    entries = store.ledger(account_id=account.id)
    assert [e.kind for e in entries] == ["deposit", "allocate", "loss"]
    assert entries[2].position_id == pid  # taken from the position ref


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (Decimal("0"), "amount must be positive"),
        (Decimal("-5"), "amount must be positive"),
        (5.0, r"amount must be a decimal\.Decimal"),
        (5, r"amount must be a decimal\.Decimal"),
        (Decimal("NaN"), "amount must be finite"),
    ],
)
def test_transfer_rejects_bad_amounts(book, amount, message):
    store, account, _ = book
    before = store.ledger()
    with pytest.raises(ValueError, match=message):
        store.transfer(amount, EXTERNAL, free_ref(account.id), kind="deposit", ts=9, account_id=account.id)
    assert store.ledger() == before


def test_transfer_rejects_refs_of_another_account(book):
    store, account, pid = book
    other = store.create_account("other", "bybit", "USDT", ts=0)
    with pytest.raises(ValueError, match="belongs to another account"):
        store.transfer(Decimal(1), free_ref(account.id), position_ref(pid), kind="x", ts=1, account_id=other.id)
    with pytest.raises(ValueError, match="same ref"):
        store.transfer(Decimal(1), free_ref(account.id), free_ref(account.id), kind="x", ts=1, account_id=account.id)


def test_no_margin_enters_a_closed_position(book):
    store, account, pid = book
    store.transfer(Decimal("1250.5"), position_ref(pid), pnl_ref(account.id), kind="liquidation", ts=10,
                   account_id=account.id)  # fmt: skip
    store.set_position_status(pid, "liquidated", ts=10, close_price=Decimal("45100"))
    with pytest.raises(StoreError, match=r"position:1 \(btc-long\) is liquidated; it takes no more margin"):
        store.transfer(Decimal(10), free_ref(account.id), position_ref(pid), kind="topup", ts=11, account_id=account.id)
    assert store.position(pid).isolated_margin == 0


def test_reversal_must_mirror_the_original_once(book):
    store, account, _ = book
    deposit = store.ledger(account_id=account.id)[0]
    store.transfer(Decimal("1250.5"), EXTERNAL, free_ref(account.id), kind="deposit", ts=4, account_id=account.id)
    with pytest.raises(ValueError, match="same amount back"):
        store.transfer(Decimal("1"), free_ref(account.id), EXTERNAL, kind="reversal", ts=5, account_id=account.id,
                       reverses=deposit.id)  # fmt: skip
    store.transfer(Decimal("10000"), free_ref(account.id), EXTERNAL, kind="reversal", ts=5, account_id=account.id,
                   reverses=deposit.id)  # fmt: skip
    with pytest.raises(StoreError, match="already reversed"):
        store.transfer(Decimal("10000"), free_ref(account.id), EXTERNAL, kind="reversal", ts=6,
                       account_id=account.id, reverses=deposit.id)  # fmt: skip


def test_ledger_rows_cannot_be_updated_or_deleted(book):
    store, _, _ = book
    with pytest.raises(sqlite3.IntegrityError, match="append-only: entries cannot be updated"):
        store.db.execute("UPDATE ledger SET amount = '1' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only: entries cannot be deleted"):
        store.db.execute("DELETE FROM ledger")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.db["ledger"].delete(1)
    assert [e.amount for e in store.ledger()] == [Decimal("10000"), Decimal("1250.5")]


def test_an_exception_between_two_transfers_leaves_neither(book):
    store, account, pid = book
    before = (store.ledger(), store.balances())
    with pytest.raises(RuntimeError, match="crash"), store.transaction():
        store.transfer(Decimal("100"), free_ref(account.id), position_ref(pid), kind="a", ts=7, account_id=account.id)
        assert store.free_balance(account.id) == Decimal("8649.5")  # visible inside the transaction
        raise RuntimeError("crash")
    assert (store.ledger(), store.balances()) == before
    assert not store.db.conn.in_transaction


def test_a_failing_second_transfer_undoes_the_first(book):
    store, account, pid = book
    before = store.balances()
    with pytest.raises(ValueError, match="amount must be positive"), store.transaction():
        store.transfer(Decimal("100"), free_ref(account.id), position_ref(pid), kind="a", ts=7, account_id=account.id)
        store.transfer(Decimal("-1"), position_ref(pid), pnl_ref(account.id), kind="b", ts=7, account_id=account.id)
    assert store.balances() == before


def test_nested_transactions_join_the_outer_one(book):
    store, account, pid = book
    with store.transaction():
        with pytest.raises(RuntimeError), store.transaction():
            store.transfer(Decimal("1"), free_ref(account.id), position_ref(pid), kind="a", ts=7, account_id=account.id)
            raise RuntimeError("inner fails")
        store.transfer(Decimal("2"), free_ref(account.id), position_ref(pid), kind="b", ts=8, account_id=account.id)
    assert [e.kind for e in store.ledger()][-1:] == ["b"]
    assert store.position(pid).isolated_margin == Decimal("1252.5")


# A long series of odd-sized transfers between the refs of two accounts, against a Decimal model.

AMOUNTS = st.builds(
    lambda mantissa, exponent: Decimal(mantissa).scaleb(exponent),
    st.integers(min_value=1, max_value=10**22),
    st.integers(min_value=-24, max_value=6),
)
# Refs per account: index 0 = external, 1 = free, 2 = position, 3 = pnl.
MOVES = st.lists(
    st.tuples(st.sampled_from([1, 2]), st.integers(0, 3), st.integers(0, 3), AMOUNTS).filter(lambda m: m[1] != m[2]),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(moves=MOVES)
def test_balances_match_a_decimal_model_and_sum_to_zero(moves):
    with Store.open(":memory:") as store:
        refs_of = {}
        for name in ("a", "b"):
            account = store.create_account(name, "okx", "USDT", ts=0)
            pid = store.insert_position(
                label=f"{name}-pos", account_id=account.id, venue="okx", symbol="ETH-USDT-SWAP", contract="linear",
                side="short", quantity=Decimal("3"), contract_size=None, entry_price=Decimal("3000"),
                leverage=Decimal("5"), ts=0,
            )  # fmt: skip
            refs_of[account.id] = [EXTERNAL, free_ref(account.id), position_ref(pid), pnl_ref(account.id)]
        model: dict[str, Decimal] = {}
        for step, (account_id, src, dst, amount) in enumerate(moves):
            source, dest = refs_of[account_id][src], refs_of[account_id][dst]
            if src in (1, 2) and model.get(source, Decimal(0)) < amount:  # free and margin never go below 0
                with pytest.raises(LedgerRefused, match="never goes below 0"):
                    store.transfer(amount, source, dest, kind="move", ts=float(step), account_id=account_id)
                continue
            store.transfer(amount, source, dest, kind="move", ts=float(step), account_id=account_id)
            with decimal.localcontext(EXACT):  # the model must not round either
                model[source] = model.get(source, Decimal(0)) - amount
                model[dest] = model.get(dest, Decimal(0)) + amount
        balances = store.balances()
        assert balances == model
        with decimal.localcontext(EXACT):
            assert sum(balances.values(), Decimal(0)) == 0
        for ref, expected in model.items():
            assert store.balance(ref) == expected
        for record in store.positions():
            assert record.isolated_margin == model.get(position_ref(record.id), Decimal(0))


def test_balances_keep_more_digits_than_the_default_context(book):
    # 28 significant digits is Decimal's default precision; 8749.5 − 1E-30 needs 35.
    store, account, pid = book
    tiny = Decimal("1E-30")
    store.transfer(tiny, free_ref(account.id), position_ref(pid), kind="dust", ts=9, account_id=account.id)
    assert store.free_balance(account.id) == Decimal("8749.499999999999999999999999999999")
    assert store.position(pid).isolated_margin == Decimal("1250.500000000000000000000000000001")
    with decimal.localcontext(EXACT):
        assert sum(store.balances().values()) == 0
