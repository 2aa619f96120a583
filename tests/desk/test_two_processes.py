"""Two processes on one book (issue 10, proof): the app's desk and the command line interleaved, and the
command path killed with SIGKILL. After every step: the ledger sums to zero, no margin or free balance
is negative, every acknowledged command is in the book exactly once, and the app shows what the
book holds.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.cli.deliver import send
from isodesk.desk import AddCollateral, Deposit, Desk, RemoveCollateral, Withdraw
from isodesk.desk.commands import Reply
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.store import Store
from isodesk.store.ledger import free_ref, position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed

CATALOG = shipped_catalog()
ACCOUNT = "binance-usdm:USDT"


def _args(db: str) -> argparse.Namespace:
    return argparse.Namespace(db=db, demo=False, request_id=None)


def _via_cli(desk: Desk, db: str, command) -> object:
    """Send ``command`` as the command line does, while the 'app' keeps stepping its desk."""
    out: list = []
    done = threading.Event()

    def run() -> None:
        try:
            out.append(send(_args(db), command))
        except BaseException as exc:  # asserted below
            out.append(exc)
        finally:
            done.set()
    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not done.is_set() and time.monotonic() < deadline:
        desk.step()
        time.sleep(0.005)
    assert out, "the command line got no answer"
    assert not isinstance(out[0], BaseException), out[0]
    return out[0]


def check_invariants(desk: Desk, db: str, acknowledged: list) -> None:
    """The book's invariants, read fresh from the file, and the app's figures against them."""
    fresh = Store.open(db)
    try:
        balances = fresh.balances()
        assert sum(balances.values(), Decimal(0)) == 0
        for ref, amount in balances.items():
            if ref.startswith(("free:", "position:")):
                assert amount >= 0, (ref, amount)
        for result in acknowledged:
            assert len(fresh.ledger(request_id=result.request_id)) == 1, result
        account = fresh.account(ACCOUNT)
        assert account is not None
        shown = next(a for a in desk.snapshot.accounts if a.name == ACCOUNT)
        assert shown.free_balance == float(fresh.balance(free_ref(account.id)))
        for row, pid in enumerate(desk.snapshot.book.position_ids):
            if desk.snapshot.book.statuses[row] == "open":
                assert desk.snapshot.cols["isolated_margin"][row] == float(fresh.balance(position_ref(int(pid))))
    finally:
        fresh.close()


operations = st.lists(st.tuples(st.sampled_from(["app", "cli"]),
                                st.sampled_from(["deposit", "withdraw", "add", "remove", "tick"]),
                                st.decimals(min_value=Decimal("0.01"), max_value=Decimal("30000"), places=2),
                                st.integers(min_value=0, max_value=12)),
                      min_size=1, max_size=8)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_app_and_command_line_interleaved(tmp_path_factory, ops):
    db = str(tmp_path_factory.mktemp("two") / "book.db")
    open_book(db, demo=True, ts=time.time()).close()
    clock = ManualClock(time.time())
    feed = ScriptedFeed()
    desk = Desk(Store.open(db), feed, catalog=CATALOG, clock=clock, program="the isodesk app")
    acknowledged: list = []
    try:
        for market in desk.book.markets:
            row = int(desk.book.market_index.tolist().index(desk.book.markets.index(market)))
            feed.push(market, float(desk.book.batch.entry[row]), clock.now)
        desk.step()
        ids = [int(p) for r, p in enumerate(desk.snapshot.book.position_ids)
               if desk.snapshot.book.statuses[r] == "open" and desk.snapshot.book.accounts[r] == ACCOUNT]
        for who, what, amount, pick in ops:
            if what == "tick":
                market = desk.book.markets[pick % len(desk.book.markets)]
                last = desk.market_price("binance-usdm", market) or 1.0
                feed.push(market, last * (0.97 if pick % 2 else 1.03), clock.advance(1))
                desk.step()
                check_invariants(desk, db, acknowledged)
                continue
            pid = ids[pick % len(ids)]
            if what == "deposit":
                command = Deposit(amount, account=ACCOUNT)
            elif what == "withdraw":
                command = Withdraw(amount, account=ACCOUNT)
            elif what == "add":
                command = AddCollateral(pid, amount)
            else:
                command = RemoveCollateral(pid, amount)
            result = desk.apply(command) if who == "app" else _via_cli(desk, db, command)
            assert result.reply in (Reply.ACCEPTED, Reply.REJECTED), result
            if result.accepted:
                acknowledged.append(result)
            desk.step()
            check_invariants(desk, db, acknowledged)
    finally:
        desk.close()


_APP = textwrap.dedent("""
    import sys, time
    from isodesk.desk import Desk
    from isodesk.desk.setup import shipped_catalog
    from isodesk.desk.writer import BookBusy
    from isodesk.store import Store
    while True:  # the command line may hold the book for a moment: try again
        store = Store.open(sys.argv[1])
        try:
            desk = Desk(store, None, catalog=shipped_catalog(), program="the isodesk app")
            break
        except BookBusy:
            store.close()
            time.sleep(0.005)
    print("ready", flush=True)
    while True:
        desk.step()
        time.sleep(0.002)
""")


def _start_app(db: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _APP, db], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_sigkill_of_the_running_desk_loses_or_doubles_no_command(tmp_path):
    """Commands from the command line while the app's desk is killed with SIGKILL, again and again:
    every acknowledged deposit is in the ledger exactly once, nothing else is, the file is intact."""
    db = str(tmp_path / "book.db")
    open_book(db, demo=True, ts=time.time()).close()
    app = _start_app(db)
    answers: list = []
    stop = threading.Event()

    def command_line() -> None:  # deposits of 1, 2, 3… one after another, whoever holds the book
        n = 0
        while not stop.is_set():
            n += 1
            answers.append(send(_args(db), Deposit(Decimal(n), account=ACCOUNT)))
    sender = threading.Thread(target=command_line, daemon=True)
    sender.start()
    try:
        for _ in range(2):
            time.sleep(0.4)
            app.send_signal(signal.SIGKILL)  # often while a command waits in the queue or runs
            app.wait()
            time.sleep(0.2)  # nobody holds the book: the command line runs its commands itself
            app = _start_app(db)
        time.sleep(0.3)
    finally:
        stop.set()
        sender.join(30)
        if app.poll() is None:
            app.send_signal(signal.SIGKILL)
            app.wait()
    sent = len(answers)
    assert sent > 10
    assert all(a.accepted for a in answers), [a for a in answers if not a.accepted]
    store = Store.open(db)
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        deposits = [e for e in store.ledger() if e.kind == "deposit" and e.request_id]
        assert sorted(e.request_id for e in deposits) == sorted(a.request_id for a in answers)
        assert sum(e.amount for e in deposits) == sum(Decimal(n) for n in range(1, sent + 1))
        assert sum(store.balances().values(), Decimal(0)) == 0
    finally:
        store.close()
