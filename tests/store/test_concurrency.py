"""Two connections on one file, as when another process feeds prices while the desk runs commands.

Both loops pause a millisecond between writes, as real ones do (a feed batches ticks; the desk runs
commands at a user's pace). Two writers that re-take the lock in a tight loop can starve each other
past ``busy_timeout``: SQLite's busy handler polls a held lock only every 100 ms after its first tries.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from isodesk.store import EXTERNAL, Store, free_ref, position_ref


def test_a_price_writer_and_the_desk_never_see_database_is_locked(book):
    store, account, pid = book
    errors: list[BaseException] = []
    written = []
    stop = threading.Event()

    def feed() -> None:
        try:
            with Store.open(store.path) as other:  # its own connection, in its own thread
                i = 0
                while not stop.is_set() or i < 50:
                    other.insert_prices([(float(i), "BTCUSDT", 50000.0 + i), (float(i), "ETHUSDT", 3000.0 + i)])
                    i += 1
                    time.sleep(0.001)
                written.append(i)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=feed)
    thread.start()
    try:
        for step in range(150):
            with store.transaction():  # read, then write, as a command does
                free = store.free_balance(account.id)
                assert free > 0
                store.transfer(Decimal("0.01"), free_ref(account.id), position_ref(pid), kind="topup", ts=step,
                               account_id=account.id)  # fmt: skip
            store.latest_prices()
            time.sleep(0.001)
            if step % 10 == 0:
                store.transfer(Decimal("1"), EXTERNAL, free_ref(account.id), kind="deposit", ts=step,
                               account_id=account.id)  # fmt: skip
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert store.max_price_id() == 2 * written[0]
    assert store.position(pid).isolated_margin == Decimal("1250.5") + Decimal("1.50")
    assert store.free_balance(account.id) == Decimal("8749.5") - Decimal("1.50") + 15
