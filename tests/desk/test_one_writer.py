"""One writer per book across processes (issue 10, findings 1–4): opening never moves money, a second
desk is refused, commands from another process go through the running desk's queue and are answered
there, the desk follows every change to its file, and a failed step is counted, shown and recovered.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
from decimal import Decimal

import pytest

from isodesk.cli.deliver import send
from isodesk.desk import AddCollateral, Deposit, Desk, EventKind, Withdraw
from isodesk.desk.commands import RemoveCollateral, Reply
from isodesk.desk.session import DeskConfig, open_desk
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.desk.writer import BookBusy
from isodesk.store import Store, command_log
from isodesk.store.ledger import position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed

CATALOG = shipped_catalog()


def _demo(tmp_path, ts: float | None = None) -> str:
    path = tmp_path / "book.db"
    open_book(path, demo=True, ts=time.time() if ts is None else ts).close()
    return str(path)


def _liquidations(db: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT position_id, amount FROM ledger WHERE kind = 'liquidation'").fetchall()


def _sol_long(store: Store):
    return next(r for r in store.positions() if r.label == "sol-degen-long")


def _price_past_liquidation(db: str, store: Store, *, ts: float) -> None:
    """Another program writes a fresh SOL price far below the SOL long's liquidation price."""
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO prices (ts, symbol, price, source) VALUES (?, 'SOLUSDT', 1.0, 'elsewhere')", [ts])


def test_building_a_desk_never_liquidates(tmp_path):
    """Finding 1: a stored price past a liquidation price is not acted on when a desk is built."""
    db = _demo(tmp_path)
    store = Store.open(db)
    _price_past_liquidation(db, store, ts=time.time())
    desk = Desk(store, None, catalog=CATALOG)
    try:
        assert desk.apply(Deposit(Decimal("1"), account="binance-usdm:USDT")).accepted
        assert _sol_long(store).status == "open"
    finally:
        desk.close()
    assert _liquidations(db) == []


def test_cli_deposit_does_not_liquidate(tmp_path, capsys):
    """Finding 1 as the trader met it: `isodesk deposit` after a fresh price past liquidation."""
    from isodesk.cli import main

    db = _demo(tmp_path)
    store = Store.open(db)
    _price_past_liquidation(db, store, ts=time.time())
    store.close()
    assert main(["deposit", "1", "--account", "binance-usdm:USDT", "--db", db]) == 0
    assert "deposited 1 USDT" in capsys.readouterr().out
    assert _liquidations(db) == []


def test_only_a_fresh_tick_in_step_liquidates(tmp_path):
    db = _demo(tmp_path)
    clock = ManualClock(time.time())
    feed = ScriptedFeed()
    store = Store.open(db)
    _price_past_liquidation(db, store, ts=clock.now)
    desk = Desk(store, feed, catalog=CATALOG, clock=clock)
    try:
        desk.step()
        assert _liquidations(db) == [], "a stored price is not a fresh tick"
        sol = _sol_long(store)
        row = desk.book.row_of(sol.id)
        liq = float(desk.snapshot.cols["liquidation_price"][row])
        feed.push("SOLUSDT", liq * 0.99, clock.advance(1))
        desk.step()
        assert [pid for pid, _ in _liquidations(db)] == [sol.id]
    finally:
        desk.close()


def test_a_second_writer_is_refused_and_a_second_app_only_reads(tmp_path):
    """Finding 3: two desks on one book. The second is told who holds it and cannot write."""
    db = _demo(tmp_path)
    first = Desk(Store.open(db), None, catalog=CATALOG, program="the isodesk app")
    try:
        with pytest.raises(BookBusy, match="the isodesk app"):
            Desk(Store.open(db), None, catalog=CATALOG)
        second = open_desk(DeskConfig(db=db, feed="simulated"))
        try:
            assert not second.writer and "open for writing in the isodesk app" in second.writer_note
            assert second.feed is None
            result = second.apply(Withdraw(Decimal("1"), account="binance-usdm:USDT"))
            assert not result.accepted and "only reads the book" in result.reason
            assert second.snapshot.writer is False
        finally:
            second.close()
    finally:
        first.close()
    again = Desk(Store.open(db), None, catalog=CATALOG)  # the lock went with the first desk
    again.close()


def _args(db: str) -> argparse.Namespace:
    return argparse.Namespace(db=db, demo=False, request_id=None)


