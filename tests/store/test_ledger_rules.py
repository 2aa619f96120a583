"""The ledger defends itself (finding 3): below every check of the desk, in the movement's transaction.

Each race is played by two ``Store`` objects on one file, as two processes (or a desk and a stale
snapshot) would: each reads, then moves collateral on what it read.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from isodesk.store import EXTERNAL, LedgerRefused, Store, free_ref, pnl_ref, position_ref
from isodesk.store.integrity import check_book
from isodesk.store.store import CHECKPOINT_EVERY


def _book(path, margin: Decimal) -> tuple[int, int]:
    """A book at ``path``: account 'main' with 50,000 USDT, position 'btc' holding ``margin``."""
    with Store.open(path) as store:
        account = store.create_account("main", "binance-usdm", "USDT", ts=1.0)
        store.transfer(Decimal(50000), EXTERNAL, free_ref(account.id), kind="deposit", ts=1.0, account_id=account.id)
        pid = store.insert_position(label="btc", account_id=account.id, venue="binance-usdm", symbol="BTCUSDT",
                                    contract="linear", side="long", quantity=Decimal("1"), contract_size=None,
                                    entry_price=Decimal(60000), leverage=Decimal(10), ts=2.0)
        store.transfer(margin, free_ref(account.id), position_ref(pid), kind="open", ts=2.0, account_id=account.id)
        return account.id, pid


@pytest.fixture
def two(tmp_path):
    """Two stores on one file (a desk and another process), closed after the test."""
    path = tmp_path / "book.db"
    stores: list[Store] = []

    def make(margin: Decimal) -> tuple[Store, Store, int, int]:
        account, pid = _book(path, margin)
        stores.extend([Store.open(path), Store.open(path)])
        return stores[0], stores[1], account, pid

    yield make
    for store in stores:
        store.close()


def test_two_removals_checked_against_the_same_margin_cannot_both_pass(two):
    """Finding 3: two removals of 19,999.99 both passed a 20,000 limit (margin 40,000 → 0.02)."""
    a, b, account, pid = two(Decimal(40000))
    seen_a = a.position(pid).isolated_margin  # each reads the margin and checks its limit (half of it)
    seen_b = b.position(pid).isolated_margin
    amount = Decimal("19999.99")
    assert amount <= seen_a / 2 and amount <= seen_b / 2
    a.transfer(amount, position_ref(pid), free_ref(account), kind="remove_margin", ts=3.0, account_id=account,
               expected_source_balance=seen_a)
    with pytest.raises(LedgerRefused, match=r"refused: position:1 \(btc\) holds 20000\.01, not the 40000 this "
                                            r"movement of 19999\.99 was decided on; the book changed") as refused:
        b.transfer(amount, position_ref(pid), free_ref(account), kind="remove_margin", ts=3.0, account_id=account,
                   expected_source_balance=seen_b)
    assert (refused.value.ref, refused.value.balance, refused.value.amount) == (
        "position:1", Decimal("20000.01"), amount)
    assert b.position(pid).isolated_margin == Decimal("20000.01")
    assert check_book(a.path).ok


def test_a_stale_liquidation_cannot_take_more_than_the_position_holds(two):
    """Finding 3: a stale liquidation moved 4,000 out of a position that held 3,000.01 (negative)."""
    desk, other, account, pid = two(Decimal(4000))
    stale = desk.position(pid).isolated_margin
    other.transfer(Decimal("999.99"), position_ref(pid), free_ref(account), kind="remove_margin", ts=3.0,
                   account_id=account)
    refusal = (r"refused: position:1 \(btc\) holds 3000\.01; moving 4000 out of it would leave -999\.99, and a "
               r"position's margin never goes below 0")
    with pytest.raises(LedgerRefused, match=refusal), desk.transaction():
        desk.transfer(stale, position_ref(pid), pnl_ref(account), kind="liquidation", ts=4.0, account_id=account)
        desk.set_position_status(pid, "liquidated", ts=4.0, close_price=Decimal(54000))
    record = desk.position(pid)
    assert (record.status, record.isolated_margin) == ("open", Decimal("3000.01"))


def test_a_liquidation_that_missed_an_add_leaves_nothing_stuck(two):
    """Finding 3: after an add, 1,000 stayed stuck in a liquidated position."""
    desk, other, account, pid = two(Decimal(3000))
    stale = desk.position(pid).isolated_margin
    other.transfer(Decimal(1000), free_ref(account), position_ref(pid), kind="add_margin", ts=3.0, account_id=account)
    refusal = (r"refused: position:1 \(btc\) still holds 1000 of margin; move all of it out \(to pnl: or free:\) "
               r"before marking it liquidated")
    # the order the store requires: all the margin out, then the status
    with pytest.raises(LedgerRefused, match=refusal), desk.transaction():
        desk.transfer(stale, position_ref(pid), pnl_ref(account), kind="liquidation", ts=4.0, account_id=account)
        desk.set_position_status(pid, "liquidated", ts=4.0, close_price=Decimal(54000))
    record = desk.position(pid)
    assert (record.status, record.isolated_margin) == ("open", Decimal(4000))
    # the stale amount is also refused up front when the caller says what it read
    with pytest.raises(LedgerRefused, match=r"holds 4000, not the 3000 this movement of 3000"):
        desk.transfer(stale, position_ref(pid), pnl_ref(account), kind="liquidation", ts=4.0, account_id=account,
                      expected_source_balance=stale)


def test_setting_the_status_first_leaves_the_margin_unmovable(two):
    """The old order (status, then margin) is refused: margin cannot leave a position that is not open."""
    desk, _, account, pid = two(Decimal(3000))
    with pytest.raises(LedgerRefused, match=r"still holds 3000 of margin"):
        desk.set_position_status(pid, "closed", ts=4.0, close_price=Decimal(61000))
    with desk.transaction():
        desk.transfer(Decimal(3000), position_ref(pid), free_ref(account), kind="close", ts=4.0, account_id=account)
        desk.set_position_status(pid, "closed", ts=4.0, close_price=Decimal(61000))
    raw = sqlite3.connect(desk.path)  # margin put back behind the store's back (an old book)
    raw.execute("INSERT INTO ledger (ts, kind, amount, source, dest, account_id, position_id) "
                "VALUES (5, 'x', '7', 'external', 'position:1', 1, 1)")
    raw.commit()
    raw.close()
    with pytest.raises(LedgerRefused, match=r"refused: position:1 \(btc\) is closed; margin cannot leave a position "
                                            r"that is not open \(moving 7 out of it; it holds 7\)"):
        desk.transfer(Decimal(7), position_ref(pid), free_ref(account), kind="x", ts=6.0, account_id=account)
    with pytest.raises(LedgerRefused, match=r"position:1 \(btc\) is closed; it takes no more margin \(moving 1 into "
                                            r"it; it holds 7\)"):
        desk.transfer(Decimal(1), free_ref(account), position_ref(pid), kind="x", ts=6.0, account_id=account)


def test_a_free_balance_never_goes_below_zero(two):
    a, b, account, pid = two(Decimal(40000))
    seen = a.free_balance(account)
    assert seen == Decimal(10000)
    b.transfer(Decimal(6000), free_ref(account), EXTERNAL, kind="withdrawal", ts=3.0, account_id=account)
    with pytest.raises(LedgerRefused, match=r"refused: free:1 holds 4000; moving 6000 out of it would leave -2000, "
                                            r"and a free balance never goes below 0"):
        a.transfer(Decimal(6000), free_ref(account), position_ref(pid), kind="add_margin", ts=4.0, account_id=account)
    a.transfer(Decimal(4000), free_ref(account), position_ref(pid), kind="add_margin", ts=4.0, account_id=account)
    assert a.free_balance(account) == 0  # exactly to zero is allowed


def test_pnl_and_external_may_go_negative(book):
    store, account, pid = book
    store.transfer(Decimal(5), pnl_ref(account.id), free_ref(account.id), kind="close_profit", ts=9,
                   account_id=account.id, position_id=pid)  # fmt: skip
    assert store.realized_loss(account.id) == Decimal(-5)
    assert store.balance(EXTERNAL) == Decimal(-10000)


def test_balances_stay_exact_across_checkpoints(book):
    store, account, pid = book
    for step in range(3 * CHECKPOINT_EVERY + 5):
        source, dest = (free_ref(account.id), position_ref(pid)) if step % 3 else (position_ref(pid),
                                                                                    free_ref(account.id))
        store.transfer(Decimal("0.01") * (step % 7 + 1), source, dest, kind="move", ts=10.0 + step,
                       account_id=account.id)
    rows = dict(store.db.execute("SELECT ref, through_id FROM balance_checkpoints").fetchall())
    assert set(rows) >= {free_ref(account.id), position_ref(pid)}
    full = store.balances()
    for ref in (free_ref(account.id), position_ref(pid), EXTERNAL):
        assert store.balance(ref) == full[ref]
    assert sum(full.values()) == 0
    assert check_book(store.path).ok


def test_a_rolled_back_transfer_takes_its_checkpoint_with_it(book):
    store, account, pid = book
    for step in range(CHECKPOINT_EVERY - 3):
        store.transfer(Decimal(1), free_ref(account.id), position_ref(pid), kind="move", ts=float(step),
                       account_id=account.id)
    with pytest.raises(RuntimeError), store.transaction():
        for step in range(5):  # crosses the checkpoint threshold inside the transaction
            store.transfer(Decimal(1), free_ref(account.id), position_ref(pid), kind="move", ts=float(step),
                           account_id=account.id)
        assert store.db.execute("SELECT count(*) FROM balance_checkpoints").fetchone()[0] > 0
        raise RuntimeError("crash")
    assert store.db.execute("SELECT count(*) FROM balance_checkpoints").fetchone()[0] == 0
    assert store.balance(position_ref(pid)) == Decimal("1250.5") + CHECKPOINT_EVERY - 3
    assert check_book(store.path).ok


def test_ledger_ids_only_grow(book):
    store, _, _ = book
    insert = ("INSERT INTO ledger (id, ts, kind, amount, source, dest, account_id) "
              "VALUES (?, 1, 'x', '1', 'external', 'free:1', 1)")
    store.db.execute(insert, [100])
    with pytest.raises(sqlite3.IntegrityError, match="cannot be inserted before a later one"):
        store.db.execute(insert, [50])


def test_a_balance_reads_only_its_own_entries_through_the_indexes(book):
    store, _, _ = book
    for sql in ("SELECT id, amount FROM ledger WHERE dest = ? AND id > ?",
                "SELECT id, amount FROM ledger WHERE source = ? AND id > ?"):
        plan = " ".join(r[3] for r in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", ["free:1", 0]).fetchall())
        assert "USING INDEX ledger_" in plan and "SCAN" not in plan, plan
