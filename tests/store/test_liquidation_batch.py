"""A step's liquidations written at once (:mod:`isodesk.store.liquidations`, issue 13) against the per-row
calls the desk made before: the same random books liquidated both ways on two copies of one file give
the same rows in every table (values, SQLite types, rowids), and a refused or failing batch leaves the
file as it was."""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from isodesk.store import EXTERNAL, LedgerRefused, Store, StoreError, free_ref, pnl_ref, position_ref
from isodesk.store.db import copy_database
from isodesk.store.integrity import check_book
from isodesk.store.liquidations import Liquidation
from isodesk.store.store import CHECKPOINT_EVERY

TS = 1_700_000_500.25


def _amount(rng: random.Random) -> Decimal:
    """A positive exact amount with a random number of decimals (0 to 12) and size."""
    places = rng.randint(0, 12)
    units = rng.randint(1, 10 ** rng.randint(1, 9))
    return Decimal(units).scaleb(-places)


def _book(path: Path, rng: random.Random) -> list[tuple[int, int, float]]:
    """A random book at ``path``: 1–3 accounts, positions with random margins (some none, some with
    long histories near a balance checkpoint), PnL refs with random histories. Returns the
    positions to liquidate as ``(position_id, account_id, crossing mark)`` in a random order."""
    store = Store.open(path)
    orders: list[tuple[int, int, float]] = []
    with store.transaction():
        accounts = [store.create_account(f"acct-{i}", venue, "USDT", ts=1.0)
                    for i, venue in enumerate(rng.sample(["bybit", "binance-usdm", "okx"], rng.randint(1, 3)))]
        for account in accounts:
            store.transfer(Decimal("1e12"), EXTERNAL, free_ref(account.id), kind="deposit", ts=2.0,
                           account_id=account.id)
        n = rng.randint(1, 140)
        for i in range(n):
            account = rng.choice(accounts)
            pid = store.insert_position(label=f"p{i}", account_id=account.id, venue=account.venue, symbol="BTCUSDT",
                                        contract="linear", side=rng.choice(["long", "short"]),
                                        quantity=Decimal("0.5"), contract_size=None, entry_price=Decimal("60000"),
                                        leverage=Decimal("10"), ts=3.0)
            ref = position_ref(pid)
            if rng.random() < 0.1:  # never funded: holds nothing, liquidated without a ledger entry
                pass
            else:
                store.transfer(_amount(rng), free_ref(account.id), ref, kind="allocate", ts=4.0, account_id=account.id)
            if rng.random() < 0.04:  # a long history: the liquidation's entry may reach a checkpoint
                for k in range(rng.randint(CHECKPOINT_EVERY - 4, CHECKPOINT_EVERY)):
                    store.transfer(Decimal("0.5"), free_ref(account.id), ref, kind="add", ts=5.0 + k,
                                   account_id=account.id)
            if rng.random() < 0.15:  # a realized loss: the PnL ref's count since its checkpoint moves
                held = store.balance(ref)
                if held > 0:
                    store.transfer(held / 2, ref, pnl_ref(account.id), kind="close_loss", ts=6.0,
                                   account_id=account.id)
            if rng.random() < 0.9:
                orders.append((pid, account.id, rng.uniform(100, 100_000)))
    store.close()
    rng.shuffle(orders)
    return orders


def _memo(mark: float) -> str:
    return f"isolated liquidation at mark {mark:,.8g}"


def _before(mark: float, margin: Decimal) -> dict[str, Any]:
    return {"mark": mark, "isolated_margin": float(margin), "liquidation_price": mark * 0.99, "margin_ratio": None,
            "distance_frac": 0.0, "effective_leverage": 12.5}


def _after(mark: float) -> dict[str, Any]:
    return {"mark": mark, "isolated_margin": 0.0}


def per_row(store: Store, orders: list[tuple[int, int, float]]) -> None:
    """What the desk wrote before issue 13, call by call (one transaction)."""
    with store.transaction():
        for pid, account_id, mark in orders:
            margin = store.balance(position_ref(pid))
            if margin > 0:
                entry = store.transfer(margin, position_ref(pid), pnl_ref(account_id), kind="liquidation", ts=TS,
                                       account_id=account_id, memo=_memo(mark))
                store.add_journal(ts=TS, position_id=pid, account_id=account_id, ledger_id=entry, kind="liquidation",
                                  amount=margin, before=_before(mark, margin), after=_after(mark),
                                  reason="liquidated by the venue")
            store.set_position_status(pid, "liquidated", ts=TS, close_price=Decimal(repr(mark)))


def _items(store: Store, orders: list[tuple[int, int, float]]) -> list[Liquidation]:
    margins = store.position_margins(pid for pid, _, _ in orders)
    return [Liquidation(position_id=pid, account_id=account_id, margin=margins[pid],
                        close_price=Decimal(repr(mark)), memo=_memo(mark),
                        before=_before(mark, margins[pid]) if margins[pid] > 0 else {}, after=_after(mark),
                        reason="liquidated by the venue") for pid, account_id, mark in orders]