def _serve_until(desk: Desk, done: threading.Event, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done.is_set() and time.monotonic() < deadline:
        desk.step()
        time.sleep(0.01)


def _send_in_thread(db: str, command, out: list) -> threading.Event:
    done = threading.Event()

    def run() -> None:
        try:
            out.append(send(_args(db), command))
        except BaseException as exc:  # the test asserts on it
            out.append(exc)
        finally:
            done.set()
    threading.Thread(target=run, daemon=True).start()
    return done


def test_a_command_from_another_process_is_answered_by_the_running_desk(tmp_path):
    """Finding 4: the app's figures and the command's answer agree at once."""
    db = _demo(tmp_path)
    desk = Desk(Store.open(db), ScriptedFeed(), catalog=CATALOG, program="the isodesk app")
    try:
        before = next(a for a in desk.snapshot.accounts if a.name == "binance-usdm:USDT").free_balance
        out: list = []
        done = _send_in_thread(db, Withdraw(Decimal("11000"), account="binance-usdm:USDT"), out)
        _serve_until(desk, done)
        assert out and out[0].accepted, out
        after = next(a for a in desk.snapshot.accounts if a.name == "binance-usdm:USDT").free_balance
        assert after == pytest.approx(before - 11000, abs=1e-9)
        # the same amount again is more than is free: refused by the desk, answered in the queue
        out.clear()
        done = _send_in_thread(db, Withdraw(Decimal(str(after + 1)), account="binance-usdm:USDT"), out)
        _serve_until(desk, done)
        assert out and not out[0].accepted and "more than the free balance" in out[0].reason
    finally:
        desk.close()


def test_two_removals_through_one_desk_cannot_both_pass(tmp_path):
    """Finding 3: two removals of nearly the limit, one from the app, one from another process."""
    db = _demo(tmp_path)
    clock = ManualClock(time.time())
    feed = ScriptedFeed()
    desk = Desk(Store.open(db), feed, catalog=CATALOG, clock=clock, program="the isodesk app")
    try:
        for market, price in {"BTCUSDT": 60000.0}.items():
            feed.push(market, price, clock.now)
        desk.step()
        row = int(desk.snapshot.order_by_risk[-1])
        open_rows = [r for r in range(len(desk.snapshot)) if desk.snapshot.book.statuses[r] == "open"
                     and desk.snapshot.book.symbols[r] == "BTCUSDT" and desk.snapshot.cols["max_removable"][r] > 1]
        row = open_rows[0]
        pid = int(desk.snapshot.book.position_ids[row])
        limit = Decimal(str(desk.snapshot.cols["max_removable"][row])).quantize(Decimal("0.01")) - Decimal("0.01")
        margin_before = desk.store.balance(position_ref(pid))
        out: list = []
        done = _send_in_thread(db, RemoveCollateral(pid, limit), out)
        first = desk.apply(RemoveCollateral(pid, limit))
        _serve_until(desk, done)
        answers = [first.accepted, out[0].accepted]
        assert answers.count(True) == 1, (first, out)
        assert desk.store.balance(position_ref(pid)) == margin_before - limit
    finally:
        desk.close()


def test_the_desk_follows_changes_written_elsewhere(tmp_path):
    """Finding 4: a change written to the file by another program shows in the next step, with its alert."""
    db = _demo(tmp_path)
    desk = Desk(Store.open(db), ScriptedFeed(), catalog=CATALOG)
    try:
        desk.drain_events()
        with sqlite3.connect(db) as conn:
            conn.execute("INSERT INTO alerts (ts, position_id, level, kind, message) "
                         "VALUES (?, NULL, 'warning', 'note', 'written by another program')", [time.time()])
        desk.step()
        events = desk.drain_events()
        assert [e.message for e in events if e.kind is EventKind.EXTERNAL] == ["written by another program"]
    finally:
        desk.close()


def test_an_observer_follows_the_writer_within_a_step(tmp_path):
    """Finding 4: a read-only window sees the writer's withdrawal at its next step."""
    db = _demo(tmp_path)
    writer = Desk(Store.open(db), None, catalog=CATALOG)
    observer = Desk(Store.open(db), None, catalog=CATALOG, observe_only=True)
    try:
        free = {a.name: a.free_balance for a in observer.snapshot.accounts}
        assert writer.apply(Withdraw(Decimal("11000"), account="binance-usdm:USDT")).accepted
        observer.step()
        now = {a.name: a.free_balance for a in observer.snapshot.accounts}
        assert now["binance-usdm:USDT"] == pytest.approx(free["binance-usdm:USDT"] - 11000)
    finally:
        observer.close()
        writer.close()


def test_a_retried_request_id_runs_once(tmp_path):
    """Finding 2: a command whose answer was lost is answered again, never executed twice."""
    db = _demo(tmp_path)
    desk = Desk(Store.open(db), None, catalog=CATALOG)
    try:
        command = Deposit(Decimal("5"), account="binance-usdm:USDT")
        first = desk.apply(command)
        again = desk.apply(command)
        assert first.accepted and first.reply is Reply.ACCEPTED
        assert again.accepted and again.reply is Reply.REPEATED and again.ledger_entry_id == first.ledger_entry_id
        assert len(desk.store.ledger(request_id=command.request_id)) == 1
    finally:
        desk.close()


def test_a_failed_step_is_counted_shown_and_recovered(tmp_path, monkeypatch):
    """Finding 2: a failing step is not silent; the desk re-reads the book and carries on."""
    db = _demo(tmp_path)
    clock = ManualClock(time.time())
    feed = ScriptedFeed()
    desk = Desk(Store.open(db), feed, catalog=CATALOG, clock=clock)
    try:
        # another program liquidates a position behind the desk's back (what a second writer did)
        sol = _sol_long(desk.store)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE positions SET status = 'closed', closed_at = 1 WHERE id = ?", [sol.id])
        feed.push("SOLUSDT", 1.0, clock.advance(1))
        desk.step()  # follows the change first: no attempt to liquidate a closed position
        assert desk.failures == 0
        row = desk.book.row_of(sol.id)  # kept as a closed row (desk/book.py RECENT_CLOSED), not open
        assert row is not None and not desk.book.open_rows[row] and desk.book.info.statuses[row] == "closed"
        calls = {"n": 0}
        real = desk.store.write_alerts  # a step's alerts, liquidations' included, are written in one batch

        def failing(*args, **kw):
            calls["n"] += 1
            raise sqlite3.OperationalError("disk I/O error")
        monkeypatch.setattr(desk.store, "write_alerts", failing)
        feed.push("BTCUSDT", 30000.0, clock.advance(1))
        with pytest.raises(sqlite3.OperationalError):
            desk.step()
        assert calls["n"] == 1
        monkeypatch.setattr(desk.store, "write_alerts", real)  # the disk is back
        snap = desk.recover("OperationalError: disk I/O error")
        assert snap.failures == 1 and "disk I/O error" in snap.last_failure
        assert EventKind.FAILURE in [e.kind for e in desk.drain_events()]
        assert desk.apply(AddCollateral(int(desk.book.info.position_ids[0]), Decimal("1"))).reply in (
            Reply.ACCEPTED, Reply.REJECTED)
    finally:
        desk.close()


def test_queued_command_expires_unrun(tmp_path):
    db = _demo(tmp_path)
    store = Store.open(db)
    command_log.submit(store, request_id="r1", kind="Deposit", body={"amount": "5", "account":
                       "binance-usdm:USDT"}, origin="test", ts=0.0, expires_at=1.0)
    store.close()
    desk = Desk(Store.open(db), None, catalog=CATALOG)
    try:
        assert desk.process_queue() == []
        assert command_log.find(desk.store, "r1").state == "expired"
        assert desk.store.ledger(request_id="r1") == []
    finally:
        desk.close()


def test_a_wick_through_the_liquidation_price_within_one_step_liquidates(tmp_path):
    """Every tick of a step counts: a low through a long's liquidation price acts even when the step's
    last price is back above it; it is liquidated at the low."""
    db = _demo(tmp_path)
    clock = ManualClock(time.time())
    feed = ScriptedFeed()
    desk = Desk(Store.open(db), feed, catalog=CATALOG, clock=clock)
    try:
        sol = _sol_long(desk.store)
        row = desk.book.row_of(sol.id)
        liq = float(desk.snapshot.cols["liquidation_price"][row])
        entry = float(desk.book.batch.entry[row])
        feed.push("SOLUSDT", liq * 0.995, clock.advance(1))
        feed.push("SOLUSDT", entry, clock.advance(0.1))
        desk.step()
        assert _liquidations(db) and _liquidations(db)[0][0] == sol.id
        assert desk.store.position(sol.id).close_price == Decimal(repr(liq * 0.995))
    finally:
        desk.close()


def test_a_lone_bad_stored_price_is_not_a_mark_and_the_app_does_not_act_on_it(tmp_path):
    """Finding 5: one bad row another program writes into `prices` (SOL at 1.0 after ~150) is not the
    mark the desk shows or the simulated feed starts from; a move the next stored row confirms is."""
    from isodesk.desk.session import starting_prices

    db = _demo(tmp_path)
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO prices (ts, symbol, price, source) VALUES (?, 'SOLUSDT', 1.0, 'x')", [now])
    store = Store.open(db)
    try:
        stored_sol = store.latest_prices(now=now + 1)["SOLUSDT"][1]
        assert stored_sol == 1.0
        assert starting_prices(store)["SOLUSDT"] > 100
        desk = open_desk(DeskConfig(db=db, feed="simulated"))
        try:
            desk.step()
            sol = _sol_long(desk.store)
            assert desk.market_price("binance-usdm", "SOLUSDT") > 100
            assert desk.store.position(sol.id).status == "open"
        finally:
            desk.close()
    finally:
        store.close()
    (tmp_path / "confirmed").mkdir()
    other = _demo(tmp_path / "confirmed")  # a fall the next stored row confirms is the mark
    with sqlite3.connect(other) as conn:
        conn.executemany("INSERT INTO prices (ts, symbol, price, source) VALUES (?, 'SOLUSDT', ?, 'x')",
                         [(now, 1.0), (now + 1, 1.1)])
    store = Store.open(other)
    try:
        assert starting_prices(store)["SOLUSDT"] == 1.1
    finally:
        store.close()