def batched(store: Store, orders: list[tuple[int, int, float]], cuts: list[int]) -> None:
    """The same with :meth:`Store.liquidate_positions`, in the segments ``cuts`` makes (the desk cuts a
    step where a partial liquidation falls), in one transaction."""
    with store.transaction():
        for start, end in zip([0, *cuts], [*cuts, len(orders)], strict=True):
            store.liquidate_positions(_items(store, orders[start:end]), ts=TS)


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, with its rowid and each value's SQLite type."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {}
        for table in tables:
            names = [d[1] for d in conn.execute(f"PRAGMA table_info({table})")]
            typed = ", ".join(f"typeof({n}), {n}" for n in names)
            out[table] = conn.execute(f"SELECT rowid, {typed} FROM {table} ORDER BY rowid").fetchall()
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("seed", range(8))
def test_a_batch_writes_exactly_what_the_per_row_calls_write(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "book.db"
    orders = _book(path, rng)
    one, two = tmp_path / "per_row.db", tmp_path / "batch.db"
    copy_database(path, one)
    copy_database(path, two)
    cuts = sorted(rng.sample(range(1, len(orders)), min(3, max(len(orders) - 1, 0)))) if len(orders) > 1 else []
    with Store.open(one) as store:
        per_row(store, orders)
    with Store.open(two) as store:
        batched(store, orders, cuts)
    before, after_rows, after_batch = dump(path), dump(one), dump(two)
    assert after_batch == after_rows
    # the run did write what a liquidation writes, and the book is sound
    liquidated = {pid for pid, _, _ in orders}
    statuses = {row[0]: row[24] for row in after_batch["positions"]}  # rowid, then (typeof, value) per column
    assert {pid for pid, status in statuses.items() if status == "liquidated"} == liquidated
    with Store.open(path) as original:
        funded = [pid for pid, held in original.position_margins(liquidated).items() if held > 0]
    assert len(after_batch["ledger"]) - len(before["ledger"]) == len(funded)
    assert len(after_batch["journal"]) - len(before["journal"]) == len(funded)
    report = check_book(two)
    assert report.ok, report.findings
    with Store.open(two) as store:
        balances = store.balances()
        assert sum(balances.values(), Decimal(0)) == 0
        assert all(store.balance(position_ref(pid)) == 0 for pid in liquidated)
        # the one-pass reads the desk refreshes its rows with are the per-row reads
        some = [*sorted(rng.sample(sorted(liquidated), len(liquidated) // 2)), 10_000]  # and one that is not there
        assert store.positions_by_id(some) == {pid: store.position(pid) for pid in some[:-1]}
        assert store.position_ledgers(some) == sorted((e for pid in some for e in store.ledger(position_id=pid)),
                                                      key=lambda e: e.id)
        assert store.position_margins(some) == {pid: store.balance(position_ref(pid)) for pid in some}


def test_checkpoints_are_written_where_the_per_row_transfers_write_them(tmp_path):
    """Enough liquidations into one PnL ref to cross several checkpoints, and a position one entry short of one."""
    path = tmp_path / "book.db"
    store = Store.open(path)
    with store.transaction():
        account = store.create_account("a", "bybit", "USDT", ts=1.0)
        store.transfer(Decimal("1e9"), EXTERNAL, free_ref(account.id), kind="deposit", ts=2.0, account_id=account.id)
        orders = []
        for i in range(3 * CHECKPOINT_EVERY + 5):
            pid = store.insert_position(label=f"p{i}", account_id=account.id, venue="bybit", symbol="ETHUSDT",
                                        contract="linear", side="long", quantity=Decimal("1"), contract_size=None,
                                        entry_price=Decimal("3000"), leverage=Decimal("5"), ts=3.0)
            store.transfer(Decimal(f"{i + 1}.{i:03d}"), free_ref(account.id), position_ref(pid), kind="allocate",
                           ts=4.0, account_id=account.id)
            orders.append((pid, account.id, 2000.0 + i))
        for k in range(CHECKPOINT_EVERY - 2):
            store.transfer(Decimal("0.25"), free_ref(account.id), position_ref(orders[7][0]), kind="add", ts=5.0 + k,
                           account_id=account.id)
    store.close()
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    copy_database(path, one)
    copy_database(path, two)
    with Store.open(one) as s:
        per_row(s, orders)
    with Store.open(two) as s:
        batched(s, orders, [])
    got, want = dump(two), dump(one)
    assert got == want
    checkpoints = {row[2]: (row[4], row[6]) for row in got["balance_checkpoints"]}  # ref → (through_id, balance)
    assert position_ref(orders[7][0]) in checkpoints
    # its 64th entry (an allocation of 8.007, 62 additions of 0.25, the liquidation) emptied it
    assert checkpoints[position_ref(orders[7][0])][1] == "0.000"
    assert pnl_ref(account.id) in checkpoints


def _small_book(store: Store) -> tuple[int, list[int]]:
    account = store.create_account("a", "bybit", "USDT", ts=1.0)
    store.transfer(Decimal("1000"), EXTERNAL, free_ref(account.id), kind="deposit", ts=2.0, account_id=account.id)
    pids = []
    for i, margin in enumerate(("100", "250.75", "0.00000001")):
        pid = store.insert_position(label=f"p{i}", account_id=account.id, venue="bybit", symbol="BTCUSDT",
                                    contract="linear", side="long", quantity=Decimal("0.1"), contract_size=None,
                                    entry_price=Decimal("60000"), leverage=Decimal("10"), ts=3.0)
        store.transfer(Decimal(margin), free_ref(account.id), position_ref(pid), kind="allocate", ts=4.0,
                       account_id=account.id)
        pids.append(pid)
    return account.id, pids


def _orders(account_id: int, pids: list[int]) -> list[tuple[int, int, float]]:
    return [(pid, account_id, 50_000.0 + pid) for pid in pids]


def test_a_position_closed_meanwhile_refuses_the_whole_batch(tmp_path):
    """Another process closed a position after the desk decided: nothing of the batch is written,
    with the message the per-row call gives, and the position is not liquidated twice."""
    path = tmp_path / "book.db"
    with Store.open(path) as store:
        account_id, pids = _small_book(store)
        items = _items(store, _orders(account_id, pids))
        # closed elsewhere: its margin moved out, then its status
        store.transfer(Decimal("250.75"), position_ref(pids[1]), free_ref(account_id), kind="release", ts=5.0,
                       account_id=account_id)
        store.set_position_status(pids[1], "closed", ts=5.0, close_price=Decimal("61000"))
        before = dump(path)
        with pytest.raises(LedgerRefused, match=r"position:2 \(p1\) holds 0\.00, not the 250\.75 "):
            store.liquidate_positions(items, ts=TS)
        assert dump(path) == before
        # read again, it is refused as set_position_status refuses it: already closed
        with pytest.raises(StoreError, match=r"position 'p1' is already closed"):
            store.liquidate_positions(_items(store, _orders(account_id, pids)), ts=TS)
        assert dump(path) == before
        # and liquidated once, by a batch without it
        store.liquidate_positions(_items(store, _orders(account_id, [pids[0], pids[2]])), ts=TS)
        assert [p.status for p in store.positions(statuses=None)] == ["liquidated", "closed", "liquidated"]
        with pytest.raises(StoreError, match=r"position 'p0' is already liquidated"):
            store.liquidate_positions(_items(store, _orders(account_id, [pids[0]])), ts=TS + 1)
        assert len(store.ledger(position_id=pids[0])) == 2  # its allocation and one liquidation


def test_bad_arguments_are_refused_before_anything_is_read(tmp_path):
    with Store.open(tmp_path / "book.db") as store:
        account_id, pids = _small_book(store)
        items = _items(store, _orders(account_id, pids))
        with pytest.raises(ValueError, match=r"position 1 is listed twice"):
            store.liquidate_positions([items[0], items[0]], ts=TS)
        with pytest.raises(ValueError, match=r"close_price must be positive, got 0"):
            store.liquidate_positions([Liquidation(**{**_fields(items[0]), "close_price": Decimal(0)})], ts=TS)
        with pytest.raises(ValueError, match=r"margin of position 1 must be a finite decimal.Decimal"):
            store.liquidate_positions([Liquidation(**{**_fields(items[0]), "margin": 100.0})], ts=TS)
        with pytest.raises(StoreError, match=r"no account with id 9"):
            store.liquidate_positions([Liquidation(**{**_fields(items[0]), "account_id": 9})], ts=TS)
        other = store.create_account("b", "okx", "USDT", ts=1.0)
        with pytest.raises(ValueError, match=rf"source 'position:1' belongs to another account than {other.id}"):
            store.liquidate_positions([Liquidation(**{**_fields(items[0]), "account_id": other.id})], ts=TS)
        assert {p.status for p in store.positions(statuses=None)} == {"open"}
        assert store.liquidate_positions([], ts=TS) == []


def _fields(item: Liquidation) -> dict[str, Any]:
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}


def test_a_failure_in_the_middle_rolls_every_row_back(tmp_path):
    """The statuses' statement fails after the ledger and journal rows went in: none of them stays."""
    path = tmp_path / "book.db"
    with Store.open(path) as store:
        account_id, pids = _small_book(store)
        before = dump(path)
        store.db.conn.execute(f"CREATE TEMP TRIGGER fail BEFORE UPDATE ON positions WHEN NEW.id = {pids[2]} "
                              "BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
        with pytest.raises(sqlite3.IntegrityError, match="injected failure"), store.transaction():
            store.liquidate_positions(_items(store, _orders(account_id, pids)), ts=TS)
        assert not store.db.conn.in_transaction
        assert dump(path) == before
        store.db.conn.execute("DROP TRIGGER temp.fail")
        ids = store.liquidate_positions(_items(store, _orders(account_id, pids)), ts=TS)
        assert ids == [before["ledger"][-1][0] + k for k in (1, 2, 3)]
        assert store.realized_loss(account_id) == Decimal("350.75000001")
